"""One forward pass that records, per layer, what any attention row or column can be rebuilt from.

Instead of eager attention with ``output_attentions=True`` (layers x heads x n x n floats), a
registered transformers attention function delegates to the fused SDPA kernel and keeps only
post-RoPE queries and keys, values, the softmax scale, the sliding-window rule and the per-row
log-sum-exp normaliser. Memory is linear in tokens. With that state:

    a_ij = exp(s * q_i . k_j - lse_i)   for j allowed by the mask (j <= i, i - j < window)

From the values it also keeps the Kobayashi norms ||t_j W_O^h|| and running Gram sums
sum_k t_k^T t_k at checkpoints, which the norm and effective refinements need.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from atten_scope.engine.prediction import Reference, hidden_states_module

ATTENTION_NAME = "atten_scope"
GRAM_CHECKPOINT = 128  # tokens between stored prefix Gram sums: memory / request-time trade-off

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
        """``_is_offset_causal``, checked once per mask of this pass."""
        key = (attention_mask.data_ptr(), tuple(attention_mask.shape))
        if key not in self.causal_masks:
            self.causal_masks[key] = _is_offset_causal(attention_mask, m, n)
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
        self.allocate(self.offset + m, heads, key.shape[1], d, key.shape[3], query.dtype, query.device)

    def allocate(
        self, n: int, heads: int, kv_heads: int, d: int, dv: int, dtype: torch.dtype, device: torch.device
    ) -> None:
        """The (L, ..., n, ...) buffers, with the reused prefix copied into rows [0, offset)."""
        self.query = torch.empty((self.layer_count, heads, n, d), dtype=dtype, device=device)
        self.key = torch.empty((self.layer_count, kv_heads, n, dv), dtype=dtype, device=device)
        self.value = torch.empty((self.layer_count, kv_heads, n, dv), dtype=dtype, device=device)
        self.lse = torch.empty((self.layer_count, heads, n), dtype=torch.float32, device=device)
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
        """Copy one layer's rows (batch of one; key and value: this pass's rows only) into the buffers."""
        index = self.layer_index(module)
        if self.query is None:
            self._allocate(query, key)
        assert self.query is not None and self.key is not None and self.value is not None and self.lse is not None
        self.query[index, :, self.offset :] = query[0]
        self.key[index, :, self.offset :] = key[0]
        self.value[index, :, self.offset :] = value[0]
        self.lse[index, :, self.offset :] = lse[0]
        self.modules[index] = module
        self.scales[index] = scale
        self.windows[index] = window


def layer_devices(model: Any) -> dict[int, torch.device]:
    """The device of each attention layer's weights, by layer index."""
    places: dict[int, torch.device] = {}
    for module in model.modules():
        index = getattr(module, "layer_idx", None)
        if index is not None and module.__class__.__name__.endswith("Attention"):
            weight = next(module.parameters(), None)
            if weight is not None:
                places[int(index)] = weight.device
    return places


def buffer_cache(recorder: Recorder, reuse: int) -> Any:
    """A transformers KV cache whose layers are views of ``recorder``'s buffers, ``reuse`` rows filled.

    transformers' DynamicLayer concatenates the cached prefix with each pass's new rows, copying
    the prefix twice per layer (once when the cache is filled, once in the pass). Here the prefix is
    already in the buffers the capture keeps: a layer's ``update`` writes the new rows after it and
    returns the filled part, so the model reads the prefix in place.
    """
    from transformers.cache_utils import Cache, DynamicLayer

    class BufferLayer(DynamicLayer):  # type: ignore[misc]
        def __init__(self, keys: torch.Tensor, values: torch.Tensor) -> None:  # (KV, n, d)
            super().__init__()
            self.buffers, self.filled = (keys, values), reuse
            self.keys, self.values = keys[None, :, :reuse], values[None, :, :reuse]
            self.dtype, self.device = keys.dtype, keys.device
            self.is_initialized = True

        def update(
            self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
        ) -> tuple[torch.Tensor, torch.Tensor]:
            keys, values = self.buffers
            end = self.filled + key_states.shape[-2]
            if end > keys.shape[1] or key_states.shape[0] != 1:
                raise RuntimeError("a pass wrote more rows than the capture buffers hold")
            keys[:, self.filled : end] = key_states[0]
            values[:, self.filled : end] = value_states[0]
            self.filled = end
            self.keys, self.values = keys[None, :, :end], values[None, :, :end]
            return self.keys, self.values

    assert recorder.key is not None and recorder.value is not None
    return Cache(layers=[BufferLayer(recorder.key[i], recorder.value[i]) for i in range(recorder.layer_count)])


@contextmanager
def recording(recorder: Recorder) -> Iterator[Recorder]:
    token = _ACTIVE.set(recorder)
    try:
        yield recorder
    finally:
        _ACTIVE.reset(token)


def _repeat_kv(states: torch.Tensor, groups: int) -> torch.Tensor:
    if groups == 1:
        return states
    return states.repeat_interleave(groups, dim=1)


def _reference_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, bias: torch.Tensor | None, causal: bool, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention with log-sum-exp in row blocks, for devices without a fused kernel that returns it."""
    m, n = query.shape[-2], key.shape[-2]
    outputs, lses = [], []
    block = 256
    for start in range(0, m, block):
        q = query[..., start : start + block, :].float()
        scores = torch.matmul(q, key.float().transpose(-1, -2)) * scale
        if bias is not None:
            scores = scores + bias[..., start : start + block, :].float()
        if causal:
            rows = torch.arange(start, start + q.shape[-2], device=q.device)[:, None] + (n - m)
            scores = scores.masked_fill(torch.arange(n, device=q.device)[None, :] > rows, float("-inf"))
        lse = torch.logsumexp(scores, dim=-1)
        outputs.append(torch.matmul(torch.exp(scores - lse[..., None]), value.float()).to(query.dtype))
        lses.append(lse)
    return torch.cat(outputs, dim=-2), torch.cat(lses, dim=-1)


def attention_with_lse(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    bias: torch.Tensor | None,
    causal: bool,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SDPA that also returns the per-row log-sum-exp, from the fused kernel where PyTorch has one."""
    if query.device.type == "cpu":
        # The CPU flash kernel is what F.scaled_dot_product_attention runs here, and it returns lse.
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            query, key, value, 0.0, causal, attn_mask=bias, scale=scale
        )
        return out, lse.float()
    if query.device.type == "cuda":
        try:
            out, lse, _, _ = torch.ops.aten._scaled_dot_product_efficient_attention(
                query, key, value, bias, True, 0.0, causal, scale=scale
            )
            m = query.shape[-2]
            if out.shape == query.shape[:-1] + value.shape[-1:] and lse.shape[-1] >= m:
                return out, lse[..., :m].float()
        except RuntimeError:
            pass
    return _reference_attention(query, key, value, bias, causal, scale)


def additive_bias(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean mask as the additive attention bias SDPA takes: 0 where allowed, -inf elsewhere."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, float("-inf"))


def _is_offset_causal(attention_mask: torch.Tensor, m: int, n: int) -> bool:
    """Whether the mask is plain causal attention of m new rows over n keys (a KV-cached prefix, no padding)."""
    if attention_mask.dtype != torch.bool or attention_mask.shape[0] != 1 or attention_mask.shape[1] != 1:
        return False
    rows = torch.arange(n - m, n, device=attention_mask.device)[:, None]
    expected = torch.arange(n, device=attention_mask.device)[None, :] <= rows
    return bool(torch.equal(attention_mask[0, 0, :, :n], expected))


def cached_prefix_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, prefix: int, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of m new rows over ``prefix`` cached keys plus themselves, without an m x n mask.

    The rows see every prefix key, so that part needs no mask and the query heads of a KV group can
    be folded into the row axis (no repeated keys); the new block is plain causal. The two halves
    are merged by their log-sum-exps: lse = logaddexp(lse_a, lse_b), out = sum of e^(lse_x - lse) out_x.
    A fused kernel given an explicit m x n mask runs about twice as slowly per entry.
    """
    batch, heads, m, d = query.shape
    kv_heads, dv = key.shape[1], value.shape[-1]
    groups = heads // kv_heads
    folded = query.reshape(batch, kv_heads, groups * m, d)
    out_a, lse_a = attention_with_lse(folded, key[:, :, :prefix], value[:, :, :prefix], None, False, scale)
    out_a, lse_a = out_a.reshape(batch, heads, m, dv), lse_a.reshape(batch, heads, m)
    new_key = _repeat_kv(key[:, :, prefix:], groups)
    new_value = _repeat_kv(value[:, :, prefix:], groups)
    out_b, lse_b = attention_with_lse(query, new_key, new_value, None, m > 1, scale)
    lse = torch.logaddexp(lse_a, lse_b)
    out = out_a.float() * torch.exp(lse_a - lse)[..., None] + out_b.float() * torch.exp(lse_b - lse)[..., None]
    return out.to(query.dtype), lse


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
    if attention_mask is not None and 0 < m < n and not window and recorder.offset_causal(attention_mask, m, n):
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
        out, lse = attention_with_lse(query, _repeat_kv(key, groups), _repeat_kv(value, groups), bias, causal, scale)
    recorder.store(module, query, key[:, :, n - m :], value[:, :, n - m :], lse, scale, int(window) if window else None)
    return out.transpose(1, 2).contiguous(), None


def install_capture_attention(model: Any) -> None:
    """Register the capturing attention with transformers and switch ``model`` to it."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION_NAME, capture_attention)
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)
    model.set_attn_implementation(ATTENTION_NAME)


def output_projection(module: Any, heads: int, head_dim: int) -> torch.Tensor:
    """W_O as (H, d, hidden): head h's slice of the attention output projection.

    Llama-style models call it ``o_proj`` (nn.Linear, weight out x in); GPT-2 ``c_proj`` (Conv1D,
    weight in x out); GPTBigCode ``c_proj`` (nn.Linear); others ``out_proj`` or ``dense``.
    """
    from transformers.pytorch_utils import Conv1D

    for name in ("o_proj", "c_proj", "out_proj", "dense", "wo"):
        projection = getattr(module, name, None)
        if projection is None or not hasattr(projection, "weight"):
            continue
        weight = projection.weight.detach()
        matrix = weight if isinstance(projection, Conv1D) else weight.t()  # (H*d, hidden)
        if matrix.shape[0] != heads * head_dim:
            continue
        return matrix.reshape(heads, head_dim, matrix.shape[1])
    raise ValueError(f"Cannot find the attention output projection of {type(module).__name__}.")


def value_norm_metric(module: Any, heads: int, head_dim: int) -> torch.Tensor:
    """M_h = W_O^h W_O^h^T (H, d, d), so that ||t W_O^h||^2 = t M_h t^T without the hidden size."""
    cached = getattr(module, "_atten_scope_metric", None)
    if cached is not None and cached.shape[0] == heads:
        return cached  # type: ignore[no-any-return]
    w = output_projection(module, heads, head_dim).float()
    metric = torch.matmul(w, w.transpose(1, 2))
    module._atten_scope_metric = metric
    return metric


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
    hidden: torch.Tensor | None = None
    reference: Reference | None = None
    next_id: int | None = None
    # log p_i(x_{i+1}) of each row, filled on demand in row blocks (``Analysis.next_logprobs``), with
    # which rows are filled; and whether the model's head reproduces its logits (None: not checked).
    logprobs: torch.Tensor | None = field(default=None, repr=False, compare=False)
    logprobs_known: torch.Tensor | None = field(default=None, repr=False, compare=False)
    head_agrees: bool | None = field(default=None, repr=False, compare=False)
    # Per-layer norm totals (refine.norm_totals), built on demand; and those of the window whose
    # first ``reuse`` tokens this one copied, with that count. Only the cache is kept, not the old
    # window, so versions do not chain up in memory.
    norm_totals: dict[int, torch.Tensor] = field(default_factory=dict, repr=False, compare=False)
    prefix_totals: tuple[dict[int, torch.Tensor], int] | None = field(default=None, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.ids)

    def nbytes(self) -> int:
        tensors = [self.query, self.key, self.value, self.lse, self.value_norm, self.gram]
        if self.hidden is not None:
            tensors.append(self.hidden)
        return sum(t.element_size() * t.nelement() for t in tensors)

    def following(self, index: int) -> int | None:
        """The id of the token after local token ``index`` (None after the document's last token)."""
        return self.ids[index + 1] if index + 1 < self.n else self.next_id


def _gram_checkpoints(value: torch.Tensor, prefix: torch.Tensor | None, prefix_tokens: int) -> torch.Tensor:
    """Prefix Gram sums every GRAM_CHECKPOINT tokens, extending ``prefix`` (valid up to prefix_tokens)."""
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


def run_capture(
    model: Any,
    ids: list[int],
    start: int,
    prefix: CapturedWindow | None = None,
    reuse: int = 0,
    check_cancelled: Callable[[], None] | None = None,
    next_id: int | None = None,
) -> CapturedWindow:
    """Run one forward pass over ``ids`` and return its captured state and final hidden states.

    With ``prefix`` and ``reuse`` > 0, the first ``reuse`` tokens' state is copied from ``prefix``
    (a causal model's prefix does not depend on what follows) and only the rest is computed,
    with the prefix keys and values fed to the model as its KV cache; the prefix's hidden rows and
    the log-probabilities computed from them are copied too (but the last copied row's when the
    token after it changed). The LM head is not run over the rows (``prediction.py``).
    ``next_id`` is the document's token after ``ids`` (None at the end of the document).
    """
    from transformers import DynamicCache

    parameter = next(model.parameters())
    device = parameter.device
    reuse = max(0, min(reuse, len(ids) - 1)) if prefix is not None else 0
    new_ids = ids[reuse:]
    kwargs: dict[str, Any] = {"use_cache": reuse > 0, "logits_to_keep": 1}
    layer_count = int(model.config.get_text_config().num_hidden_layers)
    recorder = Recorder(layer_count=layer_count, offset=reuse, prefix=prefix)
    if reuse > 0 and prefix is not None:
        places = layer_devices(model)
        if prefix.key.shape[0] == layer_count and set(places.values()) <= {device}:
            # One device: the pass reads the prefix from the buffers it fills (no cache copies).
            _, heads, _, d = prefix.query.shape
            kv_heads, dv = prefix.key.shape[1], prefix.key.shape[3]
            recorder.allocate(len(ids), heads, kv_heads, d, dv, parameter.dtype, device)
            kwargs["past_key_values"] = buffer_cache(recorder, reuse)
        else:
            cache = DynamicCache()
            for layer in range(prefix.key.shape[0]):
                # A dispatched model's layers live on several GPUs: each gets its cache where it runs.
                place = places.get(layer, device)
                key, value = prefix.key[layer, :, :reuse][None], prefix.value[layer, :, :reuse][None]
                cache.update(key.to(place), value.to(place), layer)
            kwargs["past_key_values"] = cache
        kwargs["position_ids"] = torch.arange(reuse, len(ids), device=device)[None]
    input_ids = torch.tensor([new_ids], dtype=torch.long, device=device)
    hooks = []
    if check_cancelled is not None:
        # Cancellation is checked between layers, so a long pass stops within one layer's time.
        def pre_hook(*_: Any) -> None:
            check_cancelled()

        for module in model.modules():
            if (
                hasattr(module, "layer_idx")
                and hasattr(module, "forward")
                and module.__class__.__name__.endswith("Attention")
            ):
                hooks.append(module.register_forward_pre_hook(pre_hook))
    try:
        with (
            torch.inference_mode(),
            recording(recorder),
            final_hidden_states(model) as hidden_states,
        ):
            output = model(input_ids=input_ids, **kwargs)
            reference = Reference.of(getattr(output, "logits", None))
            del output
            hidden = _hidden_rows(hidden_states, len(new_ids), reuse, prefix)
    finally:
        for hook in hooks:
            hook.remove()
    layers = sorted(recorder.modules)
    if recorder.query is None or recorder.key is None or recorder.value is None or recorder.lse is None:
        raise RuntimeError("the model ran no attention layer through the capturing attention function")
    query, key, value, lse = recorder.query, recorder.key, recorder.value, recorder.lse
    if layers != list(range(layer_count)):  # some layers have no attention (hybrid models)
        chosen = torch.tensor(layers, dtype=torch.long)
        query, key, value, lse = query[chosen], key[chosen], value[chosen], lse[chosen]
    heads, head_dim = query.shape[1], query.shape[3]
    kv_heads = key.shape[1]
    with torch.inference_mode():
        value_norm = torch.empty(lse.shape, dtype=torch.float32, device=lse.device)
        if reuse > 0 and prefix is not None:
            value_norm[:, :, :reuse] = prefix.value_norm[:, :, :reuse]
        for position, layer in enumerate(layers):
            metric = value_norm_metric(recorder.modules[layer], heads, head_dim).to(value.device)
            t = value[position, :, reuse:].float().repeat_interleave(heads // kv_heads, dim=0)  # (H, m, d)
            value_norm[position, :, reuse:] = torch.einsum("hmd,hde,hme->hm", t, metric, t).clamp_min(0).sqrt()
    gram = _gram_checkpoints(value, prefix.gram if prefix is not None and reuse > 0 else None, reuse)
    window = CapturedWindow(
        start=start,
        ids=list(ids),
        query=query,
        key=key,
        value=value,
        lse=lse,
        value_norm=value_norm,
        gram=gram,
        scale=torch.tensor([recorder.scales[i] for i in layers], dtype=torch.float32),
        sliding_window=[recorder.windows[i] for i in layers],
        recomputed=len(new_ids),
        hidden=hidden,
        reference=reference if hidden is not None else None,
        next_id=next_id,
        prefix_totals=(prefix.norm_totals, reuse) if prefix is not None and reuse > 0 else None,
    )
    if reuse > 0 and prefix is not None:
        _copy_logprobs(window, prefix, reuse)
    return window


def _hidden_rows(
    found: list[torch.Tensor], computed: int, reuse: int, prefix: CapturedWindow | None
) -> torch.Tensor | None:
    """The window's final hidden rows (n, hidden): the prefix's first ``reuse`` rows, then this pass's."""
    if not found:
        return None
    hidden = found[-1][0]  # (m, hidden): this pass's rows
    if hidden.dim() != 2 or hidden.shape[0] != computed:
        return None
    if reuse == 0:
        return hidden
    if prefix is None or prefix.hidden is None:
        return None
    return torch.cat([prefix.hidden[:reuse].to(device=hidden.device, dtype=hidden.dtype), hidden])


def _copy_logprobs(window: CapturedWindow, prefix: CapturedWindow, reuse: int) -> None:
    """Copy the log-probabilities the prefix window computed for its first ``reuse`` rows, but the
    last one's when the token after it changed (it rates that token)."""
    if prefix.logprobs is None or prefix.logprobs_known is None or window.hidden is None:
        return
    keep = reuse if prefix.following(reuse - 1) == window.ids[reuse] else reuse - 1
    if keep <= 0 or not bool(prefix.logprobs_known[:keep].any()):
        return
    logprobs = torch.full((window.n,), math.nan, dtype=torch.float32)
    known = torch.zeros((window.n,), dtype=torch.bool)
    logprobs[:keep] = prefix.logprobs[:keep]
    known[:keep] = prefix.logprobs_known[:keep]
    window.logprobs, window.logprobs_known = logprobs, known


@contextmanager
def final_hidden_states(model: Any) -> Iterator[list[torch.Tensor]]:
    """Within the block, the forward pass's final hidden states (1, m, hidden) land in the list:
    the decoder's output (``last_hidden_state``, after the final norm), which the LM head maps to
    logits. Nothing lands for a model without a separate decoder."""
    found: list[torch.Tensor] = []

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        hidden = getattr(output, "last_hidden_state", None)
        if hidden is None and isinstance(output, tuple | list):
            hidden = output[0]
        if isinstance(hidden, torch.Tensor):
            found.append(hidden.detach())

    base = hidden_states_module(model)
    if base is None:
        yield found
        return
    handle = base.register_forward_hook(hook)
    try:
        yield found
    finally:
        handle.remove()
