"""The hover card: a token, where its attention goes, and the settings used, as safe Markdown."""

from __future__ import annotations

import re
from typing import Any

from ..evidence import faithfulness_line

_BACKTICKS = re.compile(r"`+")
_VISIBLE = {"\n": "\u21b5", "\r": "\u240d", "\t": "\u21e5"}
MAX_SHOWN = 80  # characters of a token shown; longer ones are cut with an ellipsis


def visible(text: str) -> str:
    """Whitespace a reader would not see (line breaks, tabs, edge spaces) as symbols; controls dropped."""
    text = "".join(_VISIBLE.get(ch, ch) for ch in text)
    text = "".join(ch for ch in text if ch.isprintable() or ch == " ")
    stripped = text.strip(" ")
    lead = len(text) - len(text.lstrip(" "))
    trail = len(text) - len(text.rstrip(" "))
    text = "\u00b7" * lead + stripped + "\u00b7" * trail if stripped else "\u00b7" * len(text)
    if len(text) > MAX_SHOWN:
        text = text[: MAX_SHOWN - 1] + "\u2026"
    return text or "\u2205"


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
