"""Helpers for the language-server tests: how to start the server and talk to it."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import cattrs
from lsprotocol import types
from pygls.protocol import JsonRPCNotification, JsonRPCResponseMessage, default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import register_lsp_features

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = DATA / "lsp_sample.py"


def plain_converter() -> cattrs.Converter:
    """Results and notifications of custom methods as plain JSON (pygls makes namedtuples of them)."""
    converter = default_converter()
    converter.register_structure_hook(
        JsonRPCResponseMessage,
        lambda obj, cls: cls(id=obj.get("id"), jsonrpc=obj.get("jsonrpc"), result=obj.get("result")),
    )
    converter.register_structure_hook(
        JsonRPCNotification,
        lambda obj, cls: cls(method=obj.get("method"), jsonrpc=obj.get("jsonrpc"), params=obj.get("params")),
    )
    return converter


def make_client() -> LanguageClient:
    client = LanguageClient(converter_factory=plain_converter)
    register_lsp_features(client)
    return client


def server_config(analysis_cache: Path | None = None) -> ClientServerConfig:
    """How to start the server; it keeps analyses on disk in ``analysis_cache``, by default a folder
    of its own (the converted model weights stay shared in the user cache directory)."""
    env = dict(os.environ)
    folder = analysis_cache or Path(tempfile.mkdtemp(prefix="atten-scope-analyses-"))
    if analysis_cache is None:
        atexit.register(shutil.rmtree, folder, True)
    env["ATTEN_SCOPE_ANALYSIS_CACHE_DIR"] = str(folder)
    # The source tree wins over any installed copy, so the tests run the code they sit next to.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "server"), env.get("PYTHONPATH", "")) if p)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_VERBOSITY", "error")
    return ClientServerConfig(
        server_command=[sys.executable, "-m", "atten_scope", "serve"], server_env=env, client_factory=make_client
    )


def track_status(client: LanguageClient) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []

    @client.feature("attenScope/status")
    def on_status(params: Any) -> None:
        received.append(params)

    return received


async def start(client: LanguageClient, settings: dict[str, Any]) -> types.InitializeResult:
    """Initialize with ``settings``; the analysis cache is off unless they set it, so that every
    analysis runs the model as the test expects."""
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            initialization_options={"settings": {"analysisCacheMB": 0, **settings}},
            root_uri=ROOT.as_uri(),
        )
    )


def open_document(client: LanguageClient, uri: str, text: str, version: int = 1, language_id: str = "python") -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language_id, version=version, text=text)
        )
    )


def replace_range(
    client: LanguageClient, uri: str, version: int, start: tuple[int, int], end: tuple[int, int], text: str
):
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


class Expect:
    """``async with Expect(code)``: the block fails with that LSP error code (pygls maps some codes to no class)."""

    def __init__(self, code: int, match: str | None = None) -> None:
        self.code, self.match = code, match
        self.error: Any = None  # the JsonRpcException raised, for its data

    async def __aenter__(self) -> Expect:
        return self

    async def __aexit__(self, kind: Any, error: BaseException | None, tb: Any) -> bool:
        from pygls.exceptions import JsonRpcException

        assert isinstance(error, JsonRpcException), f"expected LSP error {self.code}, got {error!r}"
        assert error.code == self.code, f"expected LSP error {self.code}, got {error.code}: {error.message}"
        if self.match is not None:
            assert self.match in error.message, error.message
        self.error = error
        return True


INVALID_PARAMS, REQUEST_CANCELLED, CONTENT_MODIFIED, REQUEST_FAILED = -32602, -32800, -32801, -32803
NOT_ANALYSED = -31001  # docs/PROTOCOL.md
