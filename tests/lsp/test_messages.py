"""The server's sentences when work is stopped or refused: they name what happened (the model
changed, the analysis was replaced) and quote a user's value short. The server runs in this
process with a stand-in model, except for the end-to-end check of a long model id."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import pytest
import pytest_lsp
import torch
from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified
from pytest_lsp import LanguageClient

from atten_scope import registry
from atten_scope.common.cancellation import check
from atten_scope.common.quoting import QUOTED_CHARACTERS
from atten_scope.engine.model import LoadedModel, ModelInfo
from atten_scope.lsp.requests import answer
from atten_scope.lsp.rpc_errors import translate_errors
from atten_scope.lsp.server import AttenScopeServer
from atten_scope.protocol.fields import param, whole
from atten_scope.protocol.request import Builder, ViewRequest

from .support import REQUEST_FAILED, Expect, open_document, request, server_config, start, track_status

pytestmark = pytest.mark.asyncio(loop_scope="module")  # the tests and their servers share the module's loop

URI = "file:///project/messages.py"
TEXT = "values = [3, 1, 2]\nprint(sorted(values))\n"
WAIT_S = 30.0  # far longer than any step here takes: a test fails long before


def stand_in(model_id: str, *_: Any, **__: Any) -> LoadedModel:
    info = ModelInfo(id=model_id, layers=1, heads=1, kv_heads=1, head_dim=1)
    return LoadedModel(info=info, model=None, tokenizer=None, device=torch.device("cpu"))


class Server(AttenScopeServer):
    """The real server, with one open document and no client to write to."""

    def __init__(self) -> None:
        super().__init__()
        self.engine.loader = stand_in
        self.open = SimpleNamespace(version=1, source=TEXT, language_id="python")

    def document(self, uri: str) -> Any:
        return self.open

    def analysed(self) -> Any:
        """A stand-in analysis of the document, by the model the settings name."""
        analysis = SimpleNamespace(info=SimpleNamespace(id=self.settings.model))
        self.store.put(URI, cast(Any, analysis), self.open.version)
        return analysis


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    ls = Server()
    await ls.engine.ensure_loaded(ls.settings)
    ls.analysed()
    yield ls
    ls.engine.shutdown()


@dataclass(frozen=True, kw_only=True)
class NoParams:
    unused: int = param("unused", whole, 0)


class Paused:
    """A builder that runs until the test lets it finish, or, with ``checking``, until it is cancelled."""

    def __init__(self, checking: bool = False) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.checking = checking

    def build(self, request: ViewRequest[NoParams]) -> dict[str, Any]:
        self.started.set()
        deadline = time.monotonic() + WAIT_S
        while not self.release.is_set() and time.monotonic() < deadline:
            if self.checking:
                check()
            time.sleep(0.01)
        return {"version": request.version}

    @property
    def builder(self) -> Builder:
        return Builder(NoParams, self.build)


async def started(paused: Paused) -> None:
    assert await asyncio.get_running_loop().run_in_executor(None, paused.started.wait, WAIT_S)


def handle(ls: Server, view: registry.View, paused: Paused) -> asyncio.Future[dict[str, Any]]:
    handler = translate_errors(answer)
    return asyncio.ensure_future(handler(ls, view, paused.builder, {"textDocument": {"uri": URI}}))


async def test_a_model_switch_during_a_heatmap_says_the_model_changed(server: Server) -> None:
    paused = Paused()
    pending = handle(server, registry.VIEWS["heatmap"], paused)
    await started(paused)
    server.apply_settings({"model": "embedded:gemma3-270m"})
    paused.release.set()
    with pytest.raises(JsonRpcContentModified) as stopped:
        await asyncio.wait_for(pending, WAIT_S)
    message = stopped.value.message
    assert "model" in message and "document" not in message.split(":")[0], message


async def test_a_model_switch_during_model_work_says_the_model_changed(server: Server) -> None:
    view = next(v for v in registry.VIEWS.values() if v.thread == "model")
    paused = Paused(checking=True)
    pending = handle(server, view, paused)
    await started(paused)
    server.apply_settings({"model": "embedded:gemma3-270m"})  # the model thread's work stops at its next check
    with pytest.raises(JsonRpcContentModified) as stopped:
        await asyncio.wait_for(pending, WAIT_S)
    assert "model" in stopped.value.message and "cancelled" not in stopped.value.message, stopped.value.message


async def test_an_analysis_replaced_while_a_view_runs_is_not_called_an_edit(server: Server) -> None:
    paused = Paused()
    pending = handle(server, registry.VIEWS["heatmap"], paused)
    await started(paused)
    server.analysed()  # analysed again, at the same version: after a settings change, say
    paused.release.set()
    with pytest.raises(JsonRpcContentModified) as stopped:
        await asyncio.wait_for(pending, WAIT_S)
    message = stopped.value.message
    assert "analysed again" in message and "document changed" not in message, message


async def test_an_analysis_dropped_while_a_view_runs_says_so(server: Server) -> None:
    paused = Paused()
    pending = handle(server, registry.VIEWS["heatmap"], paused)
    await started(paused)
    server.store.discard(URI)  # closed, or pushed out of attenScope.cacheDocuments
    paused.release.set()
    with pytest.raises(JsonRpcContentModified) as stopped:
        await asyncio.wait_for(pending, WAIT_S)
    message = stopped.value.message
    assert "no longer" in message and "document changed" not in message, message


async def test_an_edit_while_a_view_runs_still_says_the_document_changed(server: Server) -> None:
    paused = Paused()
    pending = handle(server, registry.VIEWS["heatmap"], paused)
    await started(paused)
    server.open = SimpleNamespace(version=2, source=TEXT + "\n", language_id="python")
    paused.release.set()
    with pytest.raises(JsonRpcContentModified, match="The document changed while the request ran"):
        await asyncio.wait_for(pending, WAIT_S)


# ---- end to end: a model id pasted by mistake is not repeated in full

LONG_MODEL = "org/" + "m" * 10_000


@pytest_lsp.fixture(config=server_config())
async def client(lsp_client: LanguageClient):
    lsp_client.statuses = track_status(lsp_client)  # type: ignore[attr-defined]
    await start(lsp_client, {"device": "cpu", "model": LONG_MODEL})
    open_document(lsp_client, URI, TEXT)
    yield
    await lsp_client.shutdown_session()


async def test_a_long_model_id_is_quoted_short(client: LanguageClient) -> None:
    async with Expect(REQUEST_FAILED, "Could not load model 'org/mmm") as failed:
        await request(client, "attenScope/analyze", {"textDocument": {"uri": URI}})
    assert len(failed.error.message) < QUOTED_CHARACTERS + 300, len(failed.error.message)
    shown = [m.message for m in client.messages if m.type == types.MessageType.Error]
    assert shown and all(len(m) < QUOTED_CHARACTERS + 300 for m in shown), [len(m) for m in shown]
    statuses = [s["message"] for s in client.statuses]  # type: ignore[attr-defined]
    assert statuses and all(len(m) < QUOTED_CHARACTERS + 300 for m in statuses), [len(m) for m in statuses]
