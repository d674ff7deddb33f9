"""Refined attention rows, rebuilt on demand from the captured state.

For head h of layer l, query row i and source j <= i (within the sliding window, if any):

- ``raw``: a_ij = softmax_j(s * q_i . k_j).
- ``norm`` (Kobayashi et al. 2020): a_ij ||f_h(j)|| / sum_j' a_ij' ||f_h(j')||, f_h(j) = t_j W_O^h.
- ``effective`` (Brunner et al. 2020, causal form): the projection of row a_i onto the column
  space of the value prefix T (rows t_j, j allowed for i). With G_i = T^T T and o_i = a_i T,
  a_eff_ij = t_j G_i^+ o_i. Rows with at most d_head sources are unchanged (T has full row rank).
  G_i^+ is taken in float64 from an eigen-decomposition that drops eigenvalues below
  (RANK_RTOL * sigma_max)^2, the same cut as an SVD of T with relative tolerance RANK_RTOL.
- ``effective+norm``: effective, clipped at 0, weighted by ||f_h(j)||.

Negative entries are clipped to 0 and every refined row is renormalised to sum to 1.
"""

from __future__ import annotations

import torch

from .capture import GRAM_CHECKPOINT, CapturedWindow

REFINEMENTS = ("raw", "norm", "effective", "effective+norm")
RANK_RTOL = 1e-5
ROW_BLOCK = 16  # rows refined at once: bounds the (rows x layers x kv x d x d) Gram block


def _prefix_grams(win: CapturedWindow, layers: torch.Tensor, first: int, count: int) -> torch.Tensor:
    """P(p) = sum_{t < p} t_t^T t_t for p = first .. first + count - 1: (count, L', KV, d, d) float64."""
    checkpoint = first // GRAM_CHECKPOINT
    base = win.gram[layers, :, checkpoint].clone()  # (L', KV, d, d)
    begin = checkpoint * GRAM_CHECKPOINT
    if first > begin:
        block = win.value[layers, :, begin:first].double()
        base += torch.matmul(block.transpose(-1, -2), block)
    if count == 1:
        return base[None]
    steps = win.value[layers, :, first : first + count - 1].double()  # (L', KV, count-1, d)
    outer = steps[..., :, None] * steps[..., None, :]  # (L', KV, count-1, d, d)
    running = torch.cumsum(outer, dim=2)
    grams = torch.cat([base[:, :, None], base[:, :, None] + running], dim=2)
    return grams.permute(2, 0, 1, 3, 4)


def _pinv_psd(gram: torch.Tensor) -> torch.Tensor:
    """Pseudo-inverse of symmetric PSD matrices (..., d, d) with the module's rank tolerance."""
    eigenvalues, vectors = torch.linalg.eigh(gram)
    cutoff = eigenvalues[..., -1:].clamp_min(0) * RANK_RTOL**2
    keep = eigenvalues > cutoff
    inverse = torch.where(keep, 1.0 / torch.where(keep, eigenvalues, torch.ones_like(eigenvalues)), 0.0)
    return (vectors * inverse[..., None, :]) @ vectors.transpose(-1, -2)


def source_mask(win: CapturedWindow, layers: torch.Tensor, first: int, count: int, sources: int) -> torch.Tensor:
    """Allowed (row, source) pairs per layer: (L', count, sources) bool."""
    rows = torch.arange(first, first + count)[:, None]
    cols = torch.arange(sources)[None, :]
    causal = cols <= rows
    masks = []
    for layer in layers.tolist():
        window = win.sliding_window[layer]
        masks.append(causal & (cols > rows - window) if window else causal)
    return torch.stack(masks).to(win.query.device)


def raw_rows(win: CapturedWindow, layers: torch.Tensor, first: int, count: int) -> torch.Tensor:
    """Softmax attention rows first..first+count-1 for ``layers``: (L', H, count, first+count)."""
    sources = first + count
    heads, kv_heads, d = win.query.shape[1], win.key.shape[1], win.query.shape[3]
    groups = heads // kv_heads
    q = win.query[layers, :, first:sources].float().reshape(len(layers), kv_heads, groups, count, d)
    k = win.key[layers, :, :sources].float()
    scores = torch.matmul(q, k[:, :, None].transpose(-1, -2))  # (L', KV, G, count, sources)
    scores = scores * win.scale[layers].to(scores.device)[:, None, None, None, None]
    allowed = source_mask(win, layers, first, count, sources)[:, None, None]
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1).reshape(len(layers), heads, count, sources)


def _effective(win: CapturedWindow, layers: torch.Tensor, first: int, count: int, attention: torch.Tensor) -> torch.Tensor:
    """Brunner effective attention for the rows of ``attention`` (L', H, count, sources)."""
    heads, kv_heads, d = win.query.shape[1], win.key.shape[1], win.query.shape[3]
    groups = heads // kv_heads
    sources = first + count
    values = win.value[layers, :, :sources].double()  # (L', KV, S, d)
    a = attention.double().reshape(len(layers), kv_heads, groups, count, sources)
    outputs = torch.matmul(a, values[:, :, None])  # o_i: (L', KV, G, count, d)
    grams = _prefix_grams(win, layers, first + 1, count)  # P(i + 1): (count, L', KV, d, d)
    windows = torch.tensor([w or 0 for w in (win.sliding_window[i] for i in layers.tolist())], dtype=torch.long)
    if bool((windows > 0).any()):
        for index, layer_window in enumerate(windows.tolist()):
            if not layer_window:
                continue
            for r in range(count):
                low = first + r + 1 - layer_window
                if low > 0:
                    grams[r, index] -= _prefix_grams(win, layers[index : index + 1], low, 1)[0, 0]
    pinv = _pinv_psd(grams).permute(1, 2, 0, 3, 4)  # (L', KV, count, d, d)
    solved = torch.matmul(pinv[:, :, None], outputs[..., None])[..., 0]  # (L', KV, G, count, d)
    effective = torch.matmul(solved, values[:, :, None].transpose(-1, -2))  # (L', KV, G, count, sources)
    allowed = source_mask(win, layers, first, count, sources)
    effective = effective.masked_fill(~allowed[:, None, None], 0.0)
    # Rows with no more sources than dimensions: the projection is the identity.
    full_rank = allowed.sum(-1) <= d  # (L', count)
    effective = torch.where(full_rank[:, None, None, :, None], a, effective)
    return effective.reshape(len(layers), heads, count, sources).float()


def _normalise(rows: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    rows = rows.clamp_min(0)
    total = rows.sum(-1, keepdim=True)
    good = total > 0
    return torch.where(good, rows / torch.where(good, total, torch.ones_like(total)), fallback)


def refined_rows(
    win: CapturedWindow, layers: torch.Tensor, first: int, count: int, refinement: str
) -> torch.Tensor:
    """Refined, clipped, renormalised rows first..first+count-1: (L', H, count, first+count)."""
    if refinement not in REFINEMENTS:
        raise ValueError(f"unknown refinement {refinement!r}")
    blocks = []
    for start in range(first, first + count, ROW_BLOCK):
        size = min(ROW_BLOCK, first + count - start)
        attention = raw_rows(win, layers, start, size)
        if refinement == "raw":
            rows = attention
        else:
            base = _effective(win, layers, start, size, attention) if refinement.startswith("effective") else attention
            if refinement.endswith("norm"):
                norms = win.value_norm[layers, :, : start + size].float()[:, :, None, :]
                base = base.clamp_min(0) * norms
            rows = _normalise(base, attention)
        if start + size < first + count:
            rows = torch.nn.functional.pad(rows, (0, first + count - start - size))
        blocks.append(rows)
    return torch.cat(blocks, dim=2)
