"""The removal surrogate and the LDS (``views.surrogate``) on synthetic problems: no model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from atten_scope.views.surrogate import lasso, lds, out_of_fold, predict, random_masks, ridge


def linear_problem(m: int = 96, n: int = 24, noise: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Masks kept with probability 1/2 and f = b + z . w + noise, with three lines that matter."""
    z = random_masks(m, n, seed=3)
    w = np.zeros(n)
    w[[2, 7, 19]] = [3.0, -1.5, 0.8]
    b = -12.0
    f = b + z @ w + np.random.default_rng(4).normal(0.0, noise, m)
    return z, f, w, b


def test_lasso_recovers_known_sparse_weights() -> None:
    z, f, w, b = linear_problem()
    fitted, intercept = lasso(z, f, alpha_fraction=0.001)
    assert np.allclose(fitted, w, atol=0.02)
    assert intercept == pytest.approx(b, abs=0.05)
    # A strong penalty keeps only the largest weight, shrunk: the sparse fit of ContextCite.
    strong, _ = lasso(z, f, alpha_fraction=0.5)
    assert np.count_nonzero(strong) == 1 and strong[2] > 0


def test_ridge_recovers_known_weights() -> None:
    z, f, w, _ = linear_problem()
    fitted, intercept = ridge(z, f, lambda_fraction=0.01)
    assert np.allclose(fitted, w, atol=0.05)
    assert np.allclose(predict(z, fitted, intercept), f, atol=0.1)


def test_lds_is_spearman_of_predicted_and_actual() -> None:
    z, f, w, _ = linear_problem(noise=1.0)
    predicted = predict(z, w)
    assert lds(predicted, f) == pytest.approx(spearmanr(predicted, f).statistic, abs=1e-12)
    assert lds(np.zeros(len(f)), f) is None  # constant predictions rank nothing
    assert lds(predicted[:2], f[:2]) is None


def test_out_of_fold_predicts_each_mask_by_a_fit_that_did_not_see_it() -> None:
    z, f, _, _ = linear_problem(m=20)
    seen: list[set[int]] = []

    def fit(zs: np.ndarray, fs: np.ndarray) -> tuple[np.ndarray, float]:
        seen.append({int(i) for i in np.nonzero(np.isin(f, fs))[0]})
        return np.zeros(zs.shape[1]), float(fs.mean())

    predicted = out_of_fold(z, f, fit, folds=4)
    assert len(seen) == 4
    for k, used in enumerate(seen):
        held = set(range(k, 20, 4))
        assert not used & held and len(used) == 15
        assert all(predicted[i] == pytest.approx(np.mean(f[sorted(used)])) for i in held)
    # On a linear problem the held-out predictions rank the masks almost perfectly.
    z, f, _, _ = linear_problem()
    assert lds(out_of_fold(z, f, lasso), f) > 0.95


def test_random_masks_are_seeded_halves() -> None:
    masks = random_masks(400, 30, seed=0)
    assert masks.dtype == bool and np.array_equal(masks, random_masks(400, 30, seed=0))
    assert 0.45 < masks.mean() < 0.55 and not np.array_equal(masks, random_masks(400, 30, seed=1))


def test_lds_ranks_ties_as_scipy_does() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        predicted = rng.integers(0, 4, 24).astype(float)  # many ties
        actual = np.round(rng.normal(size=24), 1)
        assert lds(predicted, actual) == pytest.approx(spearmanr(predicted, actual).statistic, abs=1e-12)
