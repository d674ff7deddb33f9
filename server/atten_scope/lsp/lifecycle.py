"""Initialize, configuration changes, closed documents and shutdown."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from lsprotocol import types

if TYPE_CHECKING:
    from .server import AttenScopeServer


def register(server: AttenScopeServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: AttenScopeServer, params: types.InitializeParams) -> None:
        ls.loop = asyncio.get_running_loop()
        options = params.initialization_options
        if options is not None:
            ls.apply_settings(options)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: AttenScopeServer, params: types.DidChangeConfigurationParams) -> None:
        ls.apply_settings(params.settings)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: AttenScopeServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        running = ls.analysing.get(uri)
        if running is not None:
            running.set()  # an analysis of a closed document is never shown: stop it
        ls.engine.drop_idle(uri)
        if ls.store.discard(uri):
            ls.engine.in_background(ls.engine.release_when_quiet(), "Releasing memory")

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: AttenScopeServer, *_: Any) -> None:
        ls.shut_down = True
        ls.engine.shutdown()
