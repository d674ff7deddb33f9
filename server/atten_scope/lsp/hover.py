"""The hover card: a token, where its attention goes, and the settings used, as safe Markdown."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from .. import results
from ..analysis import Analysis
from ..errors import AttenScopeError
from ..evidence import faithfulness_line
from ..options import settings_line
from ..tokens import enclosing_word, visible
from .views import compute_view

if TYPE_CHECKING:
    from .server import AttenScopeServer

log = logging.getLogger(__name__)
HOVER_ROWS = 8

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
    uri: str | None = None,
) -> str:
    """Markdown for an ``attenScope/attention`` result (only numbers and code spans carry data).

    Tokens are shown by their labels; ``words`` names the word a token is a piece of (``il`` in
    ``nil``). The faithfulness line comes right under the heading, so it is seen without scrolling.
    With the document's ``uri``, the card ends with a link to the token's information flow.
    """
    words = words or {}
    token = attention["token"]
    settings = attention.get("settings", {})
    line = token["range"]["start"]["line"] + 1
    heading = "attends to" if settings.get("direction") == "attendsTo" else "is attended by"
    out = [f"**Atten-Scope** \u2014 {_shown(token, words)} (line {line}) {heading}:", ""]
    if settings.get("direction") == "attendsTo":
        out += [f"*{faithfulness_line(attention.get('faithfulness'))}*", ""]
    targets = attention.get("targets", [])[:rows]
    if targets:
        out += ["| token | line | weight |", "| :-- | --: | --: |"]
        for target in targets:
            cell = _shown(target, words, in_table=True)
            out.append(f"| {cell} | {target['range']['start']['line'] + 1} | {100 * target['weight']:.1f}% |")
    else:
        out.append("*no attention outside the sink tokens*")
    out += ["", f"*{settings_line(settings)}* \u2014 {code_span(model_id)}"]
    if uri is not None:
        out += ["", flow_link(uri, token["range"]["start"])]
    return "\n".join(out)


def _shown(token: dict[str, Any], words: Mapping[int, str | None], in_table: bool = False) -> str:
    """A token's label as a code span, with the word it is a piece of: `` `il` in `nil` ``."""
    shown = code_span(token.get("label", token["text"]), in_table)
    word = words.get(token["index"])
    return f"{shown} in {code_span(word, in_table)}" if word else shown


def register(server: AttenScopeServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: AttenScopeServer, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        try:
            entry = ls.current_entry(uri)
        except JsonRpcException:
            return None  # not analysed, or stale: no card
        settings = ls.settings
        position = {"line": params.position.line, "character": params.position.character}

        def compute(analysis: Analysis) -> tuple[dict[str, Any], dict[int, str | None]] | None:
            try:
                info = analysis.info
                options = settings.view_options({}, info.id, info.layers, info.heads)
                token = results.token_at_position(analysis, position)
                attention = results.attention_json(analysis, token, options, entry.version)
                shown = [token] + [target["index"] for target in attention["targets"][:HOVER_ROWS]]
                words = {index: enclosing_word(analysis.document, index) for index in shown}
                return attention, words
            except AttenScopeError as error:
                log.debug("No hover at %s: %s", position, error)
                return None

        try:
            result = await compute_view(ls, uri, entry, compute)
        except JsonRpcException:
            return None
        if result is None:
            return None
        attention, words = result
        markdown = hover_markdown(attention, entry.analysis.info.id, HOVER_ROWS, words, uri)
        span = attention["token"]["range"]
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown),
            range=types.Range(start=types.Position(**span["start"]), end=types.Position(**span["end"])),
        )
