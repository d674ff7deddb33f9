"""Combining refined rows over heads and layers, and per-line sums.

Aggregates (over the selected layers L' and heads H'), declared in ``registry.AGGREGATES``:
- ``headMean``: mean over H' and L' (with all layers selected, the layer mean of head means).
- ``headMax``: max over H' within each layer, mean over L', renormalised.
- ``lastLayers``: the head mean over the last half of L' (late layers track the output best).
- ``perHead``: the one selected head of the one selected layer.
- ``learned``: sum over (l, h) of c_lh times the rows of layer l, head h, over sum c_lh, with the
  model's fitted coefficients c (``views/learned.py``; the caller passes those of the selection).
- ``rollout`` (streamed, so not combined here: see ``views.rollout_rows``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from atten_scope.registry import AGGREGATES, Implementations

# (L', H', r, S) refined rows -> (r, S) combined rows.
Combiner = Callable[[torch.Tensor], torch.Tensor]
COMBINERS = Implementations[Combiner](
    AGGREGATES, "row-by-row aggregate", lambda spec: not spec.streamed and not spec.learned
)
combines = COMBINERS.register


@combines("headMean")
def head_mean(rows: torch.Tensor) -> torch.Tensor:
    return rows.mean(dim=(0, 1))


@combines("lastLayers")
def last_layers(rows: torch.Tensor) -> torch.Tensor:
    half = max(1, rows.shape[0] // 2)
    return rows[-half:].mean(dim=(0, 1))


@combines("perHead")
def per_head(rows: torch.Tensor) -> torch.Tensor:
    if rows.shape[0] != 1 or rows.shape[1] != 1:
        raise ValueError("perHead needs exactly one layer and one head")
    return rows[0, 0]


def head_max_entries(rows: torch.Tensor) -> torch.Tensor:
    """g of headMax, entry by entry: the max over H' of each layer, averaged over L': (L', H', r, S) -> (r, S)."""
    return rows.max(dim=1).values.mean(dim=0)


# g of each ``entrywise`` aggregate: combined rows are g(rows) / T with T_i = sum over sources of g(rows)_i.
ENTRYWISE = Implementations[Combiner](AGGREGATES, "entry-wise aggregate", lambda spec: spec.entrywise)
ENTRYWISE.register("headMax")(head_max_entries)


def renormalised(entries: torch.Tensor, totals: torch.Tensor) -> torch.Tensor:
    """entries / totals, zero where a total is 0 (a row with no weight)."""
    return entries / torch.where(totals > 0, totals, torch.ones_like(totals))


@combines("headMax")
def head_max(rows: torch.Tensor) -> torch.Tensor:
    combined = head_max_entries(rows)
    return renormalised(combined, combined.sum(-1, keepdim=True))


def weighted(rows: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
    """sum over (l, h) of c_lh rows[l, h] / sum c_lh: (L', H', r, S) -> (r, S) (zeros if sum c is 0)."""
    total = float(coefficients.sum())
    scale = coefficients.to(rows.dtype) / (total if total > 0 else 1.0)
    return torch.einsum("lh,lhrs->rs", scale, rows)


def combine(rows: torch.Tensor, aggregate: str, coefficients: torch.Tensor | None = None) -> torch.Tensor:
    """(L', H', r, S) refined rows -> (r, S) aggregated rows, each summing to 1 (or 0 if empty).

    A ``linear`` aggregate may also be given columns shaped (L', H', r, 1). ``coefficients`` (L', H'):
    a ``learned`` aggregate's, for the selected layers and heads.
    """
    if AGGREGATES[aggregate].learned:
        if coefficients is None:
            raise ValueError(f"the {aggregate} aggregate needs the model's coefficients")
        return weighted(rows, coefficients)
    return COMBINERS.get(aggregate)(rows)


def linear_weights(aggregate: str, layers: int, heads: int, coefficients: torch.Tensor | None = None) -> np.ndarray:
    """The coefficients c_lh (L', H') of a ``linear`` aggregate: combined = sum over (l, h) of c_lh
    times the rows of layer l, head h. Combining one-hot probe rows reads them off; a layer whose
    coefficients are all zero (the first half, for lastLayers) need not be built at all."""
    count = layers * heads
    probe = torch.eye(count, dtype=torch.float64).reshape(layers, heads, 1, count)
    return combine(probe, aggregate, coefficients)[0].reshape(layers, heads).numpy()


def line_sums(weights: np.ndarray, token_lines: np.ndarray, line_count: int) -> np.ndarray:
    """Per-line total weight: sum of the weights of the tokens that start on each line."""
    return np.bincount(token_lines, weights=weights, minlength=line_count)[:line_count]


COMBINERS.check()
ENTRYWISE.check()
