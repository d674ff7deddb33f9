"""The hover card: a token, where its attention goes, and the settings used, as safe Markdown."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from .. import results
from ..analysis import Analysis
from ..errors import AttenScopeError
from ..evidence import faithfulness_line
from ..tokens import visible
from .views import compute_view

if TYPE_CHECKING:
    from .server import AttenScopeServer

log = logging.getLogger(__name__)
HOVER_ROWS = 8

_BACKTICKS = re.compile(r"`+")


def code_span(text: str, in_table: bool = False) -> str:
    """``text`` as a CommonMark code span: no Markdown or HTML inside it is interpreted.

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


def settings_line(settings: dict[str, Any]) -> str:
    parts = [str(settings.get("refinement")), str(settings.get("aggregate")), str(settings.get("direction"))]
    for key in ("layers", "heads"):
        value = settings.get(key)
        if value != "all" and isinstance(value, list):
            parts.append(f"{key} {', '.join(str(v) for v in value)}")
    if not settings.get("dropSink", True):
        parts.append("sink kept")
    return " \u00b7 ".join(parts)


def hover_markdown(attention: dict[str, Any], model_id: str, rows: int) -> str:
    """Markdown for an ``attenScope/attention`` result (only numbers and code spans carry data)."""
    token = attention["token"]
    settings = attention.get("settings", {})
    line = token["range"]["start"]["line"] + 1
    heading = "attends to" if settings.get("direction") == "attendsTo" else "is attended by"
    out = [f"**Atten-Scope** \u2014 token {token['index']} {code_span(token['text'])} (line {line}) {heading}:", ""]
    targets = attention.get("targets", [])[:rows]
    if targets:
        out += ["| token | line | weight |", "| :-- | --: | --: |"]
        for target in targets:
            cell = code_span(target["text"], in_table=True)
            out.append(f"| {cell} | {target['range']['start']['line'] + 1} | {100 * target['weight']:.1f}% |")
    else:
        out.append("*no attention outside the sink tokens*")
    out += ["", f"*{settings_line(settings)}* \u2014 {code_span(model_id)}"]
    if settings.get("direction") == "attendsTo":
        out += ["", f"*{faithfulness_line(attention.get('faithfulness'))}*"]
    return "\n".join(out)


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

        def compute(analysis: Analysis) -> dict[str, Any] | None:
            try:
                options = settings.view_options({}, analysis.info.layers, analysis.info.heads)
                token = results.token_at_position(analysis, position)
                return results.attention_json(analysis, token, options, entry.version)
            except AttenScopeError as error:
                log.debug("No hover at %s: %s", position, error)
                return None

        try:
            result = await compute_view(ls, uri, entry, compute)
        except JsonRpcException:
            return None
        if result is None:
            return None
        markdown = hover_markdown(result, entry.analysis.info.id, HOVER_ROWS)
        span = result["token"]["range"]
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown),
            range=types.Range(start=types.Position(**span["start"]), end=types.Position(**span["end"])),
        )
