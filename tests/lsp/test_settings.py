"""Settings from initializationOptions and didChangeConfiguration, model reloads, and the pieces behind them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from atten_scope.engine.tokens import visible
from atten_scope.lsp.documents import AnalysisStore
from atten_scope.lsp.hover import code_span, hover_markdown
from atten_scope.lsp.settings import Settings, parse_settings
from atten_scope.registry import DEFAULT_AGGREGATE

from .support import (
    NOT_ANALYSED,
    REQUEST_FAILED,
    Expect,
    open_document,
    request,
    server_config,
    start,
    track_status,
)

URI = "file:///project/settings.py"
TEXT = "values = [3, 1, 2]\nprint(sorted(values))\n"
POSITION = {"line": 1, "character": 14}


@pytest_lsp.fixture(config=server_config(), scope="module")
async def client(lsp_client: LanguageClient):
    lsp_client.statuses = track_status(lsp_client)  # type: ignore[attr-defined]
    await start(lsp_client, {"device": "cpu", "maxTokens": 64, "refinement": "raw", "topK": 3, "dropSink": False})
    open_document(lsp_client, URI, TEXT)
    yield
    await lsp_client.shutdown_session()


def configure(client: LanguageClient, settings: dict[str, Any]) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"attenScope": settings}))


async def wait_for_state(client: LanguageClient, state: str, after: int) -> dict[str, Any]:
    for _ in range(600):
        for status in client.statuses[after:]:  # type: ignore[attr-defined]
            if status["state"] == state:
                return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {state!r} status; got {client.statuses[after:]}")  # type: ignore[attr-defined]


@pytest.mark.asyncio(loop_scope="module")
async def test_settings_and_reload(client: LanguageClient) -> None:
    await request(client, "attenScope/analyze", {"textDocument": {"uri": URI}})
    first = await request(client, "attenScope/attention", {"textDocument": {"uri": URI}, "position": POSITION})
    assert first["settings"]["refinement"] == "raw" and first["settings"]["dropSink"] is False
    assert len(first["targets"]) == 3

    configure(client, {"refinement": "norm", "topK": 5, "aggregate": "sideways"})
    second = await request(client, "attenScope/attention", {"textDocument": {"uri": URI}, "position": POSITION})
    assert second["settings"]["refinement"] == "norm" and len(second["targets"]) == 5
    assert second["settings"]["aggregate"] == DEFAULT_AGGREGATE  # the invalid value was refused...
    assert any("aggregate" in m.message for m in client.messages if m.type == types.MessageType.Warning)  # ...aloud

    # another model: the analyses go, a failing load is shown to the user and reported by the requests
    mark = len(client.statuses)  # type: ignore[attr-defined]
    configure(client, {"model": "embedded:no-such-model"})
    failed = await wait_for_state(client, "error", mark)
    assert "no-such-model" in failed["message"]
    assert any(m.type == types.MessageType.Error and "no-such-model" in m.message for m in client.messages)
    async with Expect(NOT_ANALYSED, "Analyze File"):
        await request(client, "attenScope/attention", {"textDocument": {"uri": URI}, "position": POSITION})
    async with Expect(REQUEST_FAILED, "no-such-model"):
        await request(client, "attenScope/analyze", {"textDocument": {"uri": URI}})

    mark = len(client.statuses)  # type: ignore[attr-defined]
    configure(client, {"model": "embedded:smollm2-135m"})
    await wait_for_state(client, "loadingModel", mark)
    await wait_for_state(client, "ready", mark)
    result = await request(client, "attenScope/analyze", {"textDocument": {"uri": URI}})
    assert result["reusedTokens"] == 0 and result["model"]["id"] == "embedded:smollm2-135m"
    third = await request(client, "attenScope/attention", {"textDocument": {"uri": URI}, "position": POSITION})
    assert third["targets"] == second["targets"]


def test_parse_settings_shapes_and_fallbacks() -> None:
    nested, warnings = parse_settings({"settings": {"attenScope": {"maxTokens": 256, "layers": [1, 2]}}})
    flat, _ = parse_settings({"settings": {"maxTokens": 256, "layers": [1, 2]}})
    assert nested == flat and nested.max_tokens == 256 and nested.view == {"layers": [1, 2]} and warnings == []
    kept, warnings = parse_settings(
        {"device": "tpu", "maxTokens": 3, "cacheDocuments": 0, "topK": -1, "layers": [-1], "trustRemoteCode": "yes"},
        nested,
    )
    assert kept == nested and len(warnings) == 6
    assert parse_settings("nonsense")[0] == Settings()
    assert parse_settings(None)[0] == Settings()
    reloaded, _ = parse_settings({"model": "  org/model  ", "device": "cpu"})
    assert reloaded.model_key == ("org/model", "cpu", False)
    merged = reloaded.view_options(
        {"aggregate": "perHead", "layers": [2], "heads": [1], "topK": None}, "org/model", 30, 9
    )
    assert merged.aggregate == "perHead" and merged.layers == (2,) and merged.top_k == 20


def test_store_is_a_bounded_lru() -> None:
    store = AnalysisStore(2)
    store.put("a", object(), 1)  # type: ignore[arg-type]
    store.put("b", object(), 1)  # type: ignore[arg-type]
    assert store.get("a") is not None  # a is now the most recent
    store.put("c", object(), 1)  # type: ignore[arg-type]
    assert "b" not in store and "a" in store and "c" in store
    store.resize(1)
    assert len(store) == 1 and "c" in store


@pytest.mark.parametrize(
    "text",
    ["`", "``x``", "<script>alert(1)</script>", "a|b", "\n    ", "  ", "", "*bold* _x_ [l](u)", "\u202e\x00\x1b[31m"],
)
def test_code_spans_are_inert(text: str) -> None:
    span = code_span(text, in_table=True)
    fence = span[: len(span) - len(span.lstrip("`"))]
    inner = span[len(fence) : len(span) - len(fence)]
    assert span.endswith(fence) and fence not in inner  # the span cannot end early
    assert "\n" not in span and "|" not in span.replace("\\|", "")  # one table cell
    assert all(ch.isprintable() for ch in span)


def test_visible_whitespace() -> None:
    assert visible(" return") == "\u00b7return"
    assert visible("\n    ") == "\u21b5\u00b7\u00b7\u00b7\u00b7"
    assert visible("x" * 200).endswith("\u2026") and len(visible("x" * 200)) == 80


def test_hover_markdown_shows_labels_and_words_not_indices() -> None:
    token = {
        "index": 4,
        "text": " <b>",
        "label": "\u00b7<b>",
        "range": {"start": {"line": 0, "character": 3}, "end": {"line": 0, "character": 7}},
    }
    target = {**token, "index": 1, "text": "|`", "label": "|`", "weight": 0.625}
    piece = {**token, "index": 2, "text": "", "label": "\u6298 (part)", "weight": 0.25}
    settings = {"direction": "attendsTo", "refinement": "raw", "aggregate": "headMax", "layers": [3], "heads": "all"}
    attention = {"token": token, "targets": [target, piece], "settings": settings}
    markdown = hover_markdown(attention, "embedded:smollm2-135m", 8, {4: "x<b>", 2: "\u6298\u308a"})
    lines = markdown.splitlines()
    assert lines[0] == "**Atten-Scope** \u2014 `\u00b7<b>` in `x<b>` (line 1)"
    assert "token 4" not in markdown  # no internal index
    assert lines[2] == "Drew on:"  # no prediction or code units in this answer: the sources come first
    assert lines.index("*faithfulness not measured for this model and view*") > lines.index("Drew on:")
    assert "| `` \\|` `` | 1 | 62.5% |" in markdown
    assert "| `\u6298 (part)` in `\u6298\u308a` | 1 | 25.0% |" in markdown
    assert "*raw \u00b7 headMax \u00b7 attendsTo \u00b7 layers 3*" in markdown


def test_hover_opens_with_the_prediction_and_the_surprisal() -> None:
    token = {
        "index": 3,
        "text": "send",
        "label": "send",
        "range": {"start": {"line": 4, "character": 0}, "end": {"line": 4, "character": 4}},
    }
    prediction = {
        "top": [
            {"id": 7, "text": "all", "probability": 0.62},
            {"id": 8, "text": "`(", "probability": 0.11},
            {"id": 9, "text": "\u6298 (part)", "probability": 0.00004},
        ],
        "actual": {"id": 7, "text": "all", "probability": 0.62, "rank": 1},
    }
    settings = {"direction": "attendsTo", "refinement": "raw", "aggregate": "headMean", "layers": "all", "heads": "all"}
    surprisal = {"bits": 7.16, "probability": 2**-7.16}
    attention = {"token": token, "targets": [], "settings": settings, "prediction": prediction, "surprisal": surprisal}
    lines = hover_markdown(attention, "m", 8).splitlines()
    expected = "Predicts `all` (62%), then `` `( `` 11%, `\u6298 (part)` 0.004%; actual next `all`: rank 1 (62%)"
    assert lines[2] == expected
    assert lines[4] == "Surprisal 7.2 bits: the model gave `send` 0.7% after the text before it"
    assert lines[6] == "Drew on:" and lines.index("*faithfulness not measured for this model and view*") > 6
    at_end = hover_markdown({**attention, "prediction": {**prediction, "actual": None}, "surprisal": None}, "m", 8)
    assert "; nothing follows (end of the file)" in at_end and "Surprisal" not in at_end
    attended = hover_markdown({**attention, "settings": {**settings, "direction": "attendedBy"}}, "m", 8)
    assert "Is attended by:" in attended and "Drew on:" not in attended
