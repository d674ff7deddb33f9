"""Attention that also returns each row's log-sum-exp, from the fused SDPA kernels where PyTorch
has one, and the pieces the capture and the norm totals build on it.

For query rows q_i, keys k_j, values v_j and scale s, with the mask's allowed (i, j):

    lse_i = log sum_j exp(s * q_i . k_j)        out_i = sum_j exp(s * q_i . k_j - lse_i) v_j

so a_ij = exp(s * q_i . k_j - lse_i) can be rebuilt later for any (i, j) from q, k and lse alone.
"""

from __future__ import annotations

import torch


def repeat_kv(states: torch.Tensor, groups: int) -> torch.Tensor:
    """(B, KV, n, d) keys or values repeated to (B, KV * groups, n, d): one per query head."""
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


def is_offset_causal(attention_mask: torch.Tensor, m: int, n: int) -> bool:
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
    new_key = repeat_kv(key[:, :, prefix:], groups)
    new_value = repeat_kv(value[:, :, prefix:], groups)
    out_b, lse_b = attention_with_lse(query, new_key, new_value, None, m > 1, scale)
    lse = torch.logaddexp(lse_a, lse_b)
    out = out_a.float() * torch.exp(lse_a - lse)[..., None] + out_b.float() * torch.exp(lse_b - lse)[..., None]
    return out.to(query.dtype), lse


def scattered_rows_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    positions: torch.Tensor,
    window: int | None,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of m query rows at window rows ``positions`` (m,) over the window's keys (1, KV, n, d):
    row k sees key j where j <= positions[k] (and positions[k] - j < window): as each row would in
    a causal pass over the window. Returns out (1, H, m, dv) and lse (1, H, m).

    The query heads of a KV group fold into rows, as ``cached_prefix_attention`` does: the keys
    are read once per group rather than repeated for every head.
    """
    batch, heads, m, d = query.shape
    kv_heads, dv = key.shape[1], value.shape[-1]
    groups = heads // kv_heads
    reach = int(positions.max()) + 1
    cols = torch.arange(reach, device=query.device)[None, :]
    rows = positions.to(query.device)[:, None]
    allowed = cols <= rows
    if window:
        allowed &= cols > rows - window
    bias = additive_bias(allowed.repeat(groups, 1), query.dtype)[None, None]  # (1, 1, G m, reach)
    folded = query.reshape(batch, kv_heads, groups * m, d)
    out, lse = attention_with_lse(folded, key[:, :, :reach], value[:, :, :reach], bias, False, scale)
    return out.reshape(batch, heads, m, dv), lse.reshape(batch, heads, m)
