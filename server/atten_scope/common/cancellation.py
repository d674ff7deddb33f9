"""Cooperative cancellation of work running on a worker thread.

A view of a long file (attendedBy with an effective refinement, rollout) rebuilds thousands of
rows. When the editor cancels that request (the cursor moved on), the thread must stop too, or
every later request queues behind it. Loops call ``check()`` between row blocks and layers.

The same calls are where work of low priority gives way: a heatmap of a long file pauses in
``check()`` while a cursor request runs (``Gate``), so the two never compute at once. Two torch
computations on two threads would each start their own team of threads and slow each other down
several times over on a machine with few cores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

from atten_scope.common.errors import Cancelled

_local = threading.local()
T = TypeVar("T")


@contextmanager
def _thread_setting(name: str, value: object) -> Iterator[None]:
    """Set ``name`` of this thread's state to ``value`` for the body, then restore it."""
    previous = getattr(_local, name, None)
    setattr(_local, name, value)
    try:
        yield
    finally:
        setattr(_local, name, previous)


def cancellable(event: threading.Event | None) -> AbstractContextManager[None]:
    """Make ``check()`` on this thread raise Cancelled once ``event`` is set."""
    return _thread_setting("event", event)


def check() -> None:
    """Wait while the work on this thread yields to other work (``yielding_to``), then raise
    Cancelled if it was cancelled."""
    event: threading.Event | None = getattr(_local, "event", None)
    gate: Gate | None = getattr(_local, "gate", None)
    if gate is not None:
        gate.wait_clear(event)
    if event is not None and event.is_set():
        raise Cancelled("The request was cancelled.")


class Gate:
    """Counts the work of high priority in progress; work that yields to it waits in ``check()``."""

    def __init__(self) -> None:
        self._busy = 0
        self._changed = threading.Condition()

    def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (on this thread) as work of high priority."""
        with self._changed:
            self._busy += 1
        try:
            return fn()
        finally:
            with self._changed:
                self._busy -= 1
                self._changed.notify_all()

    def wait_clear(self, cancel: threading.Event | None = None) -> None:
        """Return once no work of high priority runs, or as soon as ``cancel`` is set."""
        with self._changed:
            while self._busy and not (cancel is not None and cancel.is_set()):
                self._changed.wait(0.05)  # a cancel sets only its event: look at it now and then


def yielding_to(gate: Gate | None) -> AbstractContextManager[None]:
    """Make ``check()`` on this thread wait while work of ``gate`` runs."""
    return _thread_setting("gate", gate)
