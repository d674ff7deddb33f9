"""Property-based fuzzing of the language server over JSON-RPC (short budget; ``bench/fuzz.py`` runs it long).

Random programs of requests (every view, analyze, hover), document sync, settings changes and
cancellations, interleaved without waiting for answers, against one real server: every answer is
a result or a documented error, never an internal error, and the server answers to the end.
See ``fuzz_driver`` for the properties and ``fuzz_strategies`` for what is generated.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import pytest_lsp
from hypothesis import HealthCheck, given, settings
from lsprotocol import types
from pytest_lsp import LanguageClient

from .fuzz_driver import BASELINE, Player, fuzz_config, still_answers
from .fuzz_strategies import SHORT, Step, programs
from .support import INVALID_PARAMS, Expect, start

pytestmark = pytest.mark.asyncio(loop_scope="module")

# A request that no answer comes for in this time hangs: the model's first load and an analysis
# of a short document take seconds, even on two busy cores.
HANG_S = 120.0


@pytest_lsp.fixture(config=fuzz_config(), scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, BASELINE)
    yield
    await lsp_client.shutdown_session()


@pytest.fixture(scope="module")
def player(client: LanguageClient) -> Player:
    return Player(client, HANG_S)


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)
@given(program=programs(SHORT))
async def test_any_program_gets_documented_answers(player: Player, program: list[Step]) -> None:
    findings = await player.play(program)
    assert not findings, "\n".join(str(finding) for finding in findings)


async def test_server_still_answers_after_fuzzing(client: LanguageClient) -> None:
    answer = await still_answers(client)
    assert answer["token"]["text"].strip() == "+", answer["token"]
    assert sum(target["weight"] for target in answer["targets"]) == pytest.approx(1.0, abs=1e-5)


# ---- what the fuzzing found, kept as plain regression tests

URI = "file:///fuzz/regression.py"
TEXT = "def add(a, b):\n    return a + b\n"
ATTENTION = {"textDocument": {"uri": URI}, "position": {"line": 1, "character": 13}}


async def ask(client: LanguageClient, method: str, params: Any) -> Any:
    return await asyncio.wait_for(client.protocol.send_request_async(method, params), timeout=HANG_S)


def notify(client: LanguageClient, method: str, params: Any) -> None:
    client.protocol.notify(method, params)


async def test_params_may_hold_the_names_of_json_rpc_members(client: LanguageClient) -> None:
    # An object with a "jsonrpc" key anywhere in the params was read as a message of its own: the
    # request became another (or none, and was never answered). Unknown fields are ignored.
    notify(
        client,
        "textDocument/didOpen",
        {"textDocument": {"uri": URI, "languageId": "python", "version": 1, "text": TEXT}},
    )
    await ask(client, "attenScope/analyze", {"textDocument": {"uri": URI}, "jsonrpc": "2.0", "method": "exit"})
    plain = await ask(client, "attenScope/attention", ATTENTION)
    extras: list[dict[str, Any]] = [
        {"jsonrpc": {}, "method": {}},
        {"jsonrpc": "2.0", "method": "textDocument/didClose", "id": 7, "params": {"textDocument": {"uri": URI}}},
        {"options": {"jsonrpc": "2.0", "id": 1, "error": "not an error object"}},
    ]
    for extra in extras:
        answer = await ask(client, "attenScope/attention", {**extra, **ATTENTION})
        assert answer["token"] == plain["token"] and answer["targets"] == plain["targets"], extra
    notify(client, "textDocument/didClose", {"textDocument": {"uri": URI}})


async def test_malformed_notifications_are_warnings_not_internal_errors(client: LanguageClient) -> None:
    # Dropped, as LSP asks of a notification the server cannot read, and logged as the client's mistake.
    since = len(client.log_messages)
    notify(client, "textDocument/didOpen", [])
    notify(client, "$/cancelRequest", {"id": []})
    notify(client, "window/workDoneProgress/cancel", {"token": {}})
    async with Expect(INVALID_PARAMS):  # answered after the three: the server read past them
        await ask(client, "textDocument/hover", {"textDocument": {"uri": 3}})
    logged = client.log_messages[since:]
    assert not [m.message for m in logged if m.type == types.MessageType.Error]
    warnings = " ".join(m.message for m in logged if m.type == types.MessageType.Warning)
    for method in ("textDocument/didOpen", "$/cancelRequest", "window/workDoneProgress/cancel"):
        assert method in warnings, warnings


async def test_unpaired_surrogates_are_read_as_replacement_characters(client: LanguageClient) -> None:
    # JSON can carry an unpaired UTF-16 surrogate, which the tokenizer refused with an internal
    # error; it is U+FFFD in the server's copy, one UTF-16 unit as well, so positions still hold.
    uri = "file:///fuzz/surrogate.py"
    text = "s = 'a\udc00b\ud83d'\nt = s + 1\n"
    notify(
        client,
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
    )
    analysed = await ask(client, "attenScope/analyze", {"textDocument": {"uri": uri}})
    assert analysed["tokens"] > 0
    after = await ask(
        client, "attenScope/attention", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}}
    )
    assert after["token"]["text"].strip() == "1", after["token"]
    inside = await ask(
        client, "attenScope/attention", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 6}}
    )
    assert inside["token"]["text"] == "\ufffd", inside["token"]
    assert inside["token"]["range"]["start"] == {"line": 0, "character": 6}, inside["token"]
    notify(client, "textDocument/didClose", {"textDocument": {"uri": uri}})
