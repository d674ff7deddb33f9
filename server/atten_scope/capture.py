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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

ATTENTION_NAME = "atten_scope"
GRAM_CHECKPOINT = 128  # tokens between stored prefix Gram sums: memory / request-time trade-off

_ACTIVE: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("atten_scope_recorder", default=None)


@dataclass
class LayerRecord:
    module: Any
    query: torch.Tensor  # (H, m, d) rows computed in this pass
    key: torch.Tensor  # (KV, m, d) keys of those rows
    value: torch.Tensor  # (KV, m, d)
    lse: torch.Tensor  # (H, m)
    scale: float
    sliding_window: int | None


@dataclass
class Recorder:
    layers: dict[int, LayerRecord] = field(default_factory=dict)
    order: int = 0

    def layer_index(self, module: Any) -> int:
        index = getattr(module, "layer_idx", None)
        if index is None:
            index = self.order
        self.order += 1
        return int(index)


@contextmanager
def recording() -> Iterator[Recorder]:
    recorder = Recorder()
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
    bias = None
    causal = False
    if attention_mask is None:
        causal = m == n and m > 1
    else:
        mask = attention_mask[..., :n]
        if mask.dtype == torch.bool:
            bias = torch.zeros(mask.shape, dtype=query.dtype, device=query.device)
            bias.masked_fill_(~mask, float("-inf"))
        else:
            bias = mask.to(query.dtype)
    groups = heads // kv_heads
    out, lse = attention_with_lse(query, _repeat_kv(key, groups), _repeat_kv(value, groups), bias, causal, scale)
    window = kwargs.get("sliding_window", getattr(module, "sliding_window", None))
    recorder.layers[recorder.layer_index(module)] = LayerRecord(
        module=module,
        query=query[0].detach(),
        key=key[0, :, n - m :].detach(),
        value=value[0, :, n - m :].detach(),
        lse=lse[0].detach(),
        scale=scale,
        sliding_window=int(window) if window else None,
    )
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

    @property
    def n(self) -> int:
        return len(self.ids)

    def nbytes(self) -> int:
        tensors = (self.query, self.key, self.value, self.lse, self.value_norm, self.gram)
        return sum(t.element_size() * t.nelement() for t in tensors)


def _gram_checkpoints(value: torch.Tensor, prefix: torch.Tensor | None, prefix_tokens: int) -> torch.Tensor:
    """Prefix Gram sums every GRAM_CHECKPOINT tokens, extending ``prefix`` (valid up to prefix_tokens)."""
    layers, kv_heads, n, d = value.shape
    count = n // GRAM_CHECKPOINT + 1
    gram = torch.zeros((layers, kv_heads, count, d, d), dtype=torch.float64, device=value.device)
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
) -> CapturedWindow:
    """Run one forward pass over ``ids`` and return its captured state.

    With ``prefix`` and ``reuse`` > 0, the first ``reuse`` tokens' state is copied from ``prefix``
    (a causal model's prefix does not depend on what follows) and only the rest is computed,
    with the prefix keys and values fed to the model as its KV cache.
    """
    from transformers import DynamicCache

    device = next(model.parameters()).device
    reuse = max(0, min(reuse, len(ids) - 1)) if prefix is not None else 0
    new_ids = ids[reuse:]
    kwargs: dict[str, Any] = {"use_cache": reuse > 0, "logits_to_keep": 1}
    if reuse > 0 and prefix is not None:
        cache = DynamicCache()
        for layer in range(prefix.key.shape[0]):
            cache.update(prefix.key[layer, :, :reuse][None], prefix.value[layer, :, :reuse][None], layer)
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
        with torch.inference_mode(), recording() as recorder:
            model(input_ids=input_ids, **kwargs)
    finally:
        for hook in hooks:
            hook.remove()
    layers = sorted(recorder.layers)
    records = [recorder.layers[i] for i in layers]
    query = torch.stack([r.query for r in records])
    key = torch.stack([r.key for r in records])
    value = torch.stack([r.value for r in records])
    lse = torch.stack([r.lse for r in records])
    heads, head_dim = query.shape[1], query.shape[3]
    kv_heads = key.shape[1]
    with torch.inference_mode():
        norms = []
        for layer, record in zip(range(len(records)), records, strict=True):
            metric = value_norm_metric(record.module, heads, head_dim).to(value.device)
            t = value[layer].float().repeat_interleave(heads // kv_heads, dim=0)  # (H, m, d)
            norms.append(torch.einsum("hmd,hde,hme->hm", t, metric, t).clamp_min(0).sqrt())
        value_norm = torch.stack(norms)
    if reuse > 0 and prefix is not None:
        query = torch.cat([prefix.query[:, :, :reuse], query], dim=2)
        key = torch.cat([prefix.key[:, :, :reuse], key], dim=2)
        value = torch.cat([prefix.value[:, :, :reuse], value], dim=2)
        lse = torch.cat([prefix.lse[:, :, :reuse], lse], dim=2)
        value_norm = torch.cat([prefix.value_norm[:, :, :reuse], value_norm], dim=2)
    gram = _gram_checkpoints(value, prefix.gram if prefix is not None and reuse > 0 else None, reuse)
    return CapturedWindow(
        start=start,
        ids=list(ids),
        query=query.contiguous(),
        key=key.contiguous(),
        value=value.contiguous(),
        lse=lse.contiguous(),
        value_norm=value_norm.contiguous(),
        gram=gram,
        scale=torch.tensor([r.scale for r in records], dtype=torch.float32),
        sliding_window=[r.sliding_window for r in records],
        recomputed=len(new_ids),
    )
