"""Cancelling a view request stops its computation, so the views thread is free for the next one."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from atten_scope.common import cancellation
from atten_scope.common.errors import Cancelled
from atten_scope.lsp.workers import Engine


@pytest.mark.asyncio
async def test_cancelling_a_view_stops_its_thread() -> None:
    engine = Engine()  # no events: views report nothing to the user
    started, stopped = threading.Event(), threading.Event()

    def endless_view() -> Any:
        started.set()
        while True:  # a view of a huge file: only the cancellation check ends it
            try:
                cancellation.check()
            except Cancelled:
                stopped.set()
                raise
            threading.Event().wait(0.005)

    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(engine.view(endless_view))
    assert await loop.run_in_executor(None, started.wait, 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await loop.run_in_executor(None, stopped.wait, 30), "the cancelled view kept running"
    assert await engine.view(lambda: 42) == 42  # the views thread answers the next request
    cancellation.check()  # this thread was never cancelled
    engine.views.shutdown(wait=True)
    engine.worker.shutdown(wait=True)


@pytest.mark.asyncio
async def test_a_heavy_view_pauses_while_a_light_view_runs() -> None:
    engine = Engine()
    started, finish, light_running = threading.Event(), threading.Event(), threading.Event()
    steps: list[bool] = []  # per check the heavy view passed: whether a light view was running

    def heavy_view() -> int:  # a heatmap: row blocks with a check between them
        started.set()
        while not finish.is_set():
            cancellation.check()
            steps.append(light_running.is_set())
            threading.Event().wait(0.002)
        return len(steps)

    def light_view() -> str:  # a cursor request
        light_running.set()
        threading.Event().wait(0.2)
        light_running.clear()
        return "tints"

    loop = asyncio.get_running_loop()
    pending = asyncio.ensure_future(engine.view(heavy_view, heavy=True))
    assert await loop.run_in_executor(None, started.wait, 30)
    assert await engine.view(light_view) == "tints"
    assert not pending.done(), "the light view waited for the heavy one"
    finish.set()
    assert await pending > 1
    assert sum(steps) <= 1, "the heavy view went on computing while the light one ran"
    engine.shutdown()


@pytest.mark.asyncio
async def test_a_heavy_view_waiting_for_a_light_one_can_be_cancelled() -> None:
    engine = Engine()
    started, release, stopped = threading.Event(), threading.Event(), threading.Event()

    def heavy_view() -> None:
        started.set()
        try:
            while True:
                cancellation.check()
                threading.Event().wait(0.002)
        except Cancelled:
            stopped.set()
            raise

    loop = asyncio.get_running_loop()
    heavy = asyncio.ensure_future(engine.view(heavy_view, heavy=True))
    assert await loop.run_in_executor(None, started.wait, 30)
    light = asyncio.ensure_future(engine.view(lambda: release.wait(30)))
    await asyncio.sleep(0.1)  # the heavy view now waits at its check for the light one
    heavy.cancel()
    assert await loop.run_in_executor(None, stopped.wait, 30), "the cancelled heavy view kept waiting"
    release.set()
    assert await light
    engine.shutdown()
