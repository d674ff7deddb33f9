"""The hover card: a token, what the model predicted after it, where its attention goes, and the
settings used, as safe Markdown."""

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
from atten_scope.protocol.builders.attention import attention_json
from atten_scope.protocol.encode import token_at_position
from atten_scope.protocol.params import Position
from atten_scope.protocol.sentences import prediction_sentence, settings_line, surprisal_sentence
from atten_scope.views.evidence import faithfulness_line
from atten_scope.views.units import line_label, parse_symbols

if TYPE_CHECKING:
    from atten_scope.lsp.server import AttenScopeServer

log = logging.getLogger(__name__)
HOVER_ROWS = 8
UNIT_ROWS = 3  # definitions, identifiers and lines shown under "Draws most on"

_BACKTICKS = re.compile(r"`+")
# The extension's Show Information Flow command; its language client trusts this command, and no
# other, in hover Markdown (extension/src/constants.ts, HOVER_COMMANDS).
FLOW_LINK = "command:attenScope.showFlow"


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


def flow_link(uri: str, position: Mapping[str, int]) -> str:
    """A Markdown link that runs Show Information Flow for the token at ``position`` of ``uri``.

    The arguments are the command URI's query: the JSON array ``[uri, {line, character}]``,
    percent-encoded whole, so that no character of the document's URI can end the link or carry
    Markdown or HTML.
    """
    args = json.dumps(
        [uri, {"line": int(position["line"]), "character": int(position["character"])}],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return f"[Show information flow]({FLOW_LINK}?{quote(args, safe='')})"


def hover_markdown(
    attention: dict[str, Any],
    model_id: str,
    rows: int,
    words: Mapping[int, str | None] | None = None,
    statements: Mapping[int, str] | None = None,
    uri: str | None = None,
) -> str:
    """Markdown for an ``attenScope/attention`` result (only numbers and code spans carry data).

    It opens with what the model predicted after the token and how surprising the token itself
    was, then the attention. Tokens are shown by their labels; ``words`` names the word a token is
    a piece of (``il`` in ``nil``). The faithfulness line comes right above the table, so it is seen
    without scrolling. With the document's ``uri``, the card ends with a link to the token's
    information flow.
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
    if attends:
        measured = faithfulness_line(attention.get("faithfulness"), attention.get("lineFaithfulness"))
        out += [f"*{measured}*", ""]
    out += ["Drew on:" if attends else "Is attended by:", ""]
    targets = attention.get("targets", [])[:rows]
    if targets:
        out += ["| token | line | weight |", "| :-- | --: | --: |"]
        for target in targets:
            cell = _shown(target, words, in_table=True)
            out.append(f"| {cell} | {target['range']['start']['line'] + 1} | {100 * target['weight']:.1f}% |")
    else:
        out.append("*no attention outside the sink tokens*")
    out += units_markdown(attention.get("units"), attention.get("lines", []), statements or {})
    out += ["", f"*{settings_line(settings)}* \u2014 {code_span(model_id)}"]
    if uri is not None:
        out += ["", flow_link(uri, token["range"]["start"])]
    return "\n".join(out)


def units_markdown(
    units: dict[str, Any] | None, lines: Sequence[dict[str, Any]], statements: Mapping[int, str]
) -> list[str]:
    """The "Draws most on" section: the UNIT_ROWS heaviest definitions (or blocks of lines, when the
    editor has no symbols), identifiers (``re`` ×4: every occurrence of the name) and lines of
    ``lines`` whose text ``statements`` holds (line -> text: ``heaviest_lines``)."""
    if not units:
        return []
    rows = []
    definitions = [
        f"{code_span(unit['label'])} (line {unit['range']['start']['line'] + 1}) {_percent(unit['weight'])}"
        for unit in units.get("definitions", [])[:UNIT_ROWS]
    ]
    if units.get("source") == "symbols" and units.get("outside", 0) > 0:
        definitions.append(f"outside them {_percent(units['outside'])}")
    if definitions:
        what = "definitions" if units.get("source") == "symbols" else "blocks of lines"
        rows.append(f"- {what}: " + " · ".join(definitions))
    names = [
        f"{code_span(unit['name'])} ×{unit['count']} {_percent(unit['weight'])}"
        for unit in units.get("identifiers", [])[:UNIT_ROWS]
    ]
    if names:
        rows.append("- identifiers: " + " · ".join(names))
    heaviest = [line for line in sorted(lines, key=lambda line: -line["weight"]) if line["line"] in statements]
    shown = [
        f"{code_span(statements[line['line']])} (line {line['line'] + 1}) {_percent(line['weight'])}"
        for line in heaviest[:UNIT_ROWS]
    ]
    if shown:
        rows.append("- lines: " + " · ".join(shown))
    return ["", "**Draws most on**", "", *rows] if rows else []


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


def stale_markdown(error: ChangedSinceAnalysis) -> str:
    """The card for a token edited after the analysis."""
    line = error.stale_from["line"] + 1
    return (
        f"**Atten-Scope** \u2014 this token changed after the analysis. Tokens before line {line} still show "
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
            analysis: Analysis, fresh: int | None
        ) -> tuple[dict[str, Any], dict[int, str | None], dict[int, str]] | ChangedSinceAnalysis | None:
            try:
                info = analysis.info
                options = settings.view_options({}, info.id, info.layers, info.heads)
                token = token_at_position(analysis, position, fresh)
                attention = attention_json(analysis, token, options, fresh_tokens=fresh, symbols=symbols)
                shown = [token] + [target["index"] for target in attention["targets"][:HOVER_ROWS]]
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
            result, _ = await run_against(ls, on, compute)
        except JsonRpcException:
            return None  # not analysed, or edited while the card was computed
        if result is None:
            return None
        if isinstance(result, ChangedSinceAnalysis):
            card = stale_markdown(result)
            return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=card))
        attention, words, statements = result
        markdown = hover_markdown(attention, on.entry.analysis.info.id, HOVER_ROWS, words, statements, uri)
        span = attention["token"]["range"]
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown),
            range=types.Range(start=types.Position(**span["start"]), end=types.Position(**span["end"])),
        )
