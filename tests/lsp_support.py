"""Helpers for the language-server tests: how to start the server and talk to it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLE = DATA / "lsp_sample.py"


def server_config() -> ClientServerConfig:
    env = dict(os.environ)
    # The source tree wins over any installed copy, so the tests run the code they sit next to.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "server"), env.get("PYTHONPATH", "")) if p)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_VERBOSITY", "error")
    return ClientServerConfig(server_command=[sys.executable, "-m", "atten_scope", "serve"], server_env=env)


def track_status(client: LanguageClient) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []

    @client.feature("attenScope/status")
    def on_status(params: Any) -> None:
        received.append(params if isinstance(params, dict) else dict(params.__dict__))

    return received


async def start(client: LanguageClient, settings: dict[str, Any]) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            initialization_options={"settings": settings},
            root_uri=ROOT.as_uri(),
        )
    )


def open_document(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)
        )
    )


def replace_range(client: LanguageClient, uri: str, version: int, start: tuple[int, int], end: tuple[int, int], text: str):
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=types.Position(*start), end=types.Position(*end)), text=text
                )
            ],
        )
    )


async def request(client: LanguageClient, method: str, params: Any, msg_id: str | None = None) -> Any:
    return await client.protocol.send_request_async(method, params, msg_id=msg_id)


def position_of(text: str, needle: str, occurrence: int = 0, delta: int = 0) -> dict[str, int]:
    """The LSP position (UTF-16 columns) of the ``occurrence``-th ``needle`` in ``text`` plus ``delta`` characters."""
    index = -1
    for _ in range(occurrence + 1):
        index = text.index(needle, index + 1)
    index += delta
    line = text.count("\n", 0, index)
    line_start = text.rfind("\n", 0, index) + 1
    prefix = text[line_start:index]
    return {"line": line, "character": len(prefix.encode("utf-16-le")) // 2}
