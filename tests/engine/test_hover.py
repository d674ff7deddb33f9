"""The hover card: its sections in the order of use, the folded sources, its link to the flow view."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import pytest

from atten_scope.lsp.hover import FLOW_LINK, PIN_LINK, flow_link, hover_markdown

LINK = re.compile(r"\[Show information flow\]\((command:[^)\s]+)\)")
PIN = re.compile(r"\[Pin hover card\]\((command:[^)\s]+)\)")
# The card's last line: the flow link, then the pin link.
LINKS = re.compile(rf"{LINK.pattern} \u00b7 {PIN.pattern}")


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


def link_args(markdown: str, link: re.Pattern[str] = LINK, expected: str = FLOW_LINK) -> Any:
    """The arguments the link passes, decoded as VS Code decodes a command URI's query."""
    match = link.search(markdown)
    assert match is not None, markdown
    command, _, query = match.group(1).partition("?")
    assert command == expected
    return json.loads(unquote(query))


def test_the_card_ends_with_links_to_the_tokens_flow_and_to_pin_it() -> None:
    markdown = hover_markdown(attention(), "embedded:smollm2-135m", 8, uri="file:///project/sample.py")
    assert markdown.splitlines()[-1].startswith("[Show information flow](command:attenScope.showFlow?")
    assert link_args(markdown) == ["file:///project/sample.py", {"line": 2, "character": 4}]
    assert link_args(markdown, PIN, PIN_LINK) == ["file:///project/sample.py", {"line": 2, "character": 4}]


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
    match = LINKS.fullmatch(line)
    assert match, line  # the URI cannot end a link early or add another
    for target in match.groups():
        assert not re.search(r"[<>\"'`*\[\]()\s]", target)
    assert link_args(markdown) == [uri, {"line": 0, "character": 0}]
    assert link_args(markdown, PIN, PIN_LINK) == [uri, {"line": 0, "character": 0}]


def test_flow_link_takes_integer_positions() -> None:
    link = flow_link("file:///a.py", {"line": 12, "character": 0})
    assert link_args(link) == ["file:///a.py", {"line": 12, "character": 0}]


def _token(index: int, text: str, line: int, weight: float | None = None) -> dict[str, Any]:
    span = {"start": {"line": line, "character": 0}, "end": {"line": line, "character": len(text)}}
    token: dict[str, Any] = {"index": index, "text": text, "label": text.replace(" ", "\u00b7"), "range": span}
    return token if weight is None else {**token, "weight": weight}


def full_card(**extra: Any) -> dict[str, Any]:
    """An answer with every section: prediction, surprisal, units, folded sources and a figure."""
    units = {
        "source": "symbols",
        "definitions": [
            {"label": "def total", "range": _token(0, "def", 1)["range"], "weight": 0.6},
        ],
        "outside": 0.1,
        "identifiers": [{"name": "items", "count": 3, "weight": 0.2}],
    }
    return {
        **attention(),
        "prediction": {
            "top": [{"text": ")", "probability": 0.62}],
            "actual": {"text": ")", "probability": 0.62, "rank": 1},
        },
        "surprisal": {"bits": 3.1, "probability": 0.11},
        "units": units,
        "lines": [{"line": 1, "weight": 0.5}],
        "targets": [_token(8, " /", 2, 0.139), _token(7, " =", 2, 0.133), _token(3, "items", 1, 0.1)],
        "sources": {
            "words": [_token(3, "items", 1, 0.1), _token(2, "sum", 1, 0.05)],
            "folded": 12,
            "foldedWeight": 0.31,
            "own": 0.04,
        },
        "faithfulness": {"text": "\u03c1 +0.38 vs ablation (Python, interior tokens)", "sentence": "not shown"},
        **extra,
    }


def test_the_card_is_in_the_order_of_use() -> None:
    """Prediction, code units, word-like sources with the rest folded, one faithfulness line, settings."""
    markdown = hover_markdown(full_card(), "m", 6, statements={1: "def total(items):"}, uri="file:///a.py")
    lines = [line for line in markdown.splitlines() if line]
    order = [
        next(i for i, line in enumerate(lines) if line.startswith(start))
        for start in (
            "Predicts ",
            "Surprisal ",
            "**Draws most on**",
            "- definitions: ",
            "- lines: ",
            "- identifiers: ",
            "Drew on:",
            "| `items` | 2 | 10.0% |",
            "\\+ 12 punctuation",
            "*\u03c1 +0.38",
            "*norm \u00b7 lastLayers",
            "[Show information flow]",
        )
    ]
    assert order == sorted(order), lines
    assert "*\u03c1 +0.38 vs ablation (Python, interior tokens)*" in lines
    assert "not shown" not in markdown  # the full sentence is the status bar's, not the card's
    assert "faithfulness of this view" not in markdown.lower()


def test_drew_on_lists_word_like_tokens_and_folds_the_rest_into_one_line() -> None:
    markdown = hover_markdown(full_card(), "m", 6)
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "%" in line]
    assert rows == ["| `items` | 2 | 10.0% |", "| `sum` | 2 | 5.0% |"]  # not `·/` nor `·=`, the heaviest targets
    assert "\\+ 12 punctuation/whitespace tokens, 31.0% in all \u00b7 the token itself 4.0%" in markdown.splitlines()
    one = hover_markdown(full_card(sources={"words": [], "folded": 1, "foldedWeight": 0.5, "own": 0.0}), "m", 6)
    assert "\\+ 1 punctuation/whitespace token, 50.0% in all" in one.splitlines() and "| token |" not in one
    rows_cut = hover_markdown(full_card(), "m", 1)
    assert "| `sum` |" not in rows_cut and "| `items` |" in rows_cut


def test_a_card_with_nothing_drawn_on_says_so_and_an_unmeasured_view_says_that() -> None:
    empty = full_card(sources={"words": [], "folded": 0, "foldedWeight": 0.0, "own": 0.0}, faithfulness=None)
    markdown = hover_markdown(empty, "m", 6)
    assert "*no attention outside the sink tokens*" in markdown and "punctuation" not in markdown
    assert "*faithfulness not measured for this model and view*" in markdown


def test_fold_sources_splits_a_real_row(embedded: Any) -> None:
    """Over a real row: the listed tokens are word-like and not the token itself, the folded ones are
    whitespace or punctuation, and listed + folded + own make up the whole row."""
    from atten_scope.engine.analysis import run_analysis
    from atten_scope.engine.tokens import word_like
    from atten_scope.protocol.builders.attention import attention_weights
    from atten_scope.views.evidence import default_options
    from atten_scope.views.sources import fold_sources

    text = "def total(items):\n    s = 0\n    for x in items:\n        s = s + x / 2\n    return s\n"
    analysis = run_analysis(embedded, text, 128)
    doc = analysis.document
    after = text.index("return")
    token = next(i for i in range(analysis.token_count) if doc.token_text(i) == " s" and doc.starts[i] > after)
    weights = attention_weights(analysis, token, default_options(embedded.info.id))
    every = fold_sources(doc, weights, token, analysis.token_count)
    assert every.words and token not in every.words
    assert all(word_like(doc, i) and weights[i] > 0 for i in every.words)
    assert list(weights[every.words]) == sorted(weights[every.words], reverse=True)
    punctuation = [i for i in range(analysis.token_count) if i != token and weights[i] > 0 and not word_like(doc, i)]
    assert every.folded == len(punctuation) > 0
    assert every.folded_weight == pytest.approx(float(weights[punctuation].sum()))
    assert every.own_weight == pytest.approx(float(weights[token]))
    assert sum(float(weights[i]) for i in every.words) + every.folded_weight + every.own_weight == pytest.approx(1.0)
    assert all(
        doc.token_text(i).strip() == "" or not any(ch.isalnum() for ch in doc.token_text(i)) for i in punctuation
    )
    top = fold_sources(doc, weights, token, 3)
    assert top.words == every.words[:3] and top.folded == every.folded
