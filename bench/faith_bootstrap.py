"""The statistics of the faithfulness benchmark: means over snippets with percentile-bootstrap intervals.

The bootstrap resamples snippets (1000 resamples by default, one seed), and the same draws serve
every method, so differences between methods are paired by snippet.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from faith_names import ALL_SITUATIONS, MODEL, REFERENCE, method_names


def mean_or_nan(values: list[float]) -> float:
    """The mean of the finite values; NaN when there is none."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def bootstrap(values: np.ndarray, resamples: np.ndarray) -> tuple[float, float, float]:
    """(mean, 2.5 %, 97.5 %) of the mean over snippets; ``resamples`` are (R, S) index arrays.

    Snippets without a value (NaN: a constant side, or too few lines) are left out of each mean."""
    if not np.isfinite(values).any():
        return float("nan"), float("nan"), float("nan")
    with np.errstate(all="ignore"):
        means = np.nanmean(np.where(np.isfinite(values), values, np.nan)[resamples], axis=1)
    return float(np.nanmean(values)), float(np.nanpercentile(means, 2.5)), float(np.nanpercentile(means, 97.5))


def summarise(
    per_snippet: list[dict[str, Any]], resamples: int, seed: int, model_id: str = MODEL
) -> list[dict[str, Any]]:
    """The last-token table: every method's mean rho (dropSink on, off, signed) and its paired
    difference to raw / headMean, each with its 95 % interval; best first."""
    rng = np.random.default_rng(seed)
    count = len(per_snippet)
    draws = rng.integers(0, count, size=(resamples, count))
    reference = np.array([s["scores"][REFERENCE]["on"] for s in per_snippet])
    rows = []
    for name in method_names(model_id):
        row: dict[str, Any] = {"method": name}
        for key in ("on", "off", "signed"):
            values = np.array([s["scores"][name][key] for s in per_snippet])
            row[key] = bootstrap(values, draws)
        on = np.array([s["scores"][name]["on"] for s in per_snippet])
        row["vs_raw"] = bootstrap(on - reference, draws)
        rows.append(row)
    rows.sort(key=lambda r: -r["on"][0])
    return rows


def situation_value(record: dict[str, Any], key: str, method: str) -> float:
    """A snippet's score of ``method`` in situation ``key``; NaN where it was not measured."""
    found = record["situations"].get(key) or {}
    return float(found[method]) if method in found else float("nan")


def summarise_situations(
    per_snippet: list[dict[str, Any]], resamples: int, seed: int, model_id: str = MODEL
) -> dict[str, list[dict[str, Any]]]:
    """Per situation (``position/unit/baseline``, and ``position/unit/lds``): every method's mean rho
    with its 95 % interval, and the snippets that gave a value; the same bootstrap draws as the
    last-token table. A snippet recorded without a situation gives it no value."""
    rng = np.random.default_rng(seed)
    count = len(per_snippet)
    draws = rng.integers(0, count, size=(resamples, count))
    out: dict[str, list[dict[str, Any]]] = {}
    for key in ALL_SITUATIONS:
        rows = []
        for name in method_names(model_id):
            values = np.array([situation_value(s, key, name) for s in per_snippet], dtype=np.float64)
            rows.append({"method": name, "on": bootstrap(values, draws), "snippets": int(np.isfinite(values).sum())})
        rows.sort(key=lambda r: -r["on"][0] if np.isfinite(r["on"][0]) else np.inf)
        out[key] = rows
    return out


def paired(per_snippet: list[dict[str, Any]], a: str, b: str, draws: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % bootstrap interval of rho(a) - rho(b) (dropSink on), paired by snippet."""
    values = np.array([s["scores"][a]["on"] - s["scores"][b]["on"] for s in per_snippet])
    return bootstrap(values, draws)
