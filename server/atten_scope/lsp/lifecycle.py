"""Initialize, configuration changes, the editor's document symbols, closed documents and shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from atten_scope.common.errors import InvalidRequest
from atten_scope.lsp.transport import watch_process
from atten_scope.views.units import parse_symbols

if TYPE_CHECKING:
    from atten_scope.lsp.server import AttenScopeServer

SYMBOLS = "attenScope/symbols"
log = logging.getLogger(__name__)


def register(server: AttenScopeServer, on_client_gone: Callable[[], None]) -> None:
    """Wire the lifecycle messages; ``on_client_gone`` runs once the ``processId`` of ``initialize`` has ended."""

    @server.feature(types.INITIALIZE)
    def initialize(ls: AttenScopeServer, params: types.InitializeParams) -> None:
        ls.loop = asyncio.get_running_loop()
        # LSP: a server exits when the process that started it is gone, even with its stdin still open.
        pid = params.process_id
        if isinstance(pid, int) and pid > 0 and pid != os.getpid():
            watch_process(pid, on_client_gone, "The editor", ls.session_ended)
        options = params.initialization_options
        if options is not None:
            ls.apply_settings(options)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: AttenScopeServer, params: types.DidChangeConfigurationParams) -> None:
        ls.apply_settings(params.settings)

    @server.feature(SYMBOLS)
    def symbols(ls: AttenScopeServer, params: Any) -> None:
        # A notification: a malformed one is logged and dropped (the parse or blocks of lines stand in).
        document = params.get("textDocument") if isinstance(params, dict) else None
        uri = document.get("uri") if isinstance(document, dict) else None
        version = document.get("version") if isinstance(document, dict) else None
        try:
            if not isinstance(uri, str) or not (version is None or isinstance(version, int)):
                raise InvalidRequest("attenScope/symbols needs textDocument {uri, version}.")
            raw = params.get("symbols")
            parse_symbols(raw)
        except InvalidRequest as error:
            log.warning("Ignored attenScope/symbols: %s", error)
            return
        ls.symbols.put(uri, version, raw)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: AttenScopeServer, params: types.DidChangeTextDocumentParams) -> None:
        # A completion continues one version of the text: an edit makes it another text's.
        ls.completions.discard_document(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: AttenScopeServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        running = ls.analysing.get(uri)
        if running is not None:
            running.set()  # an analysis of a closed document is never shown: stop it
        ls.engine.drop_idle(uri)
        ls.symbols.discard(uri)
        # Its analysis stays (within attenScope.cacheDocuments): reopening the same text reuses it.
        ls.store.close(uri)
        if ls.completions.discard_document(uri):
            ls.engine.in_background(ls.engine.release_when_quiet(), "Releasing memory")

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: AttenScopeServer, *_: Any) -> None:
        ls.shut_down = True
        ls.engine.shutdown()
