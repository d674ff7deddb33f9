"""Plays fuzz programs (``fuzz_strategies``) against a real language server and checks its answers.

The properties, for every request a program sends:

- it is answered within ``hang_s`` seconds (else a *hang*), while the server process runs (else a
  *death*);
- the answer is a result (an object; a hover may be null) or an error whose code docs/PROTOCOL.md
  documents for a request: InvalidParams (-32602), RequestCancelled (-32800), ContentModified
  (-32801), RequestFailed (-32803) or NotAnalysed (-31001), with a message. InternalError
  (-32603) is an *internal error*; any other code an *undocumented error*.

After each program the player restores the baseline settings, closes the documents and checks
that the server still answers (a request refused at once, without the model). With ``logs``, an
error the server logs (handling a notification, which no answer carries) is reported as a
*logged error*: pygls logs a client's didChange of a document it never opened that way, so the
short test leaves them to ``bench/fuzz.py``, which lists them for a reader to judge.

Shared by ``tests/lsp/test_fuzz.py`` and ``bench/fuzz.py``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features
from pytest_lsp.protocol import LanguageClientProtocol

from atten_scope.engine.embedded import EMBEDDED_ID
from atten_scope.limits import CACHE_DOCUMENTS, MEMORY_BUDGET_MB, TOP_K
from atten_scope.registry import DEFAULT_AGGREGATE, DEFAULT_DIRECTION, DEFAULT_REFINEMENT

from .fuzz_strategies import (
    HOVER,
    NOTIFICATIONS,
    REQUESTS,
    URIS,
    Cancel,
    CompletionUri,
    Notify,
    Request,
    Step,
    Uri,
    Version,
    Wait,
)
from .support import (
    CONTENT_MODIFIED,
    INVALID_PARAMS,
    NOT_ANALYSED,
    REQUEST_CANCELLED,
    REQUEST_FAILED,
    plain_converter,
    server_config,
)

INTERNAL_ERROR = -32603
DOCUMENTED = {
    INVALID_PARAMS: "InvalidParams",
    REQUEST_CANCELLED: "RequestCancelled",
    CONTENT_MODIFIED: "ContentModified",
    REQUEST_FAILED: "RequestFailed",
    NOT_ANALYSED: "NotAnalysed",
}
# The settings every program starts from: all of them, so a program's changes are undone.
BASELINE: dict[str, Any] = {
    "model": EMBEDDED_ID,
    "device": "cpu",
    "trustRemoteCode": False,
    "maxTokens": 64,
    "cacheDocuments": CACHE_DOCUMENTS.default,
    "memoryBudgetMB": MEMORY_BUDGET_MB.default,
    "refinement": DEFAULT_REFINEMENT,
    "aggregate": DEFAULT_AGGREGATE,
    "direction": DEFAULT_DIRECTION,
    "layers": "all",
    "heads": "all",
    "dropSink": True,
    "topK": TOP_K.default,
}
PROBE_S = 60.0  # a request refused before any work is answered at once, even while a model loads
_SENT = frozenset((*REQUESTS, *NOTIFICATIONS))


class RawClientProtocol(LanguageClientProtocol):
    """The client's side of the messages the fuzzer sends goes out as plain JSON, never through
    lsprotocol's types, so malformed params reach the server as they are (and results come back
    as plain JSON); the server's own messages to the client keep their types."""

    def get_message_type(self, method: str) -> Any:  # type: ignore[override]
        return None if method in _SENT else super().get_message_type(method)

    def get_result_type(self, method: str) -> Any:  # type: ignore[override]
        return None if method in _SENT else super().get_result_type(method)


def _ignore(*_: Any) -> None:
    pass


def make_fuzz_client() -> LanguageClient:
    """A test client that sends raw params and takes progress for tokens it never created quietly."""
    client = LanguageClient(protocol_cls=RawClientProtocol, converter_factory=plain_converter)
    register_lsp_features(client, {m: f for m, f in DEFAULT_CLIENT_FEATURES.items() if m != types.PROGRESS})
    client.feature(types.PROGRESS)(_ignore)
    client.feature("attenScope/status")(_ignore)
    return client


def fuzz_config() -> ClientServerConfig:
    """``support.server_config`` with the fuzz client."""
    return attrs.evolve(server_config(), client_factory=make_fuzz_client)


@dataclass(frozen=True)
class Finding:
    """A broken property: ``kind`` is internal error, undocumented error, malformed result, hang,
    death or logged error."""

    kind: str
    method: str
    params: Any
    detail: str

    @property
    def signature(self) -> str:
        """What tells findings apart: the kind, method and message with its numbers and names blurred."""
        blurred = re.sub(r"\d+", "N", re.sub(r"'[^']*'|\"[^\"]*\"", "S", self.detail))[:90]
        return f"{self.kind} | {self.method} | {blurred}"

    def __str__(self) -> str:
        return f"{self.kind}: {self.method} {self.params!r:.400} -> {self.detail:.400}"


@dataclass
class Sent:
    id: str
    method: str
    params: Any
    answer: asyncio.Future[Any]
    checked: bool = False


def server_running(client: LanguageClient) -> bool:
    """Whether the server process still runs (pytest-lsp keeps it as ``_server``)."""
    process = getattr(client, "_server", None)
    return process is not None and process.returncode is None


@dataclass(repr=False)
class Player:
    """Plays programs against the server behind ``client``, one after the other."""

    client: LanguageClient
    hang_s: float
    logs: bool = False  # report the errors the server logs
    findings: list[Finding] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    versions: dict[int, int] = field(default_factory=dict)
    completion_uri: str | None = None
    counter: int = 0
    healthy: bool = True  # False after a hang or a death: the server must be replaced

    def __repr__(self) -> str:  # hypothesis prints the fixture with a failing example
        return f"Player(hang_s={self.hang_s}, requests sent={self.counter})"

    async def play(self, program: Sequence[Step]) -> list[Finding]:
        """Send the program's messages in order (requests without waiting for their answers, except
        at ``Wait``), then wait for every answer, restore the baseline and probe the server.
        Returns the findings of this program."""
        self.findings, self.sent, self.completion_uri = [], [], None
        logged = len(self.client.log_messages)
        for step in program:
            if isinstance(step, Request):
                self.request(step.method, self.fill(step.params))
            elif isinstance(step, Notify):
                self.notify(step.method, self.fill(step.params))
            elif isinstance(step, Cancel):
                if self.sent:
                    self.notify("$/cancelRequest", {"id": self.sent[-1 - step.which % len(self.sent)].id})
            elif isinstance(step, Wait):
                await self.settle()
            if not self.healthy:
                return self.findings
            await asyncio.sleep(0)
        await self.settle()
        if self.healthy:
            await self.restore()
        if self.logs:
            self.logged_errors(logged)
        return self.findings

    # ---- messages

    def fill(self, value: Any) -> Any:
        """``value`` with its placeholders replaced by what they stand for now."""
        if isinstance(value, Uri):
            return URIS[value.index]
        if isinstance(value, Version):
            return self.versions.get(value.index, 0) + value.step
        if isinstance(value, CompletionUri):
            return self.completion_uri or "atten-scope-completion:///999"
        if isinstance(value, dict):
            return {key: self.fill(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.fill(item) for item in value]
        return value

    def request(self, method: str, params: Any) -> Sent:
        self.counter += 1
        msg_id = f"fuzz-{self.counter}"
        answer = asyncio.ensure_future(self.client.protocol.send_request_async(method, params, msg_id=msg_id))
        sent = Sent(msg_id, method, params, answer)
        self.sent.append(sent)
        return sent

    def notify(self, method: str, params: Any) -> None:
        if method in ("textDocument/didOpen", "textDocument/didChange"):
            document = params.get("textDocument") if isinstance(params, dict) else None
            uri = document.get("uri") if isinstance(document, dict) else None
            version = document.get("version") if isinstance(document, dict) else None
            if uri in URIS and isinstance(version, int) and not isinstance(version, bool):
                self.versions[URIS.index(uri)] = version
        self.client.protocol.notify(method, params)

    # ---- checks

    async def settle(self) -> None:
        """Wait for the answers still due, then check each (a hang or a death ends the program)."""
        waiting = [sent for sent in self.sent if not sent.checked]
        if not waiting:
            return
        _, late = await asyncio.wait([sent.answer for sent in waiting], timeout=self.hang_s)
        for sent in waiting:
            sent.checked = True
            if sent.answer in late:
                sent.answer.cancel()
                kind = "hang" if server_running(self.client) else "death"
                self.add(kind, sent, f"no answer within {self.hang_s:.0f} s")
                self.healthy = False
            else:
                self.check(sent)

    def check(self, sent: Sent) -> None:
        try:
            result = sent.answer.result()
        except JsonRpcException as error:
            if error.code == INTERNAL_ERROR:
                self.add("internal error", sent, f"{error.code} {error.message}")
            elif error.code not in DOCUMENTED:
                self.add("undocumented error", sent, f"{error.code} {error.message}")
            elif not error.message:
                self.add("undocumented error", sent, f"{DOCUMENTED[error.code]} without a message")
            return
        except Exception as error:  # the client gave up on the server (it exited, or sent nonsense)
            kind = "death" if not server_running(self.client) else "malformed result"
            self.add(kind, sent, repr(error))
            self.healthy = kind != "death"
            return
        if sent.method == HOVER:
            if result is not None and not (isinstance(result, dict) and "contents" in result):
                self.add("malformed result", sent, repr(result)[:200])
        elif not isinstance(result, dict):
            self.add("malformed result", sent, repr(result)[:200])
        elif isinstance(result.get("completionUri"), str):
            self.completion_uri = result["completionUri"]

    def add(self, kind: str, sent: Sent, detail: str) -> None:
        self.findings.append(Finding(kind, sent.method, sent.params, detail))

    def logged_errors(self, since: int) -> None:
        for message in self.client.log_messages[since:]:
            if message.type == types.MessageType.Error:
                self.findings.append(Finding("logged error", "(notification)", None, message.message))

    async def restore(self) -> None:
        """The baseline settings and no open document, then a probe: a request refused at once."""
        self.notify("workspace/didChangeConfiguration", {"settings": {"attenScope": BASELINE}})
        for uri in URIS:
            self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        method = "attenScope/attention"
        params: dict[str, Any] = {}  # refused at once, with or without a model
        try:
            await asyncio.wait_for(self.client.protocol.send_request_async(method, params), PROBE_S)
        except JsonRpcException as error:
            if error.code != INVALID_PARAMS:
                detail = f"the probe got {error.code} {error.message}"
                self.findings.append(Finding("undocumented error", method, params, detail))
        except TimeoutError:
            kind = "hang" if server_running(self.client) else "death"
            self.findings.append(Finding(kind, method, params, f"no answer within {PROBE_S:.0f} s"))
            self.healthy = False
        else:
            self.findings.append(Finding("malformed result", method, params, "a result for no textDocument"))


async def still_answers(client: LanguageClient) -> dict[str, Any]:
    """A real request after the fuzzing: a document opened, analysed and asked for the attention at
    a token; returns the attention answer (raises when the server does not give one)."""
    uri = "file:///fuzz/after.py"
    text = "def add(a, b):\n    return a + b\n"
    client.protocol.notify(
        "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}
    )
    analysed = await asyncio.wait_for(
        client.protocol.send_request_async("attenScope/analyze", {"textDocument": {"uri": uri}}), timeout=300
    )
    assert analysed["tokens"] > 0, analysed
    params = {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 13}}
    answer: dict[str, Any] = await asyncio.wait_for(
        client.protocol.send_request_async("attenScope/attention", params), timeout=120
    )
    client.protocol.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    return answer
