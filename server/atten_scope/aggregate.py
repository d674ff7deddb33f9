"""Combining refined rows over heads and layers, attention rollout, and per-line sums.

Aggregates (over the selected layers L' and heads H'):
- ``headMean``: mean over H' and L' (with all layers selected, the layer mean of head means).
- ``headMax``: max over H' within each layer, mean over L', renormalised.
- ``lastLayers``: the head mean over the last half of L' (late layers track the output best).
- ``perHead``: the one selected head of the one selected layer.
- ``rollout`` (Abnar & Zuidema 2020): R = A_hat_L ... A_hat_1 with A_hat_l = 0.5 A_l + 0.5 I and
  A_l the head mean of layer l; row i of R is e_i^T A_hat_L ... A_hat_1.
"""

from __future__ import annotations

import numpy as np
import torch

AGGREGATES = ("headMean", "headMax", "lastLayers", "perHead", "rollout")


def combine(rows: torch.Tensor, aggregate: str) -> torch.Tensor:
    """(L', H', r, S) refined rows -> (r, S) aggregated rows, each summing to 1 (or 0 if empty)."""
    if aggregate == "headMean":
        return rows.mean(dim=(0, 1))
    if aggregate == "lastLayers":
        half = max(1, rows.shape[0] // 2)
        return rows[-half:].mean(dim=(0, 1))
    if aggregate == "perHead":
        if rows.shape[0] != 1 or rows.shape[1] != 1:
            raise ValueError("perHead needs exactly one layer and one head")
        return rows[0, 0]
    if aggregate == "headMax":
        combined = rows.max(dim=1).values.mean(dim=0)
        total = combined.sum(-1, keepdim=True)
        return combined / torch.where(total > 0, total, torch.ones_like(total))
    raise ValueError(f"unknown aggregate {aggregate!r}")


def rollout_row(layer_matrices: list[torch.Tensor], row: int) -> torch.Tensor:
    """Row ``row`` of A_hat_L ... A_hat_1 given each layer's (n, n) row-stochastic matrix, first layer first."""
    n = layer_matrices[0].shape[-1]
    vector = torch.zeros(n, dtype=torch.float64)
    vector[row] = 1.0
    for matrix in reversed(layer_matrices):
        vector = 0.5 * (vector @ matrix.double()) + 0.5 * vector
    return vector.float()


def drop_and_renormalise(weights: np.ndarray, dropped: list[int]) -> np.ndarray:
    """Zero the ``dropped`` entries (sink tokens) and rescale the rest to sum to 1."""
    out = weights.astype(np.float64, copy=True)
    out[[i for i in dropped if 0 <= i < len(out)]] = 0.0
    total = out.sum()
    return out / total if total > 0 else out


def line_sums(weights: np.ndarray, token_lines: np.ndarray, line_count: int) -> np.ndarray:
    """Per-line total weight: sum of the weights of the tokens that start on each line."""
    return np.bincount(token_lines, weights=weights, minlength=line_count)[:line_count]
