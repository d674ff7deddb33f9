"""The learned aggregate: per-head coefficients from the shipped table, combined like any linear aggregate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.aggregate import combine, linear_weights
from atten_scope.views import learned
from atten_scope.views.options import ViewOptions

MODEL = "test:model"


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    coefficients = np.array([[0.0, 2.0, 1.0], [0.5, 0.0, 0.0]])
    entry = {
        "refinement": "norm",
        "layers": 2,
        "heads": 3,
        "coefficients": coefficients.tolist(),
        "crossValidatedLds": 0.5,
        "trainingCases": 10,
    }
    monkeypatch.setattr(learned, "_table", lambda: {MODEL: entry, "bad:model": {**entry, "layers": 3}})
    return coefficients


def rows(layers: int = 2, heads: int = 3, r: int = 4, s: int = 6) -> torch.Tensor:
    raw = torch.rand(layers, heads, r, s, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    return raw / raw.sum(-1, keepdim=True)


def test_learned_rows_are_the_coefficient_weighted_mean_of_the_heads(table: np.ndarray) -> None:
    options = ViewOptions(aggregate="learned")
    c = learned.head_coefficients(MODEL, options, [0, 1], [0, 1, 2])
    assert c is not None
    block = rows()
    expected = sum(table[i, h] * block[i, h] for i in range(2) for h in range(3)) / table.sum()
    assert torch.allclose(combine(block, "learned", c), expected)
    assert torch.allclose(combine(block, "learned", c).sum(-1), torch.ones(4, dtype=torch.float64))
    # Equal coefficients give the head mean; a one-hot one gives that head alone.
    assert torch.allclose(combine(block, "learned", torch.ones(2, 3)), combine(block, "headMean"))
    one_hot = torch.zeros(2, 3)
    one_hot[1, 2] = 1.0
    assert torch.allclose(combine(block, "learned", one_hot), block[1, 2])


def test_a_selection_takes_its_coefficients_and_linear_weights_read_them(table: np.ndarray) -> None:
    options = ViewOptions(aggregate="learned", layers=(0,), heads=(1, 2))
    c = learned.head_coefficients(MODEL, options, [0], [1, 2])
    assert c is not None and c.tolist() == [[2.0, 1.0]]
    assert np.allclose(linear_weights("learned", 1, 2, c), [[2 / 3, 1 / 3]])
    assert learned.head_coefficients(MODEL, ViewOptions(aggregate="headMean"), [0], [1]) is None


def test_a_model_without_coefficients_is_refused_with_a_sentence(table: np.ndarray) -> None:
    options = ViewOptions(aggregate="learned")
    with pytest.raises(InvalidRequest, match=r"no coefficients for this model.*test:model"):
        learned.head_coefficients("other:model", options, [0], [0])
    with pytest.raises(InvalidRequest, match="no coefficients"):  # a malformed entry counts as none
        learned.head_coefficients("bad:model", options, [0], [0])
    with pytest.raises(InvalidRequest, match="do not cover"):
        learned.head_coefficients(MODEL, options, [0, 5], [0])
    with pytest.raises(ValueError, match="needs the model's coefficients"):
        combine(rows(), "learned")
