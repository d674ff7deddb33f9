"""Smoke tests of the benchmark scripts: they run end to end on tiny inputs and write their tables.

No timing is asserted; the output goes to a temporary folder, never to the committed results.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

pytest.importorskip("scipy")


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def test_perf_quick_writes_all_tables(tmp_path: Path) -> None:
    run("perf.py", "--quick", "--out", str(tmp_path))
    text = (tmp_path / "perf.md").read_text(encoding="utf-8")
    for heading in ("Analyze time vs a plain SDPA forward", "Memory", "Attention request latency", "Re-analysis"):
        assert heading in text
    for column in (
        "analyze / plain",
        "captured KB/token",
        "eager peak RSS (MB)",
        "all layers p95 (ms)",
        "re-analysis / full",
    ):
        assert column in text
    for refinement in ("| raw |", "| norm |", "| effective |", "| effective+norm |"):
        assert refinement in text
    assert "| default view (" in text and "attendedBy |" in text
    assert "| 64 |" in text
    results = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "## Performance" in results
    assert not (tmp_path / "faithfulness.md").exists()


def test_faithfulness_quick_ranks_every_method(tmp_path: Path) -> None:
    done = run("faithfulness.py", "--quick", "--limit", "2", "--out", str(tmp_path))
    text = (tmp_path / "faithfulness.md").read_text(encoding="utf-8")
    for column in ("rho, dropSink on", "vs raw / headMean", "rho, dropSink off", "rho, signed"):
        assert column in text
    for refinement in ("raw", "norm", "effective", "effective+norm"):
        for aggregate in ("headMean", "lastLayers", "rollout"):
            assert f"| {refinement} / {aggregate} |" in text
    for method in ("normSum", "globenc", "alti"):
        for aggregate in ("layerMean", "lastLayers", "rollout"):
            assert f"| {method} / {aggregate} |" in text
    for aggregate in ("layerMean", "lastLayers"):
        assert f"| valueZeroing / {aggregate} |" in text
    assert "| raw / rollout of the last half |" in text
    assert "| gradient x input |" in text
    assert "Best residual-aware method:" in text
    assert "2 snippets" in text
    # a smoke run never overwrites the table the package ships
    written = [line for line in done.stderr.splitlines() if line.startswith("wrote ")]
    assert written and not any(line.endswith("faithfulness.json") for line in written)
    results = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "## Faithfulness" in results
