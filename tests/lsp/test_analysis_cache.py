"""An analysis outlives its tab and the server: reopening the same text reuses the analysis in
memory, and after a restart the analysis cache on disk restores it, under any URI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from .support import SAMPLE, open_document, position_of, request, server_config, start

TEXT = SAMPLE.read_text(encoding="utf-8")
SETTINGS = {"device": "cpu", "maxTokens": 96, "analysisCacheMB": 256}


def close(client: LanguageClient, uri: str) -> None:
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri)))


async def views(client: LanguageClient, uri: str) -> list[Any]:
    """What the cursor view answers at a few tokens, without its timing and versions."""
    answers = []
    for needle in ("def ", "return", "self"):
        params = {"textDocument": {"uri": uri}, "position": position_of(TEXT, needle, delta=1)}
        answer = await request(client, "attenScope/attention", params)
        answers.append({k: v for k, v in answer.items() if k not in ("elapsedMs", "version", "analysedVersion")})
    return answers


@asynccontextmanager
async def session(config: ClientServerConfig) -> AsyncIterator[LanguageClient]:
    """A server of its own: shut down cleanly when the block ends, killed when it fails."""
    client = await config.start()
    try:
        await start(client, SETTINGS)
        yield client
        await client.shutdown_session()  # a clean exit waits for the analysis being written
    finally:
        server = client._server  # the subprocess pygls started
        if server is not None and server.returncode is None:
            server.kill()
        await client.stop()


async def test_an_analysis_survives_closing_its_tab_and_restarting_the_server(tmp_path: Path) -> None:
    config = server_config(tmp_path / "analyses")
    async with session(config) as client:
        uri = "file:///project/account.py"
        open_document(client, uri, TEXT)
        first = await request(client, "attenScope/analyze", {"textDocument": {"uri": uri}})
        assert first["restored"] is False and len(first["windows"]) > 1
        before = await views(client, uri)
        close(client, uri)
        # Reopened: the analysis kept in memory is continued, the model does not run.
        open_document(client, uri, TEXT, version=2)
        again = await request(client, "attenScope/analyze", {"textDocument": {"uri": uri}})
        # every token reused, each counted once although the windows overlap
        assert again["reusedTokens"] == again["tokens"] == first["tokens"]
        assert again["restored"] is False and again["version"] == 2
        assert await views(client, uri) == before
    assert any((tmp_path / "analyses").iterdir())

    async with session(config) as client:
        renamed = "file:///project/renamed.py"  # the cache is addressed by the text, not the file
        open_document(client, renamed, TEXT)
        restored = await request(client, "attenScope/analyze", {"textDocument": {"uri": renamed}})
        assert restored["restored"] is True and restored["tokens"] == first["tokens"]
        assert restored["windows"] == first["windows"] and restored["model"] == first["model"]
        assert await views(client, renamed) == before
        # Another text is analysed by the model.
        other = "file:///project/other.py"
        open_document(client, other, TEXT.replace("balance", "total"))
        fresh = await request(client, "attenScope/analyze", {"textDocument": {"uri": other}})
        assert fresh["restored"] is False and fresh["reusedTokens"] == 0
