"""The Atten-Scope language server (docs/PROTOCOL.md): ``python -m atten_scope serve [--tcp PORT]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import cattrs
from lsprotocol import types
from pygls.exceptions import FeatureRequestError, JsonRpcContentModified, JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage, LanguageServerProtocol, default_converter
from pygls.workspace import TextDocument

from . import logs
from .documents import AnalysisStore, Entry
from .engine import Engine
from .settings import Settings, parse_settings

NAME = "atten-scope"
log = logging.getLogger(__name__)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("atten-scope")
    except Exception:  # running from a source tree
        return "0.0.0"


def json_converter() -> cattrs.Converter:
    """pygls' converter, except that custom messages keep their params as plain JSON.

    By default they become namedtuples, which renames keys that are not identifiers and cannot be
    told apart from lists; a message without ``params`` would not even be answered.
    """
    converter = default_converter()

    def request(obj: dict[str, Any], cls: type) -> Any:
        return cls(id=obj.get("id"), method=obj.get("method"), jsonrpc=obj.get("jsonrpc"), params=obj.get("params"))

    def notification(obj: dict[str, Any], cls: type) -> Any:
        return cls(method=obj.get("method"), jsonrpc=obj.get("jsonrpc"), params=obj.get("params"))

    converter.register_structure_hook(JsonRPCRequestMessage, request)
    converter.register_structure_hook(JsonRPCNotification, notification)
    return converter


class Protocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException:
            # pygls drops a request whose params do not fit the LSP types: answer it, or the client waits forever.
            if isinstance(data, dict) and "id" in data and "method" in data:
                reply = JsonRpcInvalidParams(f"The parameters of {data['method']} are malformed.")
                self._send_response(data["id"], None, reply.to_response_error())
            raise


class ExpectedErrors(logging.Filter):
    """Drop pygls' tracebacks for the errors this server raises on purpose (the client gets them)."""

    CODES = (-32602, -32800, -32801, -32803)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, JsonRpcException) and error.code in self.CODES)


class AttenScopeServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            NAME,
            _version(),
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=Protocol,
            converter_factory=json_converter,
        )
        self.settings = Settings()
        self.store = AnalysisStore(self.settings.cache_documents)
        self.engine = Engine(self)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.analyses_running = 0

    def report_server_error(self, error: Exception, source: Any) -> None:
        # pygls would pop up every internal error; requests already carry theirs, the rest goes to the log.
        if source is not FeatureRequestError:
            log.error("Internal error (%s): %s", getattr(source, "__name__", source), error)

    # ---- notifications to the client

    def call_on_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` on the event loop; the writer must only be used from there."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def status(self, state: str, message: str, model: str | None = None) -> None:
        params: dict[str, Any] = {"state": state, "message": message}
        if model is not None:
            params["model"] = model
        self.protocol.notify("attenScope/status", params)

    def show_error(self, message: str) -> None:
        self._show(types.MessageType.Error, message)

    def show_warning(self, message: str) -> None:
        self._show(types.MessageType.Warning, message)

    def _show(self, kind: types.MessageType, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"Atten-Scope: {message}"))

    # ---- settings and documents

    def apply_settings(self, raw: Any) -> None:
        settings, warnings = parse_settings(raw, self.settings)
        for warning in warnings:
            log.warning("%s", warning)
            self.show_warning(warning)
        self.settings = settings
        self.store.resize(settings.cache_documents)
        if self.engine.model_changed(settings):
            self.store.clear()
            log.info("Model settings changed: loading %s", settings.model)
            # Load now, in the background, so the next analysis finds the new model ready.
            task = asyncio.ensure_future(self.engine.ensure_loaded(settings))
            task.add_done_callback(_ignore_failure)

    def document(self, uri: str) -> TextDocument:
        doc = self.workspace.text_documents.get(unquote(uri))
        if doc is None:
            raise JsonRpcInvalidParams(f"The document {uri} is not open in the editor.")
        return doc

    def current_entry(self, uri: str) -> Entry:
        """The analysis of ``uri`` at the document's current version, or the LSP error to answer."""
        doc = self.document(uri)
        entry = self.store.get(uri)
        if entry is None:
            raise JsonRpcInvalidParams("This document has not been analysed: Run 'Atten-Scope: Analyze File' first.")
        if entry.version != doc.version:
            raise JsonRpcContentModified(
                f"The document changed since it was analysed (version {entry.version}, now {doc.version}): "
                "analyse it again."
            )
        return entry


def _ignore_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # already reported to the user by the loader


def create_server() -> AttenScopeServer:
    from . import features

    server = AttenScopeServer()
    features.register(server)
    return server


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="atten-scope serve", description="Run the Atten-Scope language server.")
    parser.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default)")
    parser.add_argument("--tcp", type=int, metavar="PORT", help="listen on a TCP port instead of stdio")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on with --tcp (default 127.0.0.1)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    if args.tcp is not None and not 0 < args.tcp < 65536:
        parser.error("--tcp needs a port number from 1 to 65535")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``atten-scope serve``; ``argv`` excludes the ``serve`` word."""
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    level = getattr(logging, args.log_level)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pygls.protocol.json_rpc").addFilter(ExpectedErrors())
    server = create_server()
    logs.install(server, level)
    if args.tcp is not None:
        server.start_tcp(args.host, args.tcp)
        return 0
    # stdout carries the protocol: anything printed by a library must not end up in it.
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    server.start_io(stdin, stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
