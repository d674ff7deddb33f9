"""The heatmap over the language server: a long document, cursor requests while it computes, cancelling it."""

from __future__ import annotations

import asyncio
import base64
import uuid
import zlib

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from .support import REQUEST_CANCELLED, Expect, open_document, request, server_config, start

pytestmark = pytest.mark.asyncio(loop_scope="module")

URI = "file:///project/handlers.py"
# About 1,300 tokens, analysed in windows of 512: rows come from three windows.
TEXT = "".join(
    f"def handler_{i}(event, context):\n    return process(event, {i} * context.scale)\n\n" for i in range(60)
)
# A heatmap over the work budget, which takes seconds: effective attention rebuilds each row with a
# d x d solve per layer and KV head.
SLOW = {
    "textDocument": {"uri": URI},
    "layer": "all",
    "head": "all",
    "refinement": "effective",
    "aggregate": "headMean",
    "bins": 256,
}


@pytest_lsp.fixture(config=server_config(), scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, {"device": "cpu", "maxTokens": 512})
    open_document(lsp_client, URI, TEXT)
    await request(lsp_client, "attenScope/analyze", {"textDocument": {"uri": URI}})
    yield
    await lsp_client.shutdown_session()


async def test_a_cursor_request_is_answered_while_a_heatmap_computes(client: LanguageClient) -> None:
    heatmap = asyncio.ensure_future(request(client, "attenScope/heatmap", SLOW))
    await asyncio.sleep(0.5)  # the heatmap is under way on its thread
    attention = await request(
        client,
        "attenScope/attention",
        {"textDocument": {"uri": URI}, "position": {"line": 100, "character": 15}},
    )
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=URI), position=types.Position(101, 12))
    )
    assert attention["targets"] and hover is not None
    assert not heatmap.done(), "the cursor requests waited for the heatmap"
    grid = await asyncio.wait_for(heatmap, 300)
    tokens = grid["tokens"]
    assert tokens > 1200 and grid["rows"]["end"] == tokens and grid["columns"]["end"] == tokens
    bins = len(grid["rows"]["edges"]) - 1
    assert bins == 256 and len(zlib.decompress(base64.b64decode(grid["data"]))) == 2 * bins * bins
    # over the budget: some rows of each bin are read, and the answer says so
    assert 256 <= grid["rowsRead"] < grid["rowsTotal"] == tokens and not grid["exact"]
    assert grid["rows"]["first"][0]["range"]["start"] == {"line": 0, "character": 0}
    assert grid["rows"]["last"][-1]["index"] == tokens - 1


async def test_a_cancelled_heatmap_frees_its_thread(client: LanguageClient) -> None:
    msg_id = str(uuid.uuid4())
    pending = asyncio.ensure_future(request(client, "attenScope/heatmap", SLOW, msg_id))
    await asyncio.sleep(0.5)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    async with Expect(REQUEST_CANCELLED):
        await asyncio.wait_for(pending, 60)
    # the next heavy request does not queue behind the cancelled one
    params = {**SLOW, "refinement": "norm", "aggregate": "lastLayers", "rows": [1000, 1100], "columns": [900, 1100]}
    del params["bins"]
    tile = await asyncio.wait_for(request(client, "attenScope/heatmapTile", params), 60)
    assert tile["exact"] and tile["rows"]["edges"][0] == 1000 and len(tile["columns"]["first"]) == 200
