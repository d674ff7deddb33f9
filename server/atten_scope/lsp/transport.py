"""How the server meets its editor: TCP sessions one at a time, and the watch on the editor's process.

pygls' ``start_tcp`` serves every connection with one server object and stops the whole process
when its first connection closes, so a port probe or a health check would end it. This module
runs its own accept loop over asyncio instead: each connection is a session with a fresh server
(documents, settings), a second client while one is connected is told why and closed, and a
closed connection only ends its session.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from pygls.io_ import run_async

from atten_scope.common.errors import AttenScopeError

if TYPE_CHECKING:
    from atten_scope.lsp.server import AttenScopeServer

log = logging.getLogger(__name__)
POLL_S = 1.0  # how often a watched process is looked at: exit within a few seconds of its end
BUSY = "Another client is connected to this Atten-Scope server, which serves one at a time: try again once it leaves."


class ListenError(AttenScopeError):
    """The TCP port cannot be listened on (in use, not allowed)."""


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie counts as running: its parent has not reaped it)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _alive_windows(pid)
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _alive_windows(pid: int) -> bool:
    # os.kill(pid, 0) would terminate the process on Windows; ask the kernel through ctypes (no new dependency).
    import ctypes

    synchronize, wait_timeout = 0x00100000, 0x102
    kernel = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
    handle = kernel.OpenProcess(synchronize, False, pid)
    if not handle:
        return False
    try:
        return bool(kernel.WaitForSingleObject(handle, 0) == wait_timeout)
    finally:
        kernel.CloseHandle(handle)


def watch_process(pid: int, gone: Callable[[], None], what: str, stop: threading.Event | None = None) -> None:
    """Call ``gone`` (on a daemon thread) once process ``pid``, ``what`` for the log, has ended;
    the watch ends without calling it once ``stop`` is set (a TCP session whose client left: its
    editor may live on, and a thread per past session would pile up)."""
    _watch(lambda: not alive(pid), gone, f"{what} (process {pid}) has ended", stop)


def watch_parent(gone: Callable[[], None]) -> None:
    """Call ``gone`` once the process that started this one has ended (on POSIX this one is then re-parented)."""
    parent = os.getppid()
    posix = sys.platform != "win32"
    _watch(
        lambda: not alive(parent) or (posix and os.getppid() != parent),
        gone,
        f"The process that started the server ({parent}) has ended",
    )


def _watch(ended: Callable[[], bool], gone: Callable[[], None], why: str, stop: threading.Event | None = None) -> None:
    stopped = stop or threading.Event()

    def watch() -> None:
        while not ended():
            if stopped.wait(POLL_S):
                return
        log.warning("%s: closing.", why)
        gone()

    threading.Thread(target=watch, name="atten-scope-watch", daemon=True).start()


def exit_now(status: int = 1) -> None:
    """End the process at once: a thread blocked on stdin would keep an orderly exit waiting forever."""
    logging.shutdown()
    sys.stderr.flush()
    os._exit(status)


class _Discard:
    """The writer of a session whose client has gone: its late replies and notifications are dropped."""

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def _notice(message: str) -> bytes:
    """``message`` as a framed ``window/showMessage`` (an editor shows it; a person reading the socket can too)."""
    body = json.dumps({"jsonrpc": "2.0", "method": "window/showMessage", "params": {"type": 1, "message": message}})
    return f"Content-Length: {len(body.encode())}\r\n\r\n{body}".encode()


# A session: build its server (told how to end the session), and say what to do once it has ended.
NewSession = Callable[[Callable[[], None]], "AttenScopeServer"]
EndSession = Callable[["AttenScopeServer"], Awaitable[None]]


async def serve_tcp(host: str, port: int, new_session: NewSession, end_session: EndSession, once: bool) -> int:
    """Serve one client at a time on ``host:port``: forever, or with ``once`` until the first client leaves.

    Returns the exit status of the last session (0 after ``shutdown``, 1 without it).
    """
    active: asyncio.Task[None] | None = None
    ending: asyncio.Future[None] | None = None  # the previous session's end: the next waits for it
    status = 1
    finished = asyncio.Event()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal active, ending, status
        peer = writer.get_extra_info("peername")
        if active is not None:
            log.warning("Refused a second client (%s): %s", peer, BUSY)
            writer.write(_notice(f"Atten-Scope: {BUSY}"))
            await _close(writer)
            return
        active = asyncio.current_task()
        if ending is not None:
            await ending  # the previous session's work has stopped, so two never share the model
        log.info("Client connected (%s)", peer)
        loop = asyncio.get_running_loop()

        def end() -> None:  # from the thread that watches the client's process
            loop.call_soon_threadsafe(writer.close)

        server = new_session(end)
        server.protocol.set_writer(writer)
        try:
            await run_async(
                stop_event=threading.Event(),
                reader=reader,
                protocol=server.protocol,
                logger=log,
                error_handler=server.report_server_error,
            )
        except SystemExit:
            pass  # the client's exit notification: it ends this session, not the process
        except ConnectionError as error:
            log.info("Client connection lost: %s", error)
        finally:
            log.info("Client disconnected (%s)", peer)
            status = 0 if server.shut_down else 1
            server.protocol.set_writer(_Discard())
            await _close(writer)
            active = None
            ending = asyncio.ensure_future(end_session(server))
            if once:
                await ending
                finished.set()

    try:
        listener = await asyncio.start_server(session, host, port)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ListenError(
                f"Port {port} is in use: another program (perhaps another atten-scope serve) listens on it; "
                "stop it or choose another port with --tcp."
            ) from error
        raise ListenError(f"Cannot listen on {host}:{port}: {error.strerror or error}.") from error
    log.info("Listening on %s:%d (one client at a time%s)", host, port, ", exit after the first" if once else "")
    async with listener:
        if once:
            await finished.wait()
        else:
            await listener.serve_forever()
    return status


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):  # the peer went first
        pass
