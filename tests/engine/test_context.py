"""An analysis with a context file read before the document, on the embedded model: the document's
own tokens keep their ranges and every position answers for the same token; the call site draws on
the definition in the context file, which the answer names by its URI and line; an edit of the
document reuses the context's state; the cache keeps analyses with and without context apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from atten_scope.engine.analysis import Analysis, run_analysis, unchanged_tokens
from atten_scope.engine.analysis_cache import AnalysisCache, cache_key
from atten_scope.engine.context import ContextFile, Prefix, build_prefix
from atten_scope.protocol.builders.attention import attention_json
from atten_scope.protocol.encode import analyze_json, token_at_position, token_json
from atten_scope.views.options import ViewOptions
from atten_scope.views.removal import removal_effect

WINDOW = 512
HELPERS_URI = "file:///project/src/helpers.py"
DOCUMENT_URI = "file:///project/src/main.py"
HELPERS = (
    "import re\n"
    "\n"
    "SEPARATOR = re.compile(r'\\s*:\\s*')\n"
    "\n"
    "\n"
    "def parse_header(line):\n"
    '    """Split a header line into its name and value."""\n'
    "    name, value = SEPARATOR.split(line, maxsplit=1)\n"
    "    return name.strip().lower(), value.strip()\n"
)
DEFINITION_LINE = 5  # 0-based line of ``def parse_header`` in HELPERS
DOCUMENT = (
    "from helpers import parse_header\n"
    "\n"
    "headers = {}\n"
    "for line in open('request.txt'):\n"
    "    key, value = parse_header(line)\n"
    "    headers[key] = value\n"
)


def prefix() -> Prefix:
    found = build_prefix([ContextFile(HELPERS_URI, HELPERS)], DOCUMENT_URI, "python")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def alone(embedded: Any) -> Analysis:
    return run_analysis(embedded, DOCUMENT, WINDOW)


@pytest.fixture(scope="module")
def with_context(embedded: Any) -> Analysis:
    return run_analysis(embedded, DOCUMENT, WINDOW, context=prefix())


def positions(text: str) -> list[dict[str, int]]:
    lines = text.split("\n")
    return [{"line": n, "character": c} for n, line in enumerate(lines) for c in range(len(line) + 1)]


def test_the_documents_own_tokens_keep_their_ranges_and_positions(alone: Analysis, with_context: Analysis) -> None:
    context = with_context.document.context
    assert context is not None and alone.document.context is None
    assert context.end - context.first > len(HELPERS) // 8  # the helpers' tokens are read first
    shift = context.end - context.first
    assert with_context.token_count == alone.token_count + shift
    # The document's own tokens are the same tokens with the same spans, after the prefix.
    before, after = alone.document, with_context.document
    assert after.ids[context.end :] == before.ids[context.first :]
    assert after.starts[context.end :] == before.starts[context.first :]
    assert after.ends[context.end :] == before.ends[context.first :]
    for position in positions(DOCUMENT):
        token = token_at_position(with_context, position)
        assert token >= context.end  # a position addresses the document, never a context file
        mine, theirs = token_json(with_context, token), token_json(alone, token_at_position(alone, position))
        assert mine == {**theirs, "index": theirs["index"] + shift}
    # Lines and units of the document are as without context: none of them holds a context token.
    at = {"line": 4, "character": DOCUMENT.split("\n")[4].index("parse_header")}
    answer = attention_json(with_context, token_at_position(with_context, at), ViewOptions(), language="python")
    assert {line["line"] for line in answer["lines"]} <= set(range(DOCUMENT.count("\n") + 1))
    assert all("uri" not in target for target in answer["targets"])
    own = sum(line["weight"] for line in answer["lines"])
    assert own + answer["context"]["weight"] == pytest.approx(1.0, abs=1e-6)  # the row, sinks dropped
    assert "contextFiles" not in analyze_json(alone, DOCUMENT_URI, 1)
    own_header = next(i for i in range(context.first, context.end) if context.file_of(i) is None)
    assert analyze_json(with_context, DOCUMENT_URI, 1)["contextFiles"] == [
        {"uri": HELPERS_URI, "name": "helpers.py", "tokens": [context.first, own_header]}
    ]


def test_the_call_site_draws_on_the_definition_in_the_context_file(with_context: Analysis) -> None:
    line = DOCUMENT.split("\n")[4]
    at = {"line": 4, "character": line.index("parse_header") + len("parse")}  # `_header` of the call
    token = token_at_position(with_context, at)
    answer = attention_json(with_context, token, ViewOptions(), language="python")
    context = answer["context"]
    assert 0 < context["weight"] < 1
    assert [(f["uri"], f["name"]) for f in context["files"]] == [(HELPERS_URI, "helpers.py")]
    # the rest of what was read first is the line that names the document
    assert 0 < context["files"][0]["weight"] < context["weight"]
    heaviest = context["lines"][0]
    assert (heaviest["uri"], heaviest["line"]) == (HELPERS_URI, DEFINITION_LINE)
    assert heaviest["definition"] == "def parse_header" and heaviest["text"] == "def parse_header(line):"
    # A token of the definition's name is among the context targets, located in helpers.py.
    named = [t for t in context["targets"] if t["range"]["start"]["line"] == DEFINITION_LINE and t["text"].strip("_ ")]
    assert named, context["targets"]
    for target in named:
        assert target["uri"] == HELPERS_URI and target["name"] == "helpers.py"
        start, end = target["range"]["start"]["character"], target["range"]["end"]["character"]
        assert HELPERS.split("\n")[DEFINITION_LINE][start:end] == target["text"]
    assert any(t["text"] in ("parse", "_header", "header", " parse_header") for t in named), named


def test_an_edit_of_the_document_reuses_the_context(embedded: Any, with_context: Analysis) -> None:
    context = with_context.document.context
    assert context is not None
    edited = DOCUMENT.replace("headers = {}", "found = {}")
    fresh = unchanged_tokens(with_context, embedded.tokenizer, edited)
    assert context.end < fresh < with_context.token_count  # the context and the lines before the edit
    again = run_analysis(embedded, edited, WINDOW, previous=with_context, context=prefix())
    assert again.reused_tokens == fresh
    assert again.document.ids[: context.end] == with_context.document.ids[: context.end]
    other = build_prefix([ContextFile(HELPERS_URI, HELPERS + "\n\nLIMIT = 3\n")], DOCUMENT_URI, "python")
    changed = run_analysis(embedded, edited, WINDOW, previous=with_context, context=other)
    assert changed.reused_tokens < context.end  # another context: its tokens differ, the model runs again


def test_line_removal_keeps_the_context(embedded: Any, with_context: Analysis) -> None:
    offset = DOCUMENT.index("headers[key]")
    effect = removal_effect(with_context, embedded, 2, 2, offset)
    assert effect.edited.document.context is not None
    assert effect.edited.reused_tokens >= with_context.document.context.end  # type: ignore[union-attr]


def test_the_cache_key_holds_the_context_files(embedded: Any, with_context: Analysis, tmp_path: Path) -> None:
    plain = cache_key(embedded, DOCUMENT, WINDOW, compact=False)
    read_first = cache_key(embedded, DOCUMENT, WINDOW, compact=False, context=prefix())
    other = build_prefix([ContextFile(HELPERS_URI, HELPERS.replace("lower", "upper"))], DOCUMENT_URI, "python")
    assert "context" not in plain.fields and "context" in read_first.fields
    assert len({plain.digest, read_first.digest, cache_key(embedded, DOCUMENT, WINDOW, False, other).digest}) == 3
    cache = AnalysisCache(1024, tmp_path)
    assert cache.save(read_first, with_context)
    assert cache.restore(plain, embedded, DOCUMENT) is None
    restored = cache.restore(read_first, embedded, DOCUMENT, context=prefix())
    assert restored is not None and restored.document.ids == with_context.document.ids
    assert restored.document.context == with_context.document.context
    token = token_at_position(restored, {"line": 4, "character": 20})
    ours, theirs = attention_json(restored, token, ViewOptions()), attention_json(with_context, token, ViewOptions())
    assert ours["context"] == theirs["context"] and ours["targets"] == theirs["targets"]
