"""The coefficients of the ``learned`` aggregate: one non-negative weight per layer and head, fitted
offline on the ablation effects of a training corpus of code (``bench/learn_heads.py``).

Each head's attention is a feature (AT2, Cohen-Wang, Chuang and Madry 2025): a source's learned
weight is sum over (l, h) of c_lh a^{lh}_j / sum c_lh, with a^{lh} the refined row of layer l, head h.
The coefficients ship per model in ``data/learned_heads.json``; a model without an entry has no
learned aggregate, and asking for it is refused with a sentence.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import torch

from atten_scope.common.errors import InvalidRequest
from atten_scope.views.options import ViewOptions

TABLE = "learned_heads.json"


@dataclass(frozen=True, eq=False)
class LearnedHeads:
    """A model's fitted coefficients (L, H) and how they were fitted."""

    model: str
    refinement: str  # the refinement the coefficients were fitted on
    coefficients: np.ndarray  # (layers, heads), >= 0
    cross_validated_lds: float
    training_cases: int
    # Whether a completion's instant attribution uses these weights: they measured better than the
    # model's default view on the completion benchmark, whose mean LDS (and case count) is kept.
    instant: bool = False
    completion_lds: float | None = None
    completion_cases: int = 0


@cache
def _table() -> dict[str, Any]:
    try:
        text = resources.files("atten_scope").joinpath("data", TABLE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    loaded = json.loads(text)
    return loaded if isinstance(loaded, dict) else {}


def learned_heads(model_id: str) -> LearnedHeads | None:
    """``model_id``'s shipped coefficients (None: none ship for it)."""
    entry = _table().get(model_id)
    if not isinstance(entry, dict):
        return None
    coefficients = np.asarray(entry["coefficients"], dtype=np.float64)
    if coefficients.shape != (entry["layers"], entry["heads"]) or (coefficients < 0).any():
        return None
    measured = (entry.get("completionLds") or {}).get("learned") or {}
    return LearnedHeads(
        model_id,
        entry["refinement"],
        coefficients,
        float(entry["crossValidatedLds"]),
        int(entry["trainingCases"]),
        instant=bool(entry.get("instant")),
        completion_lds=float(measured["mean"]) if "mean" in measured else None,
        completion_cases=int(measured.get("cases", 0)),
    )


def models_with_learned_heads() -> list[str]:
    return sorted(k for k in _table() if learned_heads(k) is not None)


def head_coefficients(
    model_id: str, options: ViewOptions, layers: Sequence[int] | torch.Tensor, heads: Sequence[int] | torch.Tensor
) -> torch.Tensor | None:
    """The learned aggregate's coefficients (L', H') of the selected ``layers`` and ``heads`` (None
    for every other aggregate); refused with a sentence where ``model_id`` ships none or the
    selection exceeds them."""
    if not options.aggregate_spec.learned:
        return None
    found = learned_heads(model_id)
    if found is None:
        shipped = ", ".join(models_with_learned_heads()) or "no model"
        raise InvalidRequest(
            f"The learned aggregate has no coefficients for this model (they ship for {shipped}): "
            "choose another aggregate."
        )
    table = torch.from_numpy(found.coefficients)
    rows = torch.as_tensor(layers, dtype=torch.long)
    cols = torch.as_tensor(heads, dtype=torch.long)
    if (rows.numel() and int(rows.max()) >= table.shape[0]) or (cols.numel() and int(cols.max()) >= table.shape[1]):
        raise InvalidRequest("The learned aggregate's coefficients do not cover the selected layers and heads.")
    return table[rows][:, cols]
