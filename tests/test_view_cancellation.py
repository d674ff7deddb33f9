"""Cancelling a view request stops its computation, so the views thread is free for the next one."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from atten_scope import cancellation
from atten_scope.errors import Cancelled
from atten_scope.lsp.engine import Engine


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
