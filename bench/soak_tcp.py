"""The TCP side of the mixed soak: one ``serve --tcp PORT`` process, visited by short-lived clients.

Each visit is one connection, made the way an editor, a port probe or a crashed client makes it:

- ``silent``: connect and close without a byte (a port probe, a health check);
- ``dropped``: ``initialize`` (with this process's id as ``processId``), then close without
  ``shutdown`` (an editor that crashed or lost its network);
- ``orderly``: ``initialize``, ``initialized``, ``shutdown``, ``exit``, then wait for the server to
  close the connection (an editor window closing).

The server serves one client at a time and only learns that a client left when it reads the end of
its stream, so a client that connects right after another closed can be refused as busy for a few
milliseconds: that refusal is counted and the visit retried, as an editor would; a refusal that
lasts past ``BUSY_LIMIT_S`` is an error. A client that sent ``initialize`` before the refusal came
can meet a reset connection instead of the notice (the server closed with the request unread, so
the client's system answers with a reset and drops what it had received): a reset before the
answer to ``initialize`` counts as such a refusal.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

BUSY = "Another client is connected"
BUSY_LIMIT_S = 5.0
REPLY_LIMIT_S = 60.0  # a visit whose reply takes longer hung
WAYS = ("silent", "dropped", "orderly")


class TcpHung(Exception):
    pass


class TcpError(Exception):
    pass


class Busy(Exception):
    pass


@dataclass
class Visits:
    """What the visits of one cycle found."""

    made: int = 0
    busy: int = 0  # refusals as busy that a retry got past
    failures: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TcpServer:
    """``python -m atten_scope serve --tcp PORT`` as a child process, returned once it listens."""

    def __init__(self, root: Path, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.port = free_port()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root / "server"), env.get("PYTHONPATH", "")) if p)
        env.setdefault("HF_HUB_OFFLINE", "1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "atten_scope", "serve", "--tcp", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        stream = self.process.stderr
        assert stream is not None
        deadline = threading.Timer(120, self.process.kill)  # a server that never listens is a failure, not a hang
        deadline.start()
        try:
            for line in stream:
                if b"Listening on" in line:
                    break
            else:
                raise TcpError(f"the TCP server did not listen (exit status {self.process.wait()})")
        finally:
            deadline.cancel()
        # Its log keeps coming on stderr: drain it, or the server would block once the pipe is full.
        threading.Thread(target=_drain, args=(stream,), daemon=True).start()

    def alive(self) -> bool:
        return self.process.poll() is None

    def visit(self, way: str) -> bool:
        """One connection made ``way`` (see the module docstring); False when it was refused as busy.

        Raises TcpHung when an answer did not come within ``REPLY_LIMIT_S``, TcpError when the
        answer was wrong or the connection broke where it should not have."""
        answered = False
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=REPLY_LIMIT_S) as connection:
                if way == "silent":
                    return True
                stream = connection.makefile("rb")
                params = {
                    "processId": os.getpid(),
                    "rootUri": None,
                    "capabilities": {},
                    "initializationOptions": {"settings": self.settings},
                }
                connection.sendall(frame({"id": 1, "method": "initialize", "params": params}))
                answer = reply(stream, 1)
                answered = True
                if "attenScope" not in answer.get("result", {}).get("capabilities", {}).get("experimental", {}):
                    raise TcpError(f"initialize answered without the server's capabilities: {str(answer)[:200]}")
                if way == "dropped":
                    return True
                connection.sendall(frame({"method": "initialized", "params": {}}))
                connection.sendall(frame({"id": 2, "method": "shutdown"}))
                answer = reply(stream, 2)
                if "error" in answer:
                    raise TcpError(f"shutdown: {answer['error']}")
                connection.sendall(frame({"method": "exit"}))
                while read_message(stream) is not None:  # the server closes the session after exit
                    pass
                return True
        except Busy:
            return False
        except TimeoutError as error:
            raise TcpHung(f"TCP {way} visit: no answer in {REPLY_LIMIT_S:.0f} s") from error
        except (ConnectionResetError, BrokenPipeError) as error:
            if not answered:  # refused as busy while its initialize was on the way: the notice was lost
                return False
            raise TcpError(f"TCP {way} visit: {type(error).__name__}: {error}") from error
        except OSError as error:
            raise TcpError(f"TCP {way} visit: {type(error).__name__}: {error}") from error

    def visits(self, found: Visits) -> None:
        """One visit of each way, each retried while refused as busy, counted into ``found``; raises as ``visit``."""
        for way in WAYS:
            began = time.perf_counter()
            while not self.visit(way):
                found.busy += 1
                if time.perf_counter() - began > BUSY_LIMIT_S:
                    found.failures.append(f"TCP {way} visit refused as busy for {BUSY_LIMIT_S:.0f} s")
                    break
                time.sleep(0.1)
            found.made += 1

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def _drain(stream: IO[bytes]) -> None:
    for _ in stream:
        pass


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
    message: dict[str, Any] = json.loads(stream.read(length))
    return message


def reply(stream: IO[bytes], ident: int) -> dict[str, Any]:
    """The answer to request ``ident``; raises Busy for a refusal as busy and TcpError when the
    connection closes before the answer."""
    refused = False
    while (message := read_message(stream)) is not None:
        if message.get("method") == "window/showMessage" and BUSY in str(message.get("params", {}).get("message")):
            refused = True
        elif message.get("id") == ident and "method" not in message:
            return message
    if refused:
        raise Busy
    raise TcpError(f"the connection closed before the answer to request {ident}")
