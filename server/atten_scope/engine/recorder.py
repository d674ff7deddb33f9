"""The capturing attention function: SDPA that also records, per layer, what any attention row or
column can be rebuilt from.

Registered with transformers' ``AttentionInterface`` (``install_capture_attention``), it runs the
fused SDPA kernel (``kernels.py``) and, while a ``Recorder`` is active on this thread
(``recording``), keeps the post-RoPE queries and keys, the values, the softmax scale, the
sliding-window rule and the per-row log-sum-exp normaliser. Memory is linear in tokens. Without an
active recorder (another thread's pass, a batch) it is plain SDPA.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from atten_scope.engine.kernels import (
    additive_bias,
    attention_with_lse,
    cached_prefix_attention,
    is_offset_causal,
    repeat_kv,
    scattered_rows_attention,
)
from atten_scope.engine.window import CapturedWindow

ATTENTION_NAME = "atten_scope"

# A context variable: each thread's pass sees only the recorder it set itself.
_ACTIVE: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("atten_scope_recorder", default=None)


@dataclass
class Recorder:
    """Writes each layer's q, k, v and lse straight into (L, heads, n, ...) buffers.

    The buffers are allocated when the first layer arrives (its shapes and dtype give theirs) and
    hold the reused prefix in rows [0, offset); a layer's own tensors are dropped as soon as it is
    copied, so the peak is one copy of the captured state rather than the per-layer pieces plus
    their stacked copy.
    """

    layer_count: int
    offset: int = 0
    prefix: CapturedWindow | None = None
    # Keys and values of every row, the query of the last row only and no lse (a pass that fills a
    # KV cache and reads one row).
    keys_only: bool = False
    # The window rows of this pass's queries when they are scattered rows read over a fixed cache of
    # the window's keys (``contributions.RowContributions``): each sees the keys a causal pass would.
    positions: torch.Tensor | None = None
    # Rows the buffers are allocated with when a first pass holds fewer (a window run in chunks).
    capacity: int = 0
    query: torch.Tensor | None = None  # (L, H, n, d)
    key: torch.Tensor | None = None  # (L, KV, n, d)
    value: torch.Tensor | None = None  # (L, KV, n, d)
    lse: torch.Tensor | None = None  # (L, H, n)
    modules: dict[int, Any] = field(default_factory=dict)
    scales: dict[int, float] = field(default_factory=dict)
    windows: dict[int, int | None] = field(default_factory=dict)
    order: int = 0
    # Whether a mask is plain offset-causal, by (storage, shape): every layer of a pass gets the same
    # mask, and checking it builds an m x n comparison.
    causal_masks: dict[tuple[int, tuple[int, ...]], bool] = field(default_factory=dict)

    def offset_causal(self, attention_mask: torch.Tensor, m: int, n: int) -> bool:
        """``is_offset_causal``, checked once per mask of this pass."""
        key = (attention_mask.data_ptr(), tuple(attention_mask.shape))
        if key not in self.causal_masks:
            self.causal_masks[key] = is_offset_causal(attention_mask, m, n)
        return self.causal_masks[key]

    def layer_index(self, module: Any) -> int:
        index = getattr(module, "layer_idx", None)
        if index is None:
            index = self.order
        self.order += 1
        if not 0 <= int(index) < self.layer_count:
            raise RuntimeError(f"attention layer {index} is outside the model's {self.layer_count} layers")
        return int(index)

    def _allocate(self, query: torch.Tensor, key: torch.Tensor) -> None:
        heads, m, d = query.shape[1], query.shape[2], query.shape[3]
        rows = max(self.offset + m, self.capacity)
        self.allocate(rows, heads, key.shape[1], d, key.shape[3], query.dtype, query.device)

    def allocate(
        self, n: int, heads: int, kv_heads: int, d: int, dv: int, dtype: torch.dtype, device: torch.device
    ) -> None:
        """The (L, ..., n, ...) buffers, with the reused prefix copied into rows [0, offset)."""
        rows = 1 if self.keys_only else n
        self.query = torch.empty((self.layer_count, heads, rows, d), dtype=dtype, device=device)
        self.key = torch.empty((self.layer_count, kv_heads, n, dv), dtype=dtype, device=device)
        self.value = torch.empty((self.layer_count, kv_heads, n, dv), dtype=dtype, device=device)
        self.lse = torch.empty(
            (self.layer_count, heads, 0 if self.keys_only else n), dtype=torch.float32, device=device
        )
        if self.prefix is not None and self.offset > 0:
            reuse = self.offset
            self.query[:, :, :reuse] = self.prefix.query[:, :, :reuse]
            self.key[:, :, :reuse] = self.prefix.key[:, :, :reuse]
            self.value[:, :, :reuse] = self.prefix.value[:, :, :reuse]
            self.lse[:, :, :reuse] = self.prefix.lse[:, :, :reuse]

    def store(
        self,
        module: Any,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        lse: torch.Tensor,
        scale: float,
        window: int | None,
    ) -> None:
        """Copy one layer's rows (batch of one; key and value: this pass's rows only) into the buffers,
        at rows [offset, offset + m): buffers allocated ahead for several passes (generation) keep
        room after them."""
        index = self.layer_index(module)
        if self.query is None:
            self._allocate(query, key)
        assert self.query is not None and self.key is not None and self.value is not None and self.lse is not None
        rows = slice(self.offset, self.offset + query.shape[2])
        if self.keys_only:
            self.query[index, :, 0] = query[0, :, -1]
        else:
            self.query[index, :, rows] = query[0]
            self.lse[index, :, rows] = lse[0]
        self.key[index, :, rows] = key[0]
        self.value[index, :, rows] = value[0]
        self.modules[index] = module
        self.scales[index] = scale
        self.windows[index] = window


@contextmanager
def recording(recorder: Recorder) -> Iterator[Recorder]:
    """Within the block, this thread's passes through ``capture_attention`` write to ``recorder``."""
    token = _ACTIVE.set(recorder)
    try:
        yield recorder
    finally:
        _ACTIVE.reset(token)


def capture_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers attention function: SDPA plus a record of (q, k, v, lse) when recording."""
    recorder = _ACTIVE.get()
    if recorder is None or query.shape[0] != 1:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, is_causal=is_causal, **kwargs
        )
    heads, kv_heads = query.shape[1], key.shape[1]
    m, n = query.shape[2], key.shape[2]
    scale = float(scaling) if scaling is not None else query.shape[-1] ** -0.5
    groups = heads // kv_heads
    window = kwargs.get("sliding_window", getattr(module, "sliding_window", None))
    if recorder.positions is not None:
        # The mask transformers built is for m rows after the cache; these rows are elsewhere.
        out, lse = scattered_rows_attention(query, key, value, recorder.positions, window, scale)
        recorder.store(module, query, key[:, :, :m], value[:, :, :m], lse, scale, int(window) if window else None)
        return out.transpose(1, 2).contiguous(), None
    # One row over cached keys without a mask (a generation step) sees every key: offset-causal too.
    offset_causal = m == 1 if attention_mask is None else recorder.offset_causal(attention_mask, m, n)
    if 0 < m < n and not window and offset_causal:
        # The query heads of a KV group fold into rows: no repeated keys, as SDPA's own GQA path.
        out, lse = cached_prefix_attention(query, key, value, n - m, scale)
    else:
        bias = None
        causal = False
        if attention_mask is None:
            causal = m == n and m > 1
        else:
            mask = attention_mask[..., :n]
            if mask.dtype == torch.bool:
                bias = additive_bias(mask, query.dtype)
            else:
                bias = mask.to(query.dtype)
        out, lse = attention_with_lse(query, repeat_kv(key, groups), repeat_kv(value, groups), bias, causal, scale)
    recorder.store(module, query, key[:, :, n - m :], value[:, :, n - m :], lse, scale, int(window) if window else None)
    return out.transpose(1, 2).contiguous(), None


def install_capture_attention(model: Any) -> None:
    """Register the capturing attention with transformers and switch ``model`` to it."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION_NAME, capture_attention)
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)
    model.set_attn_implementation(ATTENTION_NAME)
