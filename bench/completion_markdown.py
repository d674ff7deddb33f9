"""The summary and the ``completion.md`` section of the completion benchmark.

LDS means over completions with a percentile-bootstrap 95 % interval (``faith_bootstrap.bootstrap``:
completions resampled, the same draws for every method, so methods are compared on paired
completions), overall and per language.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from completion_corpus import LANGUAGES
from faith_bootstrap import bootstrap
from report import MODEL_NAMES, table


def summarise(records: list[dict[str, Any]], resamples: int, seed: int) -> list[dict[str, Any]]:
    """Per method: n, mean LDS with its interval, overall and per language, and the median seconds."""
    names: list[str] = []
    for record in records:
        names += [n for n in record["methods"] if n not in names]
    rows = []
    for name in names:
        row: dict[str, Any] = {"method": name}
        for group in ("all", *LANGUAGES):
            chosen = [r for r in records if group in ("all", r["language"]) and name in r["methods"]]
            values = np.array([r["methods"][name]["lds"] for r in chosen], dtype=np.float64)
            if not len(values):
                row[group] = {"n": 0, "mean": None, "low": None, "high": None}
                continue
            draws = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
            mean, low, high = bootstrap(values, draws)
            row[group] = {"n": int(np.isfinite(values).sum()), "mean": mean, "low": low, "high": high}
        seconds = [r["methods"][name]["seconds"] for r in records if name in r["methods"]]
        row["median_s"] = float(np.median(seconds)) if seconds else None
        rows.append(row)
    return rows


def _cell(entry: dict[str, Any]) -> str:
    if not entry["n"] or entry["mean"] is None or not np.isfinite(entry["mean"]):
        return "-"
    return f"{entry['mean']:+.3f} [{entry['low']:+.2f}, {entry['high']:+.2f}] (n {entry['n']})"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}" if value < 10 else f"{value:.0f}"


def cost_rows(cost: dict[str, Any]) -> list[list[str]]:
    """One row per context size of the cost part."""
    rows = []
    for size in cost["sizes"]:
        ratio = size.get("capture_ratio")
        rows.append(
            [
                f"{size['context_tokens']:,}",
                f"{size['plain_s']:.2f}",
                "-" if size.get("capture_s") is None else f"{size['capture_s']:.2f}",
                "-" if ratio is None else f"{ratio:.2f}{' (target <= 1.2)' if ratio > 1.2 else ''}",
                f"{size['plain_first_s']:.3f}",
                "-" if size.get("capture_first_s") is None else f"{size['capture_first_s']:.3f}",
                "-" if size.get("instant_s") is None else f"{size['instant_s']:.3f}",
                *(
                    "-" if size.get("surrogate_s", {}).get(str(n)) is None else f"{size['surrogate_s'][str(n)]:.1f}"
                    for n in cost["ablations"]
                ),
            ]
        )
    return rows


def render(record: dict[str, Any]) -> str:
    """The section: the cost table, then the LDS table overall and per language."""
    args = record["settings"]
    model = MODEL_NAMES.get(args["model"], args["model"])
    lines = [
        f"## Completion and attribution ({model})",
        "",
        f"Machine: {record['machine']}; load average {record['load'][0]:.1f} at the start, "
        f"{record['load'][1]:.1f} at the end (other work shared the cores: absolute times scale with "
        "the share this run got, the ratios are taken back to back).",
    ]
    cost = record.get("cost")
    if cost:
        lines += [
            "",
            f"### Cost: greedy completion of {cost['new_tokens']} tokens, attribution",
            "",
            f"Median of {cost['repeats']} rounds. *plain*: `model.generate` (greedy, SDPA, KV cache) from the "
            "context's ids; *with capture*: the server's generation, which captures the context like an "
            "analysis and every generated token's attention state (`engine/generation.py`), from no prior "
            "analysis. First token: the time until the first generated token is known. *instant*: the "
            "instant attribution over the completion (`views/attribution.py`); *removals*: the server's whole "
            "explanation by removals (`explain_completion`: the ablated passes, the Lasso fit and its LDS) at "
            "that many ablations; past 1,024 context tokens only the smallest count is timed.",
            "",
            table(
                [
                    "context tokens",
                    "plain (s)",
                    "with capture (s)",
                    "capture / plain",
                    "plain first token (s)",
                    "capture first token (s)",
                    "instant (s)",
                    *(f"removals {n} (s)" for n in cost["ablations"]),
                ],
                cost_rows(cost),
            ),
        ]
        if cost.get("note"):
            lines += ["", cost["note"]]
    study = record.get("study")
    if study:
        lines += ["", "### Faithfulness: linear datamodeling score (LDS) of line attributions", ""]
        lines += [study["description"], ""]
        rows = [
            [row["method"], _cell(row["all"]), *(_cell(row[lang]) for lang in LANGUAGES), _seconds(row["median_s"])]
            for row in study["summary"]
        ]
        lines.append(table(["method", "all", *LANGUAGES, "median s / completion"], rows))
        if study.get("notes"):
            lines += ["", *study["notes"]]
    return "\n".join(lines)
