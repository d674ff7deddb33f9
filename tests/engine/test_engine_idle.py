"""Idle work (building what the first attendedBy request would) gives way to every request and resumes."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest

from atten_scope.common import cancellation
from atten_scope.lsp import workers as engine_module
from atten_scope.lsp.workers import Engine

STEPS = 40


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setattr(engine_module, "IDLE_DELAY_S", 0.01)
    engine = Engine()
    yield engine
    engine.shutdown()


def stepwise(done: list[int], running: threading.Event) -> Callable[[], None]:
    """Work of STEPS steps that keeps the steps it finished, like the per-layer norm totals."""

    def work() -> None:
        running.set()
        try:
            while len(done) < STEPS:
                cancellation.check()
                threading.Event().wait(0.005)
                done.append(1)
        finally:
            running.clear()

    return work


async def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("timed out")


async def test_a_request_stops_idle_work_which_then_resumes(engine: Engine) -> None:
    done: list[int] = []
    running = threading.Event()
    engine.when_idle("doc", stepwise(done, running), "building")
    await wait_until(lambda: len(done) >= 3)
    # The request runs on the same thread as the idle work: it gets that thread once the work stops.
    seen = await engine.view(lambda: (running.is_set(), len(done)))
    assert seen[0] is False and seen[1] < STEPS, "the request waited for the whole idle work"
    await wait_until(lambda: len(done) == STEPS and not engine._idle)  # resumed after the request, then done
    assert len(done) == STEPS  # no step was done twice: the work kept what it had finished


async def test_a_model_thread_request_also_stops_idle_work(engine: Engine) -> None:
    done: list[int] = []
    running = threading.Event()
    engine.when_idle("doc", stepwise(done, running), "building")
    await wait_until(lambda: len(done) >= 2)
    during = await engine.run(lambda: threading.Event().wait(0.1) or len(done))
    assert during < STEPS
    await wait_until(lambda: len(done) == STEPS)


async def test_dropped_idle_work_stops_and_a_failure_is_logged(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    done: list[int] = []
    running = threading.Event()
    engine.when_idle("closed.py", stepwise(done, running), "building")
    await wait_until(lambda: len(done) >= 2)
    engine.drop_idle("closed.py")
    await wait_until(lambda: not running.is_set() and engine._idle_task is None)
    assert len(done) < STEPS

    def failing() -> None:
        raise RuntimeError("no totals today")

    with caplog.at_level(logging.WARNING, logger="atten_scope.lsp.workers"):
        engine.when_idle("other.py", failing, "Preparing attendedBy for other.py")
        await wait_until(lambda: not engine._idle)
    assert "Preparing attendedBy for other.py failed: no totals today" in caplog.text


async def test_memory_is_released_only_after_every_engine_thread_finished_its_work(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A closed document's work may still be ending on a views thread: the trim waits for it."""
    released: list[str] = []
    monkeypatch.setattr(engine_module, "release_memory", lambda: released.append(threading.current_thread().name))
    gate = threading.Event()
    for heavy in (False, True):
        engine.in_background(engine.view(gate.wait, heavy=heavy), "a view that is still ending")
    await asyncio.sleep(0.05)
    release = asyncio.ensure_future(engine.release_when_quiet())
    await asyncio.sleep(0.1)
    assert released == [] and not release.done()
    gate.set()
    await asyncio.wait_for(release, 30)
    assert len(released) == 1 and released[0].startswith("atten-scope-model")


async def test_a_request_waiting_for_the_model_hears_the_steps_of_its_load(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from atten_scope.lsp.settings import Settings

    release = threading.Event()
    converting = threading.Event()

    def fake_load(model: str, device: str, trust: bool, progress: Callable[[float | None, str], None]) -> object:
        progress(None, "Converting the model for first use")
        converting.set()
        release.wait(30)
        progress(1.0, "Model ready")
        info = SimpleNamespace(id=model, layers=1, heads=1)
        return SimpleNamespace(info=info, device=SimpleNamespace(type="cpu"))

    monkeypatch.setattr(engine_module, "load_model", fake_load)
    settings = Settings()
    background = asyncio.ensure_future(engine.ensure_loaded(settings))  # as the server loads on a settings change
    await wait_until(converting.is_set)
    heard: list[tuple[float | None, str]] = []
    waiting = asyncio.ensure_future(engine.ensure_loaded(settings, lambda f, m: heard.append((f, m))))
    await asyncio.sleep(0.05)
    # Joined midway: it hears the step under way at once, then the rest, without the load's fraction.
    assert heard == [(None, "Converting the model for first use")]
    release.set()
    await asyncio.gather(background, waiting)
    assert heard[-1] == (None, "Model ready")
    assert engine._load_watchers == []
