"""The composition root: build the server, wire each feature module, start the transport."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable

from lsprotocol import types

from atten_scope.lsp import analyze, hover, lifecycle, loading, logs, requests, transport
from atten_scope.lsp.server import AttenScopeServer
from atten_scope.lsp.workers import KeptModel

FEATURES = (analyze, requests, hover, loading)


def create_server(on_client_gone: Callable[[], None] = transport.exit_now) -> AttenScopeServer:
    """A server with every feature; ``on_client_gone`` runs once the editor's process (``processId``) has ended."""
    server = AttenScopeServer()
    lifecycle.register(server, on_client_gone)
    for feature in FEATURES:
        feature.register(server)
    return server


def start(tcp: int | None = None, host: str = "127.0.0.1", log_level: str = "INFO", once: bool = False) -> int:
    """Run the language server over stdio until the client ends it, or on ``host:tcp`` one client at a time.

    Over TCP a client leaving ends only its session; the server runs until it is stopped, or with
    ``once`` until its first client leaves. Returns the exit status: 0 after a ``shutdown``
    request, 1 otherwise (LSP ``exit``).
    """
    current: list[AttenScopeServer] = []  # the session whose client hears the log

    def send(params: types.LogMessageParams) -> None:
        for server in current[:1]:
            server.call_on_loop(server.window_log_message, params)

    logs.install(send, getattr(logging, log_level))
    if tcp is not None:
        return asyncio.run(_serve_tcp(host, tcp, once, current))
    server = create_server()
    current.append(server)
    transport.watch_parent(transport.exit_now)  # an editor that died without closing stdin
    # stdout carries the protocol: anything printed by a library must not end up in it.
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    server.start_io(stdin, stdout)
    return 0 if server.shut_down else 1


async def _serve_tcp(host: str, port: int, once: bool, current: list[AttenScopeServer]) -> int:
    # The loaded model outlives its session: a client that reconnects with the same model setting
    # (an editor reloading its window) finds it loaded instead of waiting for it again.
    kept: list[KeptModel] = []

    def new_session(end: Callable[[], None]) -> AttenScopeServer:
        server = create_server(end)
        if kept:
            server.engine.keep(kept.pop())
        current[:] = [server]
        return server

    async def end_session(server: AttenScopeServer) -> None:
        if server in current:
            current.clear()
        server.loop = None  # the engine's late messages have no client to go to
        server.session_ended.set()
        for cancel in list(server.analysing.values()):
            cancel.set()
        model = await asyncio.get_running_loop().run_in_executor(None, server.engine.close)
        if model is not None:
            kept.append(model)

    return await transport.serve_tcp(host, port, new_session, end_session, once)
