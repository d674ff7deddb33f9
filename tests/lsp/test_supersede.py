"""A newer model setting stops the load, conversion and analysis of the one it replaces."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from atten_scope.common.cancellation import cancellable, check
from atten_scope.common.errors import Cancelled, ModelLoadError
from atten_scope.engine import embedded
from atten_scope.engine.model import LoadedModel, ModelInfo
from atten_scope.lsp.settings import Settings
from atten_scope.lsp.workers import Engine

SLOW_S = 60.0  # what the superseded load would take: the test fails long before it ends


def fake_model(model_id: str) -> LoadedModel:
    info = ModelInfo(id=model_id, layers=1, heads=1, kv_heads=1, head_dim=1)
    return LoadedModel(info=info, model=None, tokenizer=None, device=torch.device("cpu"))


def work_until_cancelled(started: threading.Event, stopped: threading.Event) -> None:
    """Long work that reaches a checkpoint every few milliseconds, as a load or an analysis does."""
    started.set()
    deadline = time.monotonic() + SLOW_S
    try:
        while time.monotonic() < deadline:
            check()
            time.sleep(0.01)
    except Cancelled:
        stopped.set()
        raise
    raise AssertionError("the superseded work ran to its end")


async def wait_for(event: threading.Event) -> None:
    assert await asyncio.get_running_loop().run_in_executor(None, event.wait, 10)


async def test_a_newer_model_setting_stops_the_load_it_supersedes() -> None:
    started, stopped = threading.Event(), threading.Event()

    def loader(model_id: str, *_: Any, **__: Any) -> LoadedModel:
        if model_id == "slow":
            work_until_cancelled(started, stopped)
        return fake_model(model_id)

    engine = Engine(loader=loader)
    try:
        assert not engine.model_changed(Settings(model="first"))  # the initial settings load nothing yet
        assert engine.model_changed(Settings(model="slow"))
        superseded = asyncio.ensure_future(engine.ensure_loaded(Settings(model="slow")))
        await wait_for(started)
        begun = time.monotonic()
        assert engine.model_changed(Settings(model="fast"))
        loaded = await asyncio.wait_for(engine.ensure_loaded(Settings(model="fast")), 10)
        assert loaded.info.id == "fast" and engine.loaded is loaded
        assert stopped.is_set()  # at its checkpoint, not at its end
        assert time.monotonic() - begun < 5
        with pytest.raises(Cancelled):
            await superseded
    finally:
        engine.shutdown()


async def test_a_newer_model_setting_stops_the_analysis_with_the_old_model() -> None:
    started, stopped = threading.Event(), threading.Event()
    engine = Engine(loader=lambda model_id, *_, **__: fake_model(model_id))
    try:
        engine.model_changed(Settings(model="old"))
        await engine.ensure_loaded(Settings(model="old"))
        analysis = asyncio.ensure_future(engine.run(lambda: work_until_cancelled(started, stopped)))
        await wait_for(started)
        assert engine.model_changed(Settings(model="new"))
        with pytest.raises(Cancelled):
            await asyncio.wait_for(analysis, 5)
        assert stopped.is_set()
        loaded = await asyncio.wait_for(engine.ensure_loaded(Settings(model="new")), 5)
        assert loaded.info.id == "new"
    finally:
        engine.shutdown()


def test_a_cancelled_conversion_ends_its_child_and_leaves_no_cache_entry(tmp_path: Path) -> None:
    try:
        gguf = embedded.SMOLLM2.gguf()
    except ModelLoadError:
        pytest.skip("the embedded model is not installed")
    target = tmp_path / "converted" / "entry"
    cancel = threading.Event()
    timer = threading.Timer(2.0, cancel.set)  # well before the conversion (tens of seconds) ends
    timer.start()
    begun = time.monotonic()
    try:
        with pytest.raises(Cancelled), cancellable(cancel), embedded.converted(gguf, target):
            raise AssertionError("the conversion finished before it was cancelled")
    finally:
        timer.cancel()
    assert time.monotonic() - begun < 6, "the child was not ended at once"
    assert not embedded.is_complete(target)
    assert list(target.parent.iterdir()) == []  # no half-written staging copy either
