"""The server process in an editor's life: TCP sessions one at a time, a busy port, a dead editor."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest

from .support import server_config

SERVE = [sys.executable, "-m", "atten_scope", "serve"]
BUSY = "Another client is connected to this Atten-Scope server, which serves one at a time"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_tcp(port: int, *extra: str) -> subprocess.Popen[bytes]:
    """``serve --tcp port``, returned once it listens."""
    process = subprocess.Popen(
        [*SERVE, "--tcp", str(port), *extra], stderr=subprocess.PIPE, env=server_config().server_env
    )
    assert process.stderr is not None
    deadline = threading.Timer(60, process.kill)  # a server that never listens fails the test, not hangs it
    deadline.start()
    try:
        for line in process.stderr:
            if b"Listening on" in line:
                return process
    finally:
        deadline.cancel()
    raise AssertionError(f"the server did not listen (status {process.wait()})")


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_message(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next framed message, or None at the end of the stream."""
    length = 0
    while (line := stream.readline()) not in (b"\r\n", b"\n"):
        if not line:
            return None
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    result: dict[str, Any] = json.loads(stream.read(length))
    return result


def reply(stream: IO[bytes], ident: int) -> dict[str, Any]:
    while (message := read_message(stream)) is not None:
        if message.get("id") == ident and "method" not in message:
            return message
    raise AssertionError("the connection closed before the reply")


class Client:
    """An editor on a TCP connection, speaking framed JSON-RPC."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.stream = self.socket.makefile("rb")

    def initialize(self, settings: dict[str, Any], process_id: int | None = None) -> dict[str, Any]:
        params = {"processId": process_id, "rootUri": None, "capabilities": {}, "initializationOptions": settings}
        self.socket.sendall(frame({"id": 1, "method": "initialize", "params": params}))
        return reply(self.stream, 1)

    def request(self, ident: int, method: str, params: Any) -> dict[str, Any]:
        self.socket.sendall(frame({"id": ident, "method": method, "params": params}))
        return reply(self.stream, ident)

    def close(self) -> None:
        self.stream.close()
        self.socket.close()


def initialized(port: int, process_id: int | None = None) -> Client:
    """A client whose ``initialize`` (naming ``process_id`` as the editor's) was answered; retried
    while the server has yet to see the previous client's connection close (it refuses a second
    client until then)."""
    deadline = time.monotonic() + 20
    while True:
        client = Client(port)
        try:
            assert "capabilities" in client.initialize({"maxTokens": 300}, process_id)["result"]
            return client
        except (ConnectionError, AssertionError):
            client.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_tcp_serves_one_client_at_a_time_and_outlives_each() -> None:
    port = free_port()
    server = serve_tcp(port)
    try:
        socket.create_connection(("127.0.0.1", port)).close()  # a port probe: not a client
        first = initialized(port)
        second = Client(port)
        refusal = read_message(second.stream)
        assert refusal is not None and refusal["method"] == "window/showMessage"
        assert BUSY in refusal["params"]["message"]
        assert read_message(second.stream) is None  # then closed
        second.close()
        assert first.request(2, "shutdown", None)["result"] is None
        first.socket.sendall(frame({"method": "exit"}))  # ends the session, not the server
        assert read_message(first.stream) is None
        first.close()
        time.sleep(0.5)
        assert server.poll() is None
        initialized(port).close()  # a fresh session: initialize is answered again
        time.sleep(0.5)
        assert server.poll() is None
    finally:
        server.kill()
        server.wait()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's threads from /proc")
def test_tcp_sessions_of_an_editor_that_lives_on_leave_no_thread_behind() -> None:
    """Each session watches the editor process its ``initialize`` names; the watch ends with the
    session, so an editor that reconnects again and again does not pile up one thread per session."""

    def threads(pid: int) -> int:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("Threads:")).split()[1])

    def session() -> None:
        client = initialized(port, os.getpid())  # this process: it outlives every session
        assert client.request(2, "shutdown", None)["result"] is None
        client.socket.sendall(frame({"method": "exit"}))
        assert read_message(client.stream) is None
        client.close()

    port = free_port()
    server = serve_tcp(port)
    try:
        for _ in range(2):
            session()
        time.sleep(1.0)  # the last session's end runs after its connection closed
        before = threads(server.pid)
        for _ in range(6):
            session()
        time.sleep(1.0)
        assert threads(server.pid) <= before + 1
        assert server.poll() is None
    finally:
        server.kill()
        server.wait()


def test_tcp_once_exits_after_its_client() -> None:
    port = free_port()
    server = serve_tcp(port, "--once")
    try:
        client = Client(port)
        assert "capabilities" in client.initialize({})["result"]
        client.close()
        assert server.wait(timeout=30) == 1  # no shutdown request: LSP's exit status 1
    finally:
        server.kill()
        server.wait()


def test_a_busy_port_says_so_and_exits_with_status_2() -> None:
    port = free_port()
    first = serve_tcp(port)
    try:
        second = subprocess.run(
            [*SERVE, "--tcp", str(port)], capture_output=True, env=server_config().server_env, timeout=60
        )
        assert second.returncode == 2
        message = second.stderr.decode().strip()
        assert f"Port {port} is in use" in message
        assert "Traceback" not in message
        assert first.poll() is None
    finally:
        first.kill()
        first.wait()


def ended(pid: int) -> bool:
    """Whether ``pid`` has ended: gone, or a zombie nobody reaps (its parent died too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def wait_ended(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ended(pid):
            return True
        time.sleep(0.2)
    return ended(pid)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and /proc")
def test_the_server_exits_when_the_editor_process_named_in_initialize_ends() -> None:
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    server = subprocess.Popen(
        SERVE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=server_config().server_env
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        params: dict[str, Any] = {"processId": editor.pid, "rootUri": None, "capabilities": {}}
        server.stdin.write(frame({"id": 1, "method": "initialize", "params": params}))
        server.stdin.flush()
        assert "capabilities" in reply(server.stdout, 1)["result"]
        editor.kill()
        editor.wait()
        # stdin stays open: only the editor's end tells the server to go.
        assert server.wait(timeout=10) == 1
    finally:
        editor.kill()
        server.kill()
        server.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and /proc")
def test_the_server_exits_when_the_process_that_started_it_ends() -> None:
    # The launcher starts the server on a pipe this test holds, so stdin stays open after it dies.
    launcher_code = (
        "import subprocess, sys, time; print(subprocess.Popen(sys.argv[1:]).pid, flush=True); time.sleep(120)"
    )
    read_end, write_end = os.pipe()
    launcher = subprocess.Popen(
        [sys.executable, "-c", launcher_code, *SERVE],
        stdin=read_end,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=server_config().server_env,
    )
    os.close(read_end)
    try:
        assert launcher.stdout is not None
        pid = int(launcher.stdout.readline())
        params: dict[str, Any] = {"processId": None, "rootUri": None, "capabilities": {}}
        os.write(write_end, frame({"id": 1, "method": "initialize", "params": params}))
        assert "capabilities" in reply(launcher.stdout, 1)["result"]  # up, and watching its parent
        launcher.kill()
        launcher.wait()
        assert wait_ended(pid, 10), "the server outlived the process that started it"
    finally:
        os.close(write_end)
        launcher.kill()
        launcher.wait()
