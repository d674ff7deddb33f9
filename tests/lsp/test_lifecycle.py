"""The LSP lifecycle over a raw pipe: requests after shutdown, exit with and without shutdown."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from .support import server_config


class RawServer:
    """The server as a subprocess spoken to in framed JSON-RPC, as an editor would."""

    def __init__(self) -> None:
        config = server_config()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "atten_scope", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=config.server_env,
        )
        self.next_id = 0

    def send(self, method: str, params: Any = None, request: bool = True) -> int | None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        ident = None
        if request:
            self.next_id += 1
            ident = message["id"] = self.next_id
        body = json.dumps(message).encode("utf-8")
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()
        return ident

    def reply(self, ident: int) -> dict[str, Any]:
        """The response to request ``ident`` (notifications in between are skipped)."""
        assert self.process.stdout is not None
        while True:
            length = 0
            while (line := self.process.stdout.readline().strip()) != b"":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            message: dict[str, Any] = json.loads(self.process.stdout.read(length))
            if message.get("id") == ident and "method" not in message:
                return message

    def initialize(self) -> None:
        ident = self.send("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        assert ident is not None and "capabilities" in self.reply(ident)["result"]
        self.send("initialized", {}, request=False)


def test_requests_after_shutdown_get_invalid_request_and_exit_is_clean() -> None:
    server = RawServer()
    try:
        server.initialize()
        shutdown = server.send("shutdown")
        assert shutdown is not None and server.reply(shutdown)["result"] is None
        late = server.send("attenScope/attention", {"textDocument": {"uri": "file:///a.py"}})
        assert late is not None
        error = server.reply(late)["error"]
        assert error["code"] == -32600 and "shutting down" in error["message"]
        server.send("exit", request=False)
        assert server.process.wait(timeout=60) == 0
    finally:
        server.process.kill()


def test_exit_without_shutdown_exits_with_status_1() -> None:
    server = RawServer()
    try:
        server.initialize()
        server.send("exit", request=False)
        assert server.process.wait(timeout=60) == 1
    finally:
        server.process.kill()


def test_closed_documents_give_their_memory_back() -> None:
    """RSS after many open / analyse / close cycles stays near RSS after the first few."""
    import psutil

    from .support import SAMPLE

    text = SAMPLE.read_text(encoding="utf-8") * 4
    server = RawServer()
    process = psutil.Process(server.process.pid)
    try:
        server.initialize()
        server.send("workspace/didChangeConfiguration", {"settings": {"device": "cpu"}}, request=False)
        samples = []
        for cycle in range(10):
            uri = f"file:///project/cycle{cycle}.py"
            document = {"uri": uri, "languageId": "python", "version": 1, "text": text}
            server.send("textDocument/didOpen", {"textDocument": document}, request=False)
            analyzed = server.send("attenScope/analyze", {"textDocument": {"uri": uri}})
            assert analyzed is not None and server.reply(analyzed)["result"]["tokens"] > 300
            if cycle == 6:  # closed while its analysis runs: nothing of it may stay behind
                server.send("textDocument/didOpen", {"textDocument": {**document, "uri": uri + "x"}}, request=False)
                pending = server.send("attenScope/analyze", {"textDocument": {"uri": uri + "x"}})
                server.send("textDocument/didClose", {"textDocument": {"uri": uri + "x"}}, request=False)
                assert pending is not None and "error" in server.reply(pending)
            server.send("textDocument/didClose", {"textDocument": {"uri": uri}}, request=False)
            # a request answered after the close: the release queued behind it has run
            probe = server.send("attenScope/analyze", {"textDocument": {"uri": "file:///nowhere.py"}})
            assert probe is not None and "error" in server.reply(probe)
            samples.append(process.memory_info().rss)
        settled, last = max(samples[2:4]), samples[-1]
        assert last <= 1.10 * settled, [round(s / 2**20) for s in samples]
    finally:
        server.process.kill()
