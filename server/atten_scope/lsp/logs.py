"""Route the engine's Python logging to the client's output channel (``window/logMessage``)."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from .server import AttenScopeServer

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
    """Sends records as ``window/logMessage``; records from worker threads hop onto the event loop,
    because the writer is not safe to use from two threads."""

    def __init__(self, server: AttenScopeServer, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.server = server
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._local, "busy", False):
            return  # a log call made while sending one would recurse
        loop = self.server.loop
        if loop is None or loop.is_closed():
            return
        try:
            params = types.LogMessageParams(type=message_type(record.levelno), message=self.format(record))
        except Exception:  # logging must never raise into the caller
            self.handleError(record)
            return
        if _on_loop(loop):
            self._send(params)
        else:
            loop.call_soon_threadsafe(self._send, params)

    def _send(self, params: types.LogMessageParams) -> None:
        self._local.busy = True
        try:
            self.server.window_log_message(params)
        except Exception:  # a closed connection must not break logging
            pass
        finally:
            self._local.busy = False


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def install(server: AttenScopeServer, level: int = logging.INFO) -> ClientLogHandler:
    """Engine messages go to the client; everything (pygls included) also goes to stderr."""
    handler = ClientLogHandler(server, level)
    handler.setFormatter(logging.Formatter("%(message)s"))
    engine = logging.getLogger("atten_scope")
    engine.setLevel(level)
    engine.addHandler(handler)
    return handler
