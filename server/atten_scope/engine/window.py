"""The captured state of one forward pass over a window of a document, and the caches built on it.

The state (q, k, v, lse, value norms, Gram checkpoints, final hidden rows) is written once by the
capture (``capture.py``) and read by every view. What is computed later on demand (the per-layer
norm totals, each row's next-token log-probability, whether the model's head reproduces its
logits) is kept on the window through its methods, which hold the caches' invariants:

- ``norm_totals[layer]`` is a whole layer's Z^h_i, (H, n); a partly built layer is never kept.
- ``logprobs`` and ``logprobs_known`` are both None or both (n,); ``logprobs[i]`` holds only
  where ``logprobs_known[i]``; rows are written under the window's lock, since two analyses
  (an old version and the next one) can share a window.
- ``combined_totals[key]`` is T_i of an entry-wise aggregate (``aggregate.ENTRYWISE``) for every
  row, (n,), keyed by refinement, aggregate, layers and heads; only whole windows are kept, and a
  re-captured window builds its own.
- a window re-captured after an edit takes the still-valid rows of these caches from the window
  whose first ``reuse`` tokens it copied (``inherit``).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

import torch

from atten_scope.engine.prediction import Head, Reference

GRAM_CHECKPOINT = 128  # tokens between stored prefix Gram sums: memory / request-time trade-off


@dataclass
class CapturedWindow:
    """The captured state of one forward pass over tokens [start, start + n) of a document."""

    start: int
    ids: list[int]
    query: torch.Tensor  # (L, H, n, d)
    key: torch.Tensor  # (L, KV, n, d)
    value: torch.Tensor  # (L, KV, n, d)
    lse: torch.Tensor  # (L, H, n)
    value_norm: torch.Tensor  # (L, H, n): ||t_j W_O^h||
    gram: torch.Tensor  # (L, KV, n // C + 1, d, d) float64: sum_{t < c*C} t_t^T t_t
    scale: torch.Tensor  # (L,)
    sliding_window: list[int | None]
    recomputed: int = 0  # tokens computed by the forward pass that built this window
    # The final hidden state of each token (after the model's final norm: what its LM head maps to
    # logits), from which predictions are computed on demand (``prediction.py``); None for a model
    # without a separate decoder. ``reference``: the model's own logits of this pass's last row, in
    # brief, to check the head against. ``next_id``: the document's token after the window's last
    # one (None at the end of the document).
    hidden: torch.Tensor | None = None  # (n, hidden)
    reference: Reference | None = None
    next_id: int | None = None
    # Caches (see the module doc): log p_i(x_{i+1}) of each row and which rows hold one; whether
    # the model's head reproduces its logits (None: not checked); per-layer norm totals, and those
    # of the window whose first ``reuse`` tokens this one copied, with that count. Only that cache
    # is kept, not the old window, so versions do not chain up in memory.
    logprobs: torch.Tensor | None = field(default=None, repr=False, compare=False)  # (n,) float32
    logprobs_known: torch.Tensor | None = field(default=None, repr=False, compare=False)  # (n,) bool
    head_agrees: bool | None = field(default=None, repr=False, compare=False)
    norm_totals: dict[int, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)
    prefix_totals: tuple[dict[int, torch.Tensor], int] | None = field(default=None, repr=False, compare=False)
    combined_totals: dict[tuple[object, ...], torch.Tensor] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.ids)

    def nbytes(self) -> int:
        """Bytes of the captured state (not of the caches: ``cache_bytes``)."""
        tensors = [self.query, self.key, self.value, self.lse, self.value_norm, self.gram]
        if self.hidden is not None:
            tensors.append(self.hidden)
        return sum(t.element_size() * t.nelement() for t in tensors)

    def cache_bytes(self) -> int:
        """Bytes of the caches built on demand: norm and row totals and log-probabilities."""
        cached = [*self.norm_totals.values(), *self.combined_totals.values(), self.logprobs, self.logprobs_known]
        return sum(t.element_size() * t.nelement() for t in cached if t is not None)

    def following(self, index: int) -> int | None:
        """The id of the token after local token ``index`` (None after the document's last token)."""
        return self.ids[index + 1] if index + 1 < self.n else self.next_id

    def agrees_with(self, head: Head) -> bool:
        """Whether ``head``'s logits of this window's last hidden row equal the model's own, checked
        once and kept; False without hidden rows."""
        if self.hidden is None:
            return False
        if self.head_agrees is None:
            self.head_agrees = head.agrees(self.hidden[-1], self.reference)
        return self.head_agrees

    def known_logprob(self, index: int) -> float | None:
        """The kept log p_i(x_{i+1}) of local row ``index``; None when it is not computed yet."""
        logprobs, known = self.logprobs, self.logprobs_known
        if logprobs is None or known is None or not bool(known[index]):
            return None
        return float(logprobs[index])

    def logprobs_missing(self, first: int, end: int) -> bool:
        """Whether any row of [first, end) has no kept log-probability."""
        known = self.logprobs_known
        return known is None or not bool(known[first:end].all())

    def keep_logprobs(self, first: int, values: torch.Tensor) -> None:
        """Keep log-probabilities ``values`` (m,) of rows [first, first + m)."""
        with self._lock:
            if self.logprobs is None or self.logprobs_known is None:
                self.logprobs = torch.full((self.n,), math.nan, dtype=torch.float32)
                self.logprobs_known = torch.zeros((self.n,), dtype=torch.bool)
            end = first + values.shape[0]
            self.logprobs[first:end] = values
            self.logprobs_known[first:end] = True

    def norm_total(self, layer: int) -> torch.Tensor | None:
        """The kept norm totals Z^h_i of ``layer``, (H, n); None when not built yet."""
        return self.norm_totals.get(layer)

    def keep_norm_total(self, layer: int, totals: torch.Tensor) -> None:
        """Keep ``layer``'s whole norm totals (H, n)."""
        if totals.shape != (self.query.shape[1], self.n):
            raise ValueError(f"norm totals of shape {tuple(totals.shape)} are not one whole layer's")
        self.norm_totals[layer] = totals

    def combined_total(self, key: tuple[object, ...]) -> torch.Tensor | None:
        """The kept row totals T (n,) of an entry-wise aggregate under ``key``; None when not built."""
        return self.combined_totals.get(key)

    def keep_combined_total(self, key: tuple[object, ...], totals: torch.Tensor) -> None:
        """Keep the row totals ``totals`` of every row (n,) under ``key``."""
        if totals.shape != (self.n,):
            raise ValueError(f"row totals of shape {tuple(totals.shape)} are not one per row")
        self.combined_totals[key] = totals

    def prefix_norm_total(self, layer: int) -> tuple[torch.Tensor, int] | None:
        """(totals, reuse): ``layer``'s norm totals of the window this one copied its first ``reuse``
        tokens from, whose first ``reuse`` rows still hold here; None when there are none."""
        if self.prefix_totals is None:
            return None
        cache, reuse = self.prefix_totals
        earlier = cache.get(layer)
        return (earlier, reuse) if earlier is not None else None

    def inherit(self, prefix: CapturedWindow, reuse: int) -> None:
        """Take over the caches of ``prefix``, whose first ``reuse`` tokens this window copied: its
        norm totals (by reference, for the rows before ``reuse``) and its kept log-probabilities of
        those rows, but the last one's when the token after it changed (it rates that token)."""
        self.prefix_totals = (prefix.norm_totals, reuse)
        if prefix.logprobs is None or prefix.logprobs_known is None or self.hidden is None:
            return
        keep = reuse if prefix.following(reuse - 1) == self.ids[reuse] else reuse - 1
        if keep <= 0 or not bool(prefix.logprobs_known[:keep].any()):
            return
        logprobs = torch.full((self.n,), math.nan, dtype=torch.float32)
        known = torch.zeros((self.n,), dtype=torch.bool)
        logprobs[:keep] = prefix.logprobs[:keep]
        known[:keep] = prefix.logprobs_known[:keep]
        with self._lock:
            self.logprobs, self.logprobs_known = logprobs, known


def gram_checkpoints(value: torch.Tensor, prefix: torch.Tensor | None, prefix_tokens: int) -> torch.Tensor:
    """Prefix Gram sums every GRAM_CHECKPOINT tokens of ``value`` (L, KV, n, d): (L, KV, n // C + 1, d, d)
    float64, checkpoint c = sum_{t < c*C} t_t^T t_t, extending ``prefix`` (valid up to prefix_tokens)."""
    layers, kv_heads, n, d = value.shape
    count = n // GRAM_CHECKPOINT + 1
    # Every checkpoint is written below: no zero fill of this float64 buffer (the largest after q, k, v).
    gram = torch.empty((layers, kv_heads, count, d, d), dtype=torch.float64, device=value.device)
    gram[:, :, 0] = 0.0
    first = 1
    if prefix is not None:
        keep = min(prefix_tokens // GRAM_CHECKPOINT + 1, prefix.shape[2], count)
        gram[:, :, :keep] = prefix[:, :, :keep]
        first = keep
    for c in range(first, count):
        block = value[:, :, (c - 1) * GRAM_CHECKPOINT : c * GRAM_CHECKPOINT].double()
        gram[:, :, c] = gram[:, :, c - 1] + torch.matmul(block.transpose(-1, -2), block)
    return gram
