"""The hover card's link to the information-flow view."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import pytest

from atten_scope.lsp.hover import FLOW_LINK, flow_link, hover_markdown

LINK = re.compile(r"\[Show information flow\]\((command:[^)\s]+)\)")


def attention(line: int = 2, character: int = 4) -> dict[str, Any]:
    token = {
        "index": 9,
        "text": " total",
        "label": "\u00b7total",
        "range": {"start": {"line": line, "character": character}, "end": {"line": line, "character": character + 6}},
    }
    target = {**token, "index": 3, "text": "x", "label": "x", "weight": 0.5}
    settings = {
        "direction": "attendsTo",
        "refinement": "norm",
        "aggregate": "lastLayers",
        "layers": "all",
        "heads": "all",
    }
    return {"token": token, "targets": [target], "settings": settings}


def link_args(markdown: str) -> Any:
    """The arguments the link passes, decoded as VS Code decodes a command URI's query."""
    match = LINK.search(markdown)
    assert match is not None, markdown
    command, _, query = match.group(1).partition("?")
    assert command == FLOW_LINK
    return json.loads(unquote(query))


def test_the_card_ends_with_a_link_to_the_tokens_flow() -> None:
    markdown = hover_markdown(attention(), "embedded:smollm2-135m", 8, uri="file:///project/sample.py")
    assert markdown.splitlines()[-1].startswith("[Show information flow](command:attenScope.showFlow?")
    assert link_args(markdown) == ["file:///project/sample.py", {"line": 2, "character": 4}]


def test_no_link_without_the_document() -> None:
    markdown = hover_markdown(attention(), "embedded:smollm2-135m", 8)
    assert "command:" not in markdown and "information flow" not in markdown


@pytest.mark.parametrize(
    "uri",
    [
        "file:///project/a%20b%29.py",
        "file:///project/x).py",
        'untitled:Untitled-1"<script>alert(1)</script>',
        "file:///project/[l](javascript:alert(1)) *b* `c`.py",
        "file:///project/\u6298\u308a.py",
    ],
)
def test_the_link_is_one_inert_markdown_link_whatever_the_uri(uri: str) -> None:
    markdown = hover_markdown(attention(0, 0), "embedded:smollm2-135m", 8, uri=uri)
    line = markdown.splitlines()[-1]
    assert LINK.fullmatch(line), line  # the URI cannot end the link early or add another
    assert not re.search(r"[<>\"'`*\[\]()\s]", line[len("[Show information flow](") : -1])
    assert link_args(markdown) == [uri, {"line": 0, "character": 0}]


def test_flow_link_takes_integer_positions() -> None:
    link = flow_link("file:///a.py", {"line": 12, "character": 0})
    assert link_args(link) == ["file:///a.py", {"line": 12, "character": 0}]
