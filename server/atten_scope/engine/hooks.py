"""Module hooks scoped to one forward pass: registered inside a context, removed when it ends.

The model is shared between threads (an analysis on the model thread, flow or ALTI passes on the
views thread), and a hook sits on the module, not on the pass. So each hook registered here is
owned by the thread that entered the context and does nothing when another thread's pass runs
the module. Every handle is removed in ``finally``, also when registering a later hook fails
(as in TransformerLens' ``hooks()`` context manager).

    with hooked() as hooks:
        hooks.forward(layer, keep)       # registration may fail partway: all are still removed
        model(input_ids)                 # only this thread's pass calls keep

There are no backward hooks: autograd runs a CUDA backward pass on its own threads, which the
owner check would silence.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Hook = Callable[..., Any]


class Hooks:
    """The hooks of one pass, owned by one thread (see the module doc)."""

    def __init__(self) -> None:
        # The thread, not a context variable: a pass runs on the thread that called the model.
        self.owner = threading.get_ident()
        self._handles: list[Any] = []

    def _owned(self, hook: Hook) -> Hook:
        @functools.wraps(hook)
        def run(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != self.owner:
                return None  # another thread's pass: None leaves its inputs and outputs as they are
            return hook(*args, **kwargs)

        return run

    def pre(self, module: Any, hook: Hook, *, with_kwargs: bool = False) -> None:
        """``hook(module, args[, kwargs])`` before ``module`` runs in this thread's pass."""
        self._handles.append(module.register_forward_pre_hook(self._owned(hook), with_kwargs=with_kwargs))

    def forward(self, module: Any, hook: Hook, *, with_kwargs: bool = False) -> None:
        """``hook(module, args[, kwargs], output)`` after ``module`` runs in this thread's pass."""
        self._handles.append(module.register_forward_hook(self._owned(hook), with_kwargs=with_kwargs))

    def remove(self) -> None:
        """Remove every hook registered so far."""
        while self._handles:
            self._handles.pop().remove()


@contextmanager
def hooked() -> Iterator[Hooks]:
    """Hooks for a pass run inside the block, owned by this thread and all removed when it ends."""
    hooks = Hooks()
    try:
        yield hooks
    finally:
        hooks.remove()
