"""attenScope/complete over the language server: the completion is kept under its completionUri,
the per-token views answer for it, and an edit of the document drops it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from .support import (
    CONTENT_MODIFIED,
    INVALID_PARAMS,
    Expect,
    open_document,
    position_of,
    replace_range,
    request,
    server_config,
    start,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

URI = "file:///project/shapes.py"
TEXT = (
    "import math\n"
    "\n"
    "def area(radius):\n"
    "    return math.pi * radius ** 2\n"
    "\n"
    "def describe(shape, radius):\n"
    "    a = area(radius)\n"
    "    return {'shape': shape, 'area': a}\n"
)


def configure(client: LanguageClient, settings: dict[str, Any]) -> None:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"attenScope": settings}))


@pytest_lsp.fixture(config=server_config(), scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, {"device": "cpu"})
    open_document(lsp_client, URI, TEXT)
    await request(lsp_client, "attenScope/analyze", {"textDocument": {"uri": URI}})
    yield
    await lsp_client.shutdown_session()


async def test_a_completion_is_kept_for_the_views_until_the_document_changes(client: LanguageClient) -> None:
    cursor = position_of(TEXT, "    a = area(", delta=len("    a = area("))
    params = {"textDocument": {"uri": URI, "version": 1}, "position": cursor, "maxNewTokens": 6}
    async with Expect(CONTENT_MODIFIED, "version"):
        await request(client, "attenScope/complete", {**params, "textDocument": {"uri": URI, "version": 7}})
    async with Expect(INVALID_PARAMS, "maxNewTokens"):
        await request(client, "attenScope/complete", {**params, "maxNewTokens": 0})
    result = await request(client, "attenScope/complete", params)
    uri, completion = result["completionUri"], result["completion"]
    assert uri.startswith("atten-scope-completion:") and result["position"] == cursor
    tokens = completion["tokens"]
    assert tokens and "".join(t["text"] for t in tokens) == completion["text"]
    assert result["cost"]["generatedTokens"] == len(tokens) and result["cost"]["reusedTokens"] > 0

    # The views read the completion analysis, the context then the completion: the completion's first
    # token begins at the cursor.
    found = await request(client, "attenScope/attention", {"textDocument": {"uri": uri}, "position": cursor})
    assert found["token"]["index"] == tokens[0]["index"] and found["targets"]
    heads = await request(client, "attenScope/heads", {"textDocument": {"uri": uri}, "position": cursor})
    assert heads

    replace_range(client, URI, 2, (0, 0), (0, 0), "# edited\n")
    async with Expect(CONTENT_MODIFIED, "no longer kept"):
        await request(client, "attenScope/attention", {"textDocument": {"uri": uri}, "position": cursor})


async def test_a_model_switch_mid_generation_ends_the_completion_with_a_sentence(client: LanguageClient) -> None:
    uri = "file:///project/switch.py"
    open_document(client, uri, TEXT)
    await request(client, "attenScope/analyze", {"textDocument": {"uri": uri}})
    cursor = position_of(TEXT, "    a = area(", delta=len("    a = area("))
    params = {"textDocument": {"uri": uri, "version": 1}, "position": cursor, "maxNewTokens": 256}
    before = await request(client, "attenScope/complete", {**params, "maxNewTokens": 6})

    pending = asyncio.ensure_future(request(client, "attenScope/complete", params))
    await asyncio.sleep(0.5)  # generation under way (or still queued: either way the switch must end it)
    configure(client, {"device": "cpu", "model": "embedded:no-such-model"})
    async with Expect(CONTENT_MODIFIED, "model"):
        await asyncio.wait_for(pending, 120)

    # Nothing is lost: back on the first model the same greedy completion comes out again.
    configure(client, {"device": "cpu", "model": "embedded:smollm2-135m"})
    await request(client, "attenScope/analyze", {"textDocument": {"uri": uri}})
    again = await request(client, "attenScope/complete", {**params, "maxNewTokens": 6})
    assert again["completion"]["text"] == before["completion"]["text"]
