"""The removal surrogate and the linear datamodeling score (ContextCite, Cohen-Wang et al. 2024).

Given m keep-masks z_k in {0, 1}^n over the context's lines and the completion's actual
log-probability f(z_k) under each (``ablation.py``), a linear surrogate

    f(z) ~ b + sum_i w_i z_i

is fitted; w_i is the estimated drop of the log-probability (nats) when line i is removed, the
line's score. Two fits, on centred z and f (so b is the mean):

- **Lasso** (as ContextCite): min_w 1/(2m) ||f - Z w||^2 + alpha ||w||_1, by cyclic coordinate
  descent (a few lines of numpy; no dependency for one small solver). alpha is a fraction of
  alpha_max = max_i |z_i . f| / m, the smallest alpha that zeroes every weight, so the penalty
  follows the scale of f. Few lines matter to a completion: the sparse fit needs fewer masks.
- **ridge**: w = (Z^T Z + lambda m I)^-1 Z^T f, lambda a fraction of the features' variance.

The LDS of any scores s is the Spearman correlation, over masks, between the surrogate's
prediction sum_i s_i z_ki and the actual f(z_k). For the fitted surrogate it is measured
out of fold: the masks are split in k folds, each fold predicted by a fit on the others, and the
Spearman taken over all m out-of-fold predictions, so no extra forward pass is needed and no mask
is predicted by a fit that saw it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

# alpha / alpha_max. Held-out LDS with 32 masks, mean of 8 greedy 8-token completions of
# 190-250-token contexts (this package's own modules) on SmolLM2: Lasso 0.01: 0.72, 0.03: 0.76,
# 0.1: 0.78, 0.2: 0.77 (5 of them); ridge 0.1: 0.71, 0.5: 0.68, 2: 0.64.
LASSO_ALPHA = 0.1
RIDGE_LAMBDA = 0.5  # lambda / feature variance (1/4 for masks kept with probability 1/2)
FOLDS = 4
MAX_SWEEPS = 500

Fit = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, float]]


def lasso(z: np.ndarray, f: np.ndarray, alpha_fraction: float = LASSO_ALPHA) -> tuple[np.ndarray, float]:
    """(w (n,), b): the Lasso fit of f (m,) on z (m, n) (module doc), by coordinate descent until no
    weight moves by more than 1e-9 of the largest or MAX_SWEEPS sweeps."""
    x, y, x_mean, y_mean = _centred(z, f)
    m, n = x.shape
    norms = (x * x).sum(axis=0) / m  # (n,)
    alpha = alpha_fraction * float(np.abs(x.T @ y).max(initial=0.0)) / m
    w = np.zeros(n)
    residual = y.copy()
    for _ in range(MAX_SWEEPS):
        largest_step = 0.0
        for i in range(n):
            if norms[i] == 0.0:
                continue  # a line kept (or removed) in every mask: nothing to learn about it
            rho = float(x[:, i] @ residual) / m + norms[i] * w[i]
            new = math.copysign(max(abs(rho) - alpha, 0.0), rho) / norms[i]
            if new != w[i]:
                residual -= x[:, i] * (new - w[i])
                largest_step = max(largest_step, abs(new - w[i]))
                w[i] = new
        if largest_step <= 1e-9 * max(1.0, float(np.abs(w).max(initial=0.0))):
            break
    return w, y_mean - float(x_mean @ w)


def ridge(z: np.ndarray, f: np.ndarray, lambda_fraction: float = RIDGE_LAMBDA) -> tuple[np.ndarray, float]:
    """(w (n,), b): the ridge fit of f (m,) on z (m, n) (module doc)."""
    x, y, x_mean, y_mean = _centred(z, f)
    m, n = x.shape
    variance = float((x * x).sum()) / (m * n) if m * n else 0.0
    penalty = lambda_fraction * max(variance, 1e-12) * m
    w = np.linalg.solve(x.T @ x + penalty * np.eye(n), x.T @ y)
    return w, y_mean - float(x_mean @ w)


def _centred(z: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    x = np.asarray(z, dtype=np.float64)
    y = np.asarray(f, dtype=np.float64)
    x_mean, y_mean = x.mean(axis=0), float(y.mean())
    return x - x_mean, y - y_mean, x_mean, y_mean


def predict(z: np.ndarray, w: np.ndarray, b: float = 0.0) -> np.ndarray:
    """The surrogate's f(z) = b + z . w for each mask row of ``z`` (m, n)."""
    return b + np.asarray(z, dtype=np.float64) @ w


def lds(predicted: np.ndarray, actual: np.ndarray) -> float | None:
    """Spearman's rho between predicted and actual log-probabilities over masks; None where it is
    undefined (fewer than 3 masks, or either side constant)."""
    if len(actual) < 3 or np.ptp(predicted) == 0 or np.ptp(actual) == 0:
        return None
    rho = float(np.corrcoef(_ranks(predicted), _ranks(actual))[0, 1])
    return rho if math.isfinite(rho) else None


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank (Spearman's rho is Pearson's r of these).

    Written here rather than taken from scipy.stats.rankdata: scipy is not a runtime dependency of
    the server, and this is all of it the server needs (tests check it against scipy's spearmanr)."""
    v = np.asarray(values, dtype=np.float64)
    order = np.argsort(v, kind="stable")
    ordered = v[order]
    # each run of equal values gets the mean of the positions it spans
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(v)]
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(len(v))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def out_of_fold(z: np.ndarray, f: np.ndarray, fit: Fit = lasso, folds: int = FOLDS) -> np.ndarray:
    """(m,) predictions of f, each mask's by a fit on the folds it is not in (round-robin folds:
    the masks are drawn at random, so any split is a random one)."""
    m = len(f)
    fold = np.arange(m) % max(2, min(folds, m))
    out = np.empty(m, dtype=np.float64)
    for k in np.unique(fold):
        held = fold == k
        w, b = fit(z[~held], f[~held])
        out[held] = predict(z[held], w, b)
    return out


def random_masks(m: int, n: int, seed: int) -> np.ndarray:
    """(m, n) keep-masks, each line kept with probability 1/2, reproducible from ``seed``."""
    return np.random.default_rng(seed).random((m, n)) < 0.5
