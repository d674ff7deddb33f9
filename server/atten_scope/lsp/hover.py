"""The hover card: a token, what the model predicted after it, the code units and the tokens it draws
on, how faithful the view measured, and the settings used, as safe Markdown.

In the order of use: the prediction first, then the code units (definitions, lines, identifiers),
then the heaviest word-like tokens with the punctuation, whitespace and the token itself summed on
one line (``sources.fold_sources``), and the measured faithfulness as one short line (its full
sentence is in the status bar's tooltip; both come from ``evidence.view_faithfulness``)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from atten_scope.common.errors import AttenScopeError, ChangedSinceAnalysis
from atten_scope.engine.analysis import Analysis
from atten_scope.engine.tokens import enclosing_word, visible
from atten_scope.lsp.requests import run_against, target
from atten_scope.protocol.builders.attention import attention_json, attention_weights
from atten_scope.protocol.encode import token_at_position, token_json, unchanged_before
from atten_scope.protocol.params import Position
from atten_scope.protocol.sentences import prediction_sentence, settings_line, surprisal_sentence
from atten_scope.views.evidence import faithfulness_text
from atten_scope.views.sources import fold_sources
from atten_scope.views.units import line_label, parse_symbols

if TYPE_CHECKING:
    from atten_scope.lsp.server import AttenScopeServer

log = logging.getLogger(__name__)
HOVER_ROWS = 6  # word-like tokens listed under "Drew on"
UNIT_ROWS = 3  # definitions, lines and identifiers shown under "Draws most on"

_BACKTICKS = re.compile(r"`+")
# The extension's Show Information Flow and Pin Hover Card commands; its language client trusts
# these commands, and no others, in hover Markdown (extension/src/constants.ts, HOVER_COMMANDS).
FLOW_LINK = "command:attenScope.showFlow"
PIN_LINK = "command:attenScope.pinHoverCard"


def code_span(text: str, in_table: bool = False) -> str:
    """``text``, shown with ``tokens.visible`` (a label passes unchanged), as a CommonMark code span:
    no Markdown or HTML inside it is interpreted.

    The fence is one backtick longer than any run inside; in a GFM table ``|`` must still be
    escaped, because cells are split before code spans are parsed.
    """
    text = visible(text)
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def flow_link(
    uri: str, position: Mapping[str, int], text: str = "Show information flow", command: str = FLOW_LINK
) -> str:
    """A Markdown link that runs Show Information Flow (or ``command``) for the token at ``position``
    of ``uri``.

    The arguments are the command URI's query: the JSON array ``[uri, {line, character}]``,
    percent-encoded whole, so that no character of the document's URI can end the link or carry
    Markdown or HTML.
    """
    args = json.dumps(
        [uri, {"line": int(position["line"]), "character": int(position["character"])}],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return f"[{text}]({command}?{quote(args, safe='')})"


# Characters a URI keeps in a Markdown link's destination; every other one is percent-encoded, so
# that no character of a file's URI can end the link or carry Markdown or HTML.
_URI_SAFE = "/:%?&=+,;@!$~"


def file_link(uri: str, name: str, line: int | None, in_table: bool = False) -> str:
    """A Markdown link that opens context file ``uri`` at 0-based ``line`` (the editor reads the
    fragment ``#L<n>`` of a file URI as line n), its text ``name:n`` as a code span
    (``helpers.py:40``); without a line, the file's header: ``helpers.py`` header."""
    target = quote(uri, safe=_URI_SAFE)
    if line is None:
        return f"[{code_span(name, in_table)} header]({target})"
    return f"[{code_span(f'{name}:{line + 1}', in_table)}]({target}#L{line + 1})"


def _where(token: Mapping[str, Any], in_table: bool = False) -> str:
    """Where a listed token lies: its line in the document, or a link to its line in a context file."""
    line = int(token["range"]["start"]["line"])
    if "uri" not in token:
        return str(line + 1)
    return file_link(str(token["uri"]), str(token.get("name", "")), None if token.get("header") else line, in_table)


def hover_markdown(
    attention: dict[str, Any],
    model_id: str,
    rows: int,
    words: Mapping[int, str | None] | None = None,
    statements: Mapping[int, str] | None = None,
    uri: str | None = None,
) -> str:
    """Markdown for an ``attenScope/attention`` result (only numbers and code spans carry data).

    In the order of use: what the model predicted after the token and how surprising the token
    itself was; the code units it draws on ("Draws most on": ``units_markdown``); the tokens it
    draws on, from ``attention["sources"]`` (``sources_json``: word-like tokens, with the
    punctuation, whitespace and the token itself on one line; without it, ``targets`` as they
    are); the view's measured faithfulness as one short line; the settings. Tokens are shown by
    their labels; ``words`` names the word a token is a piece of (``il`` in ``nil``). With the
    document's ``uri``, the card ends with links to the token's information flow and to pin the card.
    """
    words = words or {}
    token = attention["token"]
    settings = attention.get("settings", {})
    line = token["range"]["start"]["line"] + 1
    attends = settings.get("direction") == "attendsTo"
    out = [f"**Atten-Scope** \u2014 {_shown(token, words)} (line {line})", ""]
    for extra in (
        prediction_sentence(attention.get("prediction"), code_span),
        surprisal_sentence(attention.get("surprisal"), code_span(token.get("label", token["text"]))),
    ):
        if extra:
            out += [extra, ""]
    out += units_markdown(
        attention.get("units"), attention.get("lines", []), statements or {}, attention.get("context")
    )
    out += ["Drew on:" if attends else "Is attended by:", ""]
    sources = attention.get("sources")
    listed = (sources["words"] if sources is not None else attention.get("targets", []))[:rows]
    if listed:
        out += ["| token | line | weight |", "| :-- | --: | --: |"]
        for target in listed:
            cell = _shown(target, words, in_table=True)
            out.append(f"| {cell} | {_where(target, in_table=True)} | {_percent(target['weight'])} |")
        out.append("")
    folded = folded_line(sources)
    if folded:
        out += [folded, ""]
    if not listed and not folded:
        out += ["*no attention outside the sink tokens*", ""]
    if attends:
        out += [f"*{faithfulness_text(attention.get('faithfulness'))}*", ""]
    out += [f"*{settings_line(settings)}* \u2014 {code_span(model_id)}"]
    if uri is not None:
        start = token["range"]["start"]
        out += ["", f"{flow_link(uri, start)} \u00b7 {flow_link(uri, start, 'Pin hover card', PIN_LINK)}"]
    return "\n".join(out)


def folded_line(sources: Mapping[str, Any] | None) -> str | None:
    """``+ 12 punctuation/whitespace tokens, 31.0% in all · the token itself 4.0%`` (``sources_json``),
    or None where nothing was folded. The ``+`` is escaped: at the start of a line it would open a list."""
    if not sources:
        return None
    parts = []
    if sources["folded"] > 0:
        plural = "" if sources["folded"] == 1 else "s"
        parts.append(
            f"\\+ {sources['folded']} punctuation/whitespace token{plural}, {_percent(sources['foldedWeight'])} in all"
        )
    if sources["own"] > 0:
        parts.append(f"the token itself {_percent(sources['own'])}")
    return " \u00b7 ".join(parts) or None


def sources_json(analysis: Analysis, weights: Any, token: int, rows: int) -> dict[str, Any]:
    """``sources.fold_sources`` of ``weights`` for the card: ``{words: [targets], folded,
    foldedWeight, own}``, each listed token as in ``targets`` (with its ``weight``)."""
    found = fold_sources(analysis.document, weights, token, rows)
    return {
        "words": [{**token_json(analysis, index), "weight": float(weights[index])} for index in found.words],
        "folded": found.folded,
        "foldedWeight": found.folded_weight,
        "own": found.own_weight,
    }


def units_markdown(
    units: dict[str, Any] | None,
    lines: Sequence[dict[str, Any]],
    statements: Mapping[int, str],
    context: Mapping[str, Any] | None = None,
) -> list[str]:
    """The "Draws most on" section, and a blank line after it: the UNIT_ROWS heaviest
    definitions (the editor's symbols or the parser's; blocks of lines with neither), lines of
    ``lines`` whose text ``statements`` holds (line -> text: ``heaviest_lines``) and identifiers
    (``re`` ×4: every occurrence of the name); with ``context`` (the attention answer's share of
    the context files), their heaviest lines (``context_row``)."""
    rows = []
    other = context_row(context)
    if not units:
        return ["**Draws most on**", "", other, ""] if other else []
    definitions = [
        f"{code_span(unit['label'])} (line {unit['range']['start']['line'] + 1}) {_percent(unit['weight'])}"
        for unit in units.get("definitions", [])[:UNIT_ROWS]
    ]
    real = units.get("source") in ("symbols", "syntax")  # the editor's definitions, or the parser's
    # "outside them" only beside a definition: alone it says nothing a reader can use.
    if real and definitions and units.get("outside", 0) > 0:
        definitions.append(f"outside them {_percent(units['outside'])}")
    if definitions:
        what = "definitions" if real else "blocks of lines"
        rows.append(f"- {what}: " + " · ".join(definitions))
    heaviest = [line for line in sorted(lines, key=lambda line: -line["weight"]) if line["line"] in statements]
    shown = [
        f"{code_span(statements[line['line']])} (line {line['line'] + 1}) {_percent(line['weight'])}"
        for line in heaviest[:UNIT_ROWS]
    ]
    if shown:
        rows.append("- lines: " + " · ".join(shown))
    names = [
        f"{code_span(unit['name'])} ×{unit['count']} {_percent(unit['weight'])}"
        for unit in units.get("identifiers", [])[:UNIT_ROWS]
    ]
    if names:
        rows.append("- identifiers: " + " · ".join(names))
    if other:
        rows.append(other)
    return ["**Draws most on**", "", *rows, ""] if rows else []


def context_row(context: Mapping[str, Any] | None) -> str | None:
    """``- other files: `helpers.py:40` `def parse` 21.0% · ...``: the UNIT_ROWS heaviest lines of
    the context files, each a link that opens the file at that line, with the definition that
    holds it (else its text), then the files' share in all; None where no context weighs."""
    if not context or context.get("weight", 0) <= 0:
        return None
    shown = []
    for line in context.get("lines", [])[:UNIT_ROWS]:
        what = line.get("definition") or line.get("text")
        reads = f" {code_span(what)}" if what else ""
        shown.append(f"{file_link(line['uri'], line['name'], line['line'])}{reads} {_percent(line['weight'])}")
    shown.append(f"all context files {_percent(context['weight'])}")
    return "- other files: " + " · ".join(shown)


def heaviest_lines(attention: dict[str, Any], count: int = UNIT_ROWS) -> list[int]:
    """The 0-based lines of the ``count`` largest line sums, heaviest first."""
    return [line["line"] for line in sorted(attention.get("lines", []), key=lambda line: -line["weight"])[:count]]


def _percent(weight: float) -> str:
    return f"{100 * weight:.1f}%"


def _shown(token: dict[str, Any], words: Mapping[int, str | None], in_table: bool = False) -> str:
    """A token's label as a code span, with the word it is a piece of: `` `il` in `nil` ``."""
    shown = code_span(token.get("label", token["text"]), in_table)
    word = words.get(token["index"])
    return f"{shown} in {code_span(word, in_table)}" if word else shown


def stale_markdown(error: ChangedSinceAnalysis, analysis: Analysis) -> str:
    """The card for a token edited after ``analysis`` (``encode.unchanged_before``: 1-based lines)."""
    kept = unchanged_before(analysis, error.fresh_tokens)
    return (
        f"**Atten-Scope** \u2014 this token changed after the analysis. Tokens before {kept} still show "
        "their attention; run *Atten-Scope: Analyze File* (or click *Re-analyse* in the status bar) for the rest."
    )


def register(server: AttenScopeServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: AttenScopeServer, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        settings = ls.settings
        position = Position(line=params.position.line, character=params.position.character)
        raw_symbols = ls.symbols_for(uri)
        symbols = parse_symbols(raw_symbols) if raw_symbols is not None else None

        def compute(
            analysis: Analysis, fresh: int | None, language: str | None
        ) -> tuple[dict[str, Any], dict[int, str | None], dict[int, str]] | ChangedSinceAnalysis | None:
            try:
                info = analysis.info
                options = settings.view_options({}, info.id, info.layers, info.heads)
                token = token_at_position(analysis, position, fresh)
                weights = attention_weights(analysis, token, options, fresh)
                attention = attention_json(
                    analysis, token, options, fresh_tokens=fresh, symbols=symbols, language=language, weights=weights
                )
                attention["sources"] = sources_json(analysis, weights, token, HOVER_ROWS)
                shown = [token] + [target["index"] for target in attention["sources"]["words"]]
                words = {index: enclosing_word(analysis.document, index) for index in shown}
                statements = {line: line_label(analysis.lines, line) for line in heaviest_lines(attention)}
                return attention, words, statements
            except ChangedSinceAnalysis as error:
                return error
            except AttenScopeError as error:
                log.debug("No hover at %s: %s", position, error)
                return None

        try:
            on = target(ls, uri, after_edit=True)
            language = ls.document(on.source).language_id  # a completion's is its document's
            result, _ = await run_against(ls, on, lambda analysis, fresh: compute(analysis, fresh, language))
        except JsonRpcException:
            return None  # not analysed, or edited while the card was computed
        if result is None:
            return None
        if isinstance(result, ChangedSinceAnalysis):
            card = stale_markdown(result, on.entry.analysis)
            return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=card))
        attention, words, statements = result
        markdown = hover_markdown(attention, on.entry.analysis.info.id, HOVER_ROWS, words, statements, uri)
        span = attention["token"]["range"]
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown),
            range=types.Range(start=types.Position(**span["start"]), end=types.Position(**span["end"])),
        )
