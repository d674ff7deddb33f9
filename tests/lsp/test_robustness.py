"""Malformed and random parameters to every custom method: an answer or a proper LSP error, never a dead server."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_lsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from .support import open_document, request, server_config, start

pytestmark = pytest.mark.asyncio(loop_scope="module")

URI = "file:///project/fuzz.py"
TEXT = "def add(a, b):\n    # sums 😀 two values\n    return a + b\n\nprint(add(1, 2))\n"
METHODS = [
    "attenScope/attention",
    "attenScope/heatmap",
    "attenScope/heatmapTile",
    "attenScope/heads",
    "attenScope/analyze",
]
# What a malformed request may get: bad params, or a failure with a sentence; never an internal error.
ALLOWED_CODES = {-32602, -32803}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
indices = st.lists(st.integers(-2, 40), max_size=3)
position = (
    st.fixed_dictionaries({"line": st.integers(-2, 8) | json_values, "character": st.integers(-2, 40) | json_values})
    | json_values
)
documents = st.sampled_from([{"uri": URI}, {"uri": "file:///missing.py"}, {}, None, "fuzz.py", {"uri": 3}])
structured = st.fixed_dictionaries(
    {"textDocument": documents},
    optional={
        "position": position,
        "direction": st.sampled_from(["attendsTo", "attendedBy", "sideways"]) | json_values,
        "refinement": st.sampled_from(["raw", "norm", "effective", "effective+norm", "bogus"]) | json_values,
        "aggregate": st.sampled_from(["headMean", "headMax", "layerMean", "rollout", "perHead", "x"]) | json_values,
        "layers": st.just("all") | indices | json_values,
        "heads": st.just("all") | indices | json_values,
        "dropSink": st.booleans() | json_values,
        "topK": st.integers(-5, 10**12) | json_values,
        "layer": st.just("all") | st.integers(-3, 40) | json_values,
        "head": st.just("all") | st.integers(-3, 12) | json_values,
        "rows": st.lists(st.integers(-5, 60), max_size=3) | json_values,
        "columns": st.lists(st.integers(-5, 60), max_size=3) | json_values,
        "bins": st.integers(-3, 5000) | json_values,
        "workDoneToken": st.text(max_size=4) | json_values,
    },
)


@pytest_lsp.fixture(config=server_config(), scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, {"device": "cpu", "maxTokens": 32})
    open_document(lsp_client, URI, TEXT)
    await request(lsp_client, "attenScope/analyze", {"textDocument": {"uri": URI}})
    yield
    await lsp_client.shutdown_session()


async def call(client: LanguageClient, method: str, params: Any) -> None:
    try:
        result = await request(client, method, params)
    except JsonRpcException as error:
        assert error.code in ALLOWED_CODES, f"{method} {params!r} -> {error.code} {error.message}"
        assert error.message and "Traceback" not in error.message
    else:
        assert isinstance(result, dict) and result.get("version") == 1, result


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(params=structured | json_values)
async def test_random_params(client: LanguageClient, method: str, params: Any) -> None:
    await call(client, method, params)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "params",
    [
        None,
        [],
        "text",
        {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 10**9}},
        {"textDocument": {"uri": URI}, "position": {"line": 10**9, "character": 0}},
        {"textDocument": {"uri": URI}, "position": {"line": 1, "character": 10}, "layers": [-1]},
        {"textDocument": {"uri": URI}, "position": {"line": 1, "character": 10}, "topK": 10**15},
        {"textDocument": {"uri": URI}, "position": {"line": 1, "character": 10}, "heads": [], "layer": True},
        {"textDocument": {"uri": URI}, "layer": 0, "head": 0, "tokenRange": [5, 2]},
        {"textDocument": {"uri": URI}, "layer": 99, "head": "all", "aggregate": "perHead"},
    ],
)
async def test_malformed_params(client: LanguageClient, method: str, params: Any) -> None:
    await call(client, method, params)


async def test_server_still_answers(client: LanguageClient) -> None:
    params = {"textDocument": {"uri": URI}, "position": {"line": 2, "character": 12}, "topK": 1000}
    result = await request(client, "attenScope/attention", params)
    assert result["token"]["text"].strip() == "+"
    assert sum(t["weight"] for t in result["targets"]) == pytest.approx(1.0, abs=1e-5)
