"""The user stops a model load: the engine's ``cancel_load`` and ``attenScope/cancelLoad`` over a
real server, whose first-use conversion of the embedded model is ended."""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from atten_scope.common.cancellation import check
from atten_scope.common.errors import Cancelled
from atten_scope.engine import embedded
from atten_scope.engine.model import LoadedModel
from atten_scope.lsp.settings import Settings
from atten_scope.lsp.workers import Engine, EngineEvents

from .support import REQUEST_CANCELLED, Expect, open_document, request, server_config, start, track_status
from .test_supersede import fake_model, wait_for, work_until_cancelled

Status = tuple[str, str, str | None]


def recording_engine(loader: Callable[..., LoadedModel]) -> tuple[Engine, list[Status]]:
    statuses: list[Status] = []
    engine = Engine(EngineEvents(status=lambda *status: statuses.append(status)), loader=loader)
    return engine, statuses


async def test_a_cancelled_load_stops_at_its_check_and_loads_again_when_next_asked() -> None:
    started, stopped = threading.Event(), threading.Event()
    calls: list[str] = []

    def loader(model_id: str, *_: Any, progress: Any = None, **__: Any) -> LoadedModel:
        calls.append(model_id)
        if len(calls) == 1:
            progress(None, "Converting slow for first use")
            work_until_cancelled(started, stopped)
        return fake_model(model_id)

    engine, statuses = recording_engine(loader)
    settings = Settings(model="slow")
    try:
        assert engine.cancel_load() is None  # nothing is loading
        waiting = asyncio.ensure_future(engine.ensure_loaded(settings))
        await wait_for(started)
        assert engine.cancel_load() == "slow"
        with pytest.raises(Cancelled, match="Loading slow was cancelled"):
            await asyncio.wait_for(waiting, 10)
        assert stopped.is_set()  # at its checkpoint, not at its end
        assert engine.loaded is None
        assert engine.cancel_load() is None
        assert [s for s in statuses if s[0] != "loadingModel"] == []  # a stop is not an error

        loaded = await asyncio.wait_for(engine.ensure_loaded(settings), 10)
        assert loaded.info.id == "slow" and engine.loaded is loaded
        assert calls == ["slow", "slow"]
        assert statuses[-1][0] == "ready"
    finally:
        engine.shutdown()


async def test_a_step_reached_after_the_stop_is_not_reported() -> None:
    started, resume = threading.Event(), threading.Event()

    def loader(model_id: str, *_: Any, progress: Any = None, **__: Any) -> LoadedModel:
        started.set()
        resume.wait(10)
        progress(None, "A step after the stop")
        check()
        return fake_model(model_id)

    engine, statuses = recording_engine(loader)
    try:
        waiting = asyncio.ensure_future(engine.ensure_loaded(Settings(model="slow")))
        await wait_for(started)
        assert engine.cancel_load() == "slow"
        resume.set()
        with pytest.raises(Cancelled):
            await asyncio.wait_for(waiting, 10)
        assert statuses == [("loadingModel", "Loading slow", "slow")]
    finally:
        engine.shutdown()


# ---- over a real server: the embedded model's first-use conversion, in a cache folder of its own

SMOLLM2 = embedded.SMOLLM2.id
URI = "file:///project/cancel_load.py"
CACHE = Path(tempfile.mkdtemp(prefix="atten-scope-conversion-"))
atexit.register(shutil.rmtree, CACHE, True)


def conversion_config() -> ClientServerConfig:
    """The server with an empty converted-weights cache, so that loading the embedded model converts it."""
    config = server_config()
    config.server_env = {**(config.server_env or {}), "ATTEN_SCOPE_CACHE_DIR": str(CACHE)}
    return config


@pytest_lsp.fixture(config=conversion_config(), scope="module")
async def client(lsp_client: LanguageClient):
    if not embedded.SMOLLM2.installed():
        pytest.skip("the embedded model is not installed")
    lsp_client.statuses = track_status(lsp_client)  # type: ignore[attr-defined]
    # Another model first, never loaded: the switch to SmolLM2 is what starts its load.
    await start(lsp_client, {"device": "cpu", "model": "embedded:gemma3-270m", "maxTokens": 64})
    open_document(lsp_client, URI, "def add(a, b):\n    return a + b\n")
    yield
    await lsp_client.shutdown_session()


async def next_status(client: LanguageClient, wanted: Callable[[dict[str, Any]], bool]) -> int:
    """The index of the first status ``wanted`` accepts, once it has arrived."""
    statuses: list[dict[str, Any]] = client.statuses  # type: ignore[attr-defined]
    for _ in range(1200):
        for index, status in enumerate(statuses):
            if wanted(status):
                return index
        await asyncio.sleep(0.05)
    raise AssertionError(f"no such status; got {statuses}")


async def until_empty(folder: Path) -> list[Path]:
    """What ``folder`` holds once the ended conversion has removed its staging copy (or what is left)."""
    left: list[Path] = []
    for _ in range(200):
        left = list(folder.iterdir()) if folder.exists() else []
        if not left:
            break
        await asyncio.sleep(0.05)
    return left


@pytest.mark.asyncio(loop_scope="module")
async def test_cancel_load_ends_a_first_use_conversion(client: LanguageClient) -> None:
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"attenScope": {"model": SMOLLM2}})
    )
    analysis = asyncio.ensure_future(request(client, "attenScope/analyze", {"textDocument": {"uri": URI}}))
    converting = await next_status(
        client, lambda s: s["state"] == "loadingModel" and s["message"].startswith("Converting")
    )
    status = client.statuses[converting]  # type: ignore[attr-defined]
    assert status["model"] == SMOLLM2 and "once per machine" in status["message"]

    assert await request(client, "attenScope/cancelLoad", {}) == {"stopped": SMOLLM2}
    async with Expect(REQUEST_CANCELLED, f"Loading {SMOLLM2} was cancelled"):
        await analysis
    stop = await next_status(client, lambda s: s["state"] == "ready")
    assert stop > converting
    assert client.statuses[stop]["message"].startswith(f"Stopped loading {SMOLLM2}")  # type: ignore[attr-defined]
    assert "model" not in client.statuses[stop]  # type: ignore[attr-defined]

    # The conversion's child was ended, and nothing of it was kept.
    assert await until_empty(CACHE / "converted") == []
    assert await request(client, "attenScope/cancelLoad", {}) == {"stopped": None}
    later = client.statuses[stop + 1 :]  # type: ignore[attr-defined]
    assert [s for s in later if s["state"] == "loadingModel"] == []
