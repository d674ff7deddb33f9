"""The composition root: build the server, wire each feature module, start the transport."""

from __future__ import annotations

import logging
import sys

from lsprotocol import types

from atten_scope.lsp import analyze, hover, lifecycle, logs, removal, requests
from atten_scope.lsp.server import AttenScopeServer

FEATURES = (lifecycle, analyze, requests, hover, removal)


def create_server() -> AttenScopeServer:
    server = AttenScopeServer()
    for feature in FEATURES:
        feature.register(server)
    return server


def start(tcp: int | None = None, host: str = "127.0.0.1", log_level: str = "INFO") -> int:
    """Run the language server over stdio, or on ``host:tcp``, until the client ends it.

    Returns the exit status: 0 after a ``shutdown`` request, 1 otherwise (LSP ``exit``).
    """
    server = create_server()

    def send(params: types.LogMessageParams) -> None:
        server.call_on_loop(server.window_log_message, params)

    logs.install(send, getattr(logging, log_level))
    if tcp is not None:
        server.start_tcp(host, tcp)
    else:
        # stdout carries the protocol: anything printed by a library must not end up in it.
        stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
        sys.stdout = sys.stderr
        server.start_io(stdin, stdout)
    return 0 if server.shut_down else 1
