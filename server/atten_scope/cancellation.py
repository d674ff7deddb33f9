"""Cooperative cancellation of work running on a worker thread.

A view of a long file (attendedBy with an effective refinement, rollout) rebuilds thousands of
rows. When the editor cancels that request (the cursor moved on), the thread must stop too, or
every later request queues behind it. Loops call ``check()`` between row blocks and layers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import Cancelled

_local = threading.local()


@contextmanager
def cancellable(event: threading.Event | None) -> Iterator[None]:
    """Make ``check()`` on this thread raise Cancelled once ``event`` is set."""
    previous = getattr(_local, "event", None)
    _local.event = event
    try:
        yield
    finally:
        _local.event = previous


def check() -> None:
    """Raise Cancelled if the work running on this thread was cancelled."""
    event: threading.Event | None = getattr(_local, "event", None)
    if event is not None and event.is_set():
        raise Cancelled("The request was cancelled.")
