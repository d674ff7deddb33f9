"""Captured windows under a memory budget: stored compactly, spilled to a memory-mapped file beyond it.

A captured window holds ~140 KB per token in float32 for the default model, so a long file's
analysis grows with the file, not with what is on screen. Once a window is captured:

- **Compact.** Its queries, keys and values (nearly all of its bytes) are stored in float16; every
  reader upcasts with ``.float()`` and computes in float32 (``refine.py``, ``heatmap.py``). The
  rounding (relative 2^-11) moves a refined weight of one head by at most ~3e-3 on the embedded
  model, below what the editor shows: weights as percentages with one decimal and in 5-8 colour
  buckets. float16 rather than bfloat16: the captured values stay far below its range (|x| < 100
  on the embedded model) and bfloat16's 8-bit mantissa errs 8x more; a window whose values would
  overflow float16 stays as captured. The final hidden rows kept for predictions (``prediction.py``)
  are stored in float16 too: on the embedded model that moves a next-token probability by at most
  ~1.5e-3 (its log-probability by ~4e-3), below the two significant digits the hover shows.
- **Spilled.** While the windows held in memory, over every analysis the server keeps, exceed the
  budget, the least recently admitted are written to a file under the user cache directory
  (``ATTEN_SCOPE_CACHE_DIR`` overrides it) and their tensors replaced by memory maps of it. A
  request reads them as before; the operating system pages in what it touches and may drop those
  pages again under pressure, so they are not the process's own memory. On POSIX the file is
  unlinked as soon as it is mapped: its space returns when the window is dropped, even after a
  crash. Elsewhere it is removed when the window is garbage collected.

An analysis that cannot fit even then (one window being captured is larger than the budget, or
the disk has no room for what must be spilled) is refused before it runs, with a sentence.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from atten_scope.common.errors import DocumentError
from atten_scope.engine.embedded import cache_root
from atten_scope.engine.window import GRAM_CHECKPOINT, CapturedWindow

log = logging.getLogger(__name__)

COMPACT_DTYPE = torch.float16
_FLOAT16_MAX = 65504.0
_MB = 1 << 20
# Kept free on the cache file's disk beyond what is spilled, so spilling never fills it up.
DISK_RESERVE = 512 * _MB
_SPILLED = ("query", "key", "value", "lse", "value_norm", "gram", "hidden")


def _spilled_tensors(win: CapturedWindow) -> dict[str, torch.Tensor]:
    """The tensors a spill writes: the captured state with the final hidden rows (when kept)."""
    tensors = {name: getattr(win, name) for name in _SPILLED}
    return {name: tensor for name, tensor in tensors.items() if tensor is not None}


@dataclass(frozen=True)
class WindowShape:
    """What sizes a captured window: the model's attention shapes and the dtype it captures in."""

    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    element_size: int = 4  # of the captured q, k, v and hidden rows (float32 on the CPU)
    hidden: int = 0  # numbers in a token's final hidden state, kept for predictions (0: none kept)

    def window_bytes(self, tokens: int, compact: bool) -> int:
        """Bytes of a window of ``tokens``: q, k, v, lse, value norms, its Gram checkpoints and its
        final hidden rows."""
        qkv = self.layers * (self.heads + 2 * self.kv_heads) * self.head_dim
        size = min(self.element_size, COMPACT_DTYPE.itemsize) if compact else self.element_size
        rows = self.layers * self.heads * 4 * 2  # lse and value norms, float32
        checkpoints = tokens // GRAM_CHECKPOINT + 1
        gram = self.layers * self.kv_heads * self.head_dim**2 * 8  # float64
        return tokens * ((qkv + self.hidden) * size + rows) + checkpoints * gram

    def capture_bytes(self, tokens: int) -> int:
        """Peak bytes while a window of ``tokens`` is captured: its buffers and then its compact copy."""
        return self.window_bytes(tokens, compact=False) + self.window_bytes(tokens, compact=True)


def compact(win: CapturedWindow) -> None:
    """Store ``win``'s queries, keys, values and final hidden rows in float16 (in place); readers
    upcast to float32 (the LM head to its own dtype)."""
    for names in (("query", "key", "value"), ("hidden",)):
        tensors = [getattr(win, name) for name in names]
        if any(t is None or t.dtype.itemsize <= COMPACT_DTYPE.itemsize or not t.is_floating_point() for t in tensors):
            continue  # already half precision (a model run in bfloat16 on an accelerator)
        if any(float(t.abs().max()) >= _FLOAT16_MAX for t in tensors if t.numel()):
            log.info("A window's captured %s exceed float16's range; kept as captured", "/".join(names))
            continue
        for name, tensor in zip(names, tensors, strict=True):
            setattr(win, name, tensor.to(COMPACT_DTYPE))


def resident_bytes(win: CapturedWindow) -> int:
    """Bytes of ``win`` held in the process's own memory (a spilled window's maps are not)."""
    return win.cache_bytes() + (0 if is_spilled(win) else win.nbytes())


def is_spilled(win: CapturedWindow) -> bool:
    return getattr(win, "_atten_scope_spill", None) is not None


def mark_mapped(win: CapturedWindow, path: Path) -> None:
    """Record that ``win``'s tensors are already memory maps of ``path`` (a restored analysis:
    ``analysis_cache.py``): they are not the process's own memory, and spilling would only copy them."""
    win._atten_scope_spill = path  # type: ignore[attr-defined]


def spill_directory() -> Path:
    """Where spilled windows go: ``<cache root>/windows``."""
    return cache_root() / "windows"


def spill(win: CapturedWindow, directory: Path) -> None:
    """Write ``win``'s tensors to a file in ``directory`` and replace them by memory maps of it."""
    if is_spilled(win) or win.query.device.type != "cpu":
        return
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.contiguous() for name, tensor in _spilled_tensors(win).items()}
    handle, name = tempfile.mkstemp(prefix="window-", suffix=".bin", dir=directory)
    path = Path(name)
    layout: list[tuple[str, int, torch.dtype, tuple[int, ...]]] = []
    try:
        with os.fdopen(handle, "wb") as out:
            offset = 0
            for key, tensor in tensors.items():
                padding = -offset % 64  # every tensor starts aligned
                out.write(b"\0" * padding)
                offset += padding
                layout.append((key, offset, tensor.dtype, tuple(tensor.shape)))
                tensor.numpy().tofile(out)  # no intermediate copy of the bytes
                offset += tensor.element_size() * tensor.nelement()
        mapped = {key: _map(path, offset, dtype, shape) for key, offset, dtype, shape in layout}
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    for key, tensor in mapped.items():
        setattr(win, key, tensor)
    win._atten_scope_spill = path  # type: ignore[attr-defined]
    if os.name == "posix":
        path.unlink(missing_ok=True)  # the maps keep the data; the space returns when they go
    else:
        weakref.finalize(win, _remove, path)


def _map(path: Path, offset: int, dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    """A tensor over ``path``'s bytes from ``offset``: copy-on-write, so nothing writes to the file."""
    count = int(np.prod(shape)) if shape else 1
    if count == 0:
        return torch.empty(shape, dtype=dtype)
    numpy_dtype = torch.empty((), dtype=dtype).numpy().dtype
    array = np.memmap(path, dtype=numpy_dtype, mode="c", offset=offset, shape=shape)
    return torch.from_numpy(array)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as error:  # still open elsewhere (Windows): the cache directory is pruned later
        log.warning("Could not remove %s: %s", path, error)


class MemoryBudget:
    """The captured windows of every analysis a process holds, kept within ``limit_bytes`` of memory.

    Windows are tracked by weak reference, so an analysis that is dropped leaves the accounting
    by itself. ``admit`` is called as each window is captured; it compacts the window and spills
    the least recently admitted windows while the resident total exceeds the budget.
    """

    def __init__(self, limit_mb: int, directory: Path | None = None) -> None:
        self.limit_bytes = limit_mb * _MB
        self._directory = directory
        self._windows: OrderedDict[int, weakref.ref[CapturedWindow]] = OrderedDict()
        self._lock = threading.Lock()  # the model thread admits while the views thread may touch

    @property
    def directory(self) -> Path:
        return self._directory if self._directory is not None else spill_directory()

    def resize(self, limit_mb: int) -> None:
        """Change the budget; windows over a smaller one are spilled now."""
        self.limit_bytes = limit_mb * _MB
        self.make_room(0)

    def resident(self) -> int:
        """Bytes of captured state held in memory, over every tracked window."""
        return sum(resident_bytes(win) for win in self._live())

    def check_fits(self, shape: WindowShape, windows: list[int]) -> None:
        """Refuse, before any work, an analysis of windows of these sizes that cannot fit.

        The largest window must be capturable within the budget (its float32 buffers and compact
        copy at once), and whatever of the compact total does not fit in memory must fit on disk.
        """
        largest = max(windows, default=0)
        needed = shape.capture_bytes(largest)
        if needed > self.limit_bytes:
            raise DocumentError(
                f"Capturing a window of {largest:,} tokens needs about {_mb(needed)} MB, more than the "
                f"memory budget of {_mb(self.limit_bytes)} MB: raise attenScope.memoryBudgetMB "
                "or lower attenScope.maxTokens."
            )
        overflow = sum(shape.window_bytes(tokens, compact=True) for tokens in windows) - self.limit_bytes
        if overflow <= 0:
            return
        free = _free_disk(self.directory)
        if free is not None and overflow + DISK_RESERVE > free:
            raise DocumentError(
                f"This analysis needs about {_mb(overflow)} MB of disk space beyond the memory budget of "
                f"{_mb(self.limit_bytes)} MB, but {self.directory} has {_mb(free)} MB free: free disk space, "
                "set ATTEN_SCOPE_CACHE_DIR to a larger disk, or raise attenScope.memoryBudgetMB."
            )

    def make_room(self, incoming: int) -> None:
        """Spill the least recently admitted windows until ``incoming`` more bytes fit in the budget."""
        with self._lock:
            live = self._live()
            total = sum(resident_bytes(win) for win in live)
            for win in live:
                if total + incoming <= self.limit_bytes:
                    break
                if is_spilled(win):
                    continue
                before = resident_bytes(win)
                try:
                    spill(win, self.directory)
                except OSError as error:
                    raise DocumentError(
                        f"Could not write the analysis cache in {self.directory} ({error.strerror or error}): "
                        "free disk space, set ATTEN_SCOPE_CACHE_DIR, or raise attenScope.memoryBudgetMB."
                    ) from error
                total -= before - resident_bytes(win)

    def admit(self, win: CapturedWindow) -> None:
        """Take a newly captured window: compact it, track it, and keep the total within the budget."""
        compact(win)
        with self._lock:
            self._windows[id(win)] = weakref.ref(win)
            self._windows.move_to_end(id(win))
        self.make_room(0)

    def _live(self) -> list[CapturedWindow]:
        """Tracked windows still alive, least recently admitted first; dead entries are dropped."""
        live = []
        for key, ref in list(self._windows.items()):
            win = ref()
            if win is None:
                del self._windows[key]
            else:
                live.append(win)
        return live


def _free_disk(directory: Path) -> int | None:
    """Free bytes on the disk that holds (or will hold) ``directory``; None when unknown."""
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free
    except OSError:
        return None


def _mb(size: int) -> str:
    return f"{max(1, round(size / _MB)):,}"
