"""Smoke test of the completion benchmark: ``bench/completion.py --quick`` runs end to end on tiny
sizes and writes its record and section into a temporary folder, never into the committed results.

No timing is asserted: only the structure of the output and that its numbers are finite.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"

pytest.importorskip("scipy")

ATTENTION = (
    "attention norm / lastLayers",
    "attention norm / all layers",
    "attention raw / lastLayers",
    "attention raw / all layers",
)


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def test_completion_quick_writes_cost_and_lds(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(BENCH / "completion.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    record = json.loads((tmp_path / "completion.json").read_text(encoding="utf-8"))

    cost = record["cost"]
    assert cost["ablations"] == [3] and len(cost["sizes"]) == 1
    size = cost["sizes"][0]
    for key in ("plain_s", "plain_first_s", "capture_s", "capture_first_s", "capture_ratio", "instant_s"):
        assert finite(size[key]) and size[key] > 0, key
    assert set(size["surrogate_s"]) == {"3"} and all(finite(v) for v in size["surrogate_s"].values())
    assert size["context_tokens"] > 0 and size["generated_tokens"] >= 1

    study = record["study"]
    completions = study["completions"]
    assert {c["language"] for c in completions} == {"python", "javascript", "c"}
    for completion in completions:
        assert len(completion["actual"]) == completion["held_out"] == 6
        assert all(finite(a) for a in completion["actual"]) and finite(completion["base"])
        for name, method in completion["methods"].items():
            assert len(method["scores"]) == completion["lines"], name
            assert all(finite(s) for s in method["scores"]) and finite(method["seconds"]), name
            assert method["lds"] is None or math.isnan(method["lds"]) or -1.0 <= method["lds"] <= 1.0
    methods = {row["method"]: row for row in study["summary"]}
    expected = {
        "instant (server)",
        *ATTENTION,
        "leave-one-line-out (exact)",
        "removal surrogate, 3 ablations",
        "removal surrogate, 6 ablations",
    }
    assert expected <= set(methods)
    for name in ("instant (server)", *ATTENTION, "leave-one-line-out (exact)"):
        row = methods[name]["all"]
        assert row["n"] >= 1 and finite(row["mean"]) and row["low"] <= row["mean"] <= row["high"], name
        assert set(methods[name]) >= {"python", "javascript", "c", "median_s"}

    section = (tmp_path / "completion.md").read_text(encoding="utf-8")
    assert "## Completion and attribution" in section and "capture / plain" in section
    assert "| instant (server) |" in section and "| leave-one-line-out (exact) |" in section
    assert "## Completion and attribution" in (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
