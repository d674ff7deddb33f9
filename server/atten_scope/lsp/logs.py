"""Logging: the engine's records go to the client's output channel (``window/logMessage``) and stderr."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from atten_scope.lsp.rpc_errors import NOT_ANALYSED, REQUEST_FAILED

_LEVELS = (
    (logging.ERROR, types.MessageType.Error),
    (logging.WARNING, types.MessageType.Warning),
    (logging.INFO, types.MessageType.Info),
)


def message_type(level: int) -> types.MessageType:
    for threshold, kind in _LEVELS:
        if level >= threshold:
            return kind
    return types.MessageType.Log


class ClientLogHandler(logging.Handler):
    """Sends records as ``window/logMessage`` through ``send``, which must be safe to call from any
    thread (the server hops onto its event loop, because the writer is not thread-safe)."""

    def __init__(self, send: Callable[[types.LogMessageParams], None], level: int = logging.INFO) -> None:
        super().__init__(level)
        self.send = send
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._local, "busy", False):
            return  # a log call made while sending one would recurse
        self._local.busy = True
        try:
            self.send(types.LogMessageParams(type=message_type(record.levelno), message=self.format(record)))
        except Exception:  # logging must never raise into the caller, nor break on a closed connection
            self.handleError(record)
        finally:
            self._local.busy = False


class ExpectedErrors(logging.Filter):
    """Drop pygls' tracebacks for the errors this server raises on purpose (the client gets them)."""

    CODES = (-32602, -32800, -32801, REQUEST_FAILED, NOT_ANALYSED)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, JsonRpcException) and error.code in self.CODES)


def install(send: Callable[[types.LogMessageParams], None], level: int = logging.INFO) -> ClientLogHandler:
    """Engine messages go to the client at ``level``; warnings of every library also go to stderr."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pygls.protocol.json_rpc").addFilter(ExpectedErrors())
    handler = ClientLogHandler(send, level)
    handler.setFormatter(logging.Formatter("%(message)s"))
    engine = logging.getLogger("atten_scope")
    engine.setLevel(level)
    engine.addHandler(handler)
    return handler
