"""Smoke tests of the benchmark scripts: they run end to end on tiny inputs and write their tables.

No timing is asserted; the output goes to a temporary folder, never to the committed results.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"

pytest.importorskip("scipy")


def bench_module(name: str) -> ModuleType:
    """Import one of the benchmark's modules (they import each other by their bare names)."""
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


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
    headings = ("Analyze time vs a plain SDPA forward", "Memory", "Attention request latency", "Re-analysis")
    for heading in (*headings, "Predictions on demand"):
        assert heading in text
    for column in (
        "analyze / plain",
        "captured KB/token",
        "eager peak RSS (MB)",
        "all layers p95 (ms)",
        "re-analysis / full",
        "surprise heat / plain",
        "hidden KB/token, compact",
    ):
        assert column in text
    for refinement in ("| raw |", "| norm |", "| effective |", "| effective+norm |"):
        assert refinement in text
    assert "| default view (" in text and "attendedBy |" in text
    assert "| 64 |" in text
    results = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "## Performance" in results
    assert not (tmp_path / "faithfulness.md").exists()
    assert "first request after it" in text
    # --only re-measures some parts into that run's perf.json and keeps the rest
    before = json.loads((tmp_path / "perf.json").read_text(encoding="utf-8"))["sizes"][0]
    parts = "attended-by,reanalysis,predictions"
    run("perf.py", "--only", parts, "--sizes", "64", "--repeats", "1", "--requests", "3", "--out", str(tmp_path))
    after = json.loads((tmp_path / "perf.json").read_text(encoding="utf-8"))
    row = after["sizes"][0]
    assert row["latency"] == before["latency"] and row["analyze_s"] == before["analyze_s"]
    assert {"first_attended_by_built_ms", "reanalyze_s", "reanalyze_full_s", "surprise_s"} <= row.keys()
    assert len(row["prediction_ms"]) == 3 and row["hidden_compact_bytes_per_token"] == 576 * 2
    assert after["remeasured"][0]["parts"] == ["attended-by", "reanalysis", "predictions"]
    remeasured = (tmp_path / "perf.md").read_text(encoding="utf-8")
    assert f"Re-measured later with `--only {parts}`" in remeasured


def test_faithfulness_quick_ranks_every_method(tmp_path: Path) -> None:
    done = run("faithfulness.py", "--quick", "--limit", "2", "--interior", "0", "--out", str(tmp_path))
    text = (tmp_path / "faithfulness.md").read_text(encoding="utf-8")
    for column in ("rho, dropSink on", "vs raw / headMean", "rho, dropSink off", "rho, signed"):
        assert column in text
    for refinement in ("raw", "norm", "effective", "effective+norm"):
        for aggregate in ("headMean", "headMax", "lastLayers", "rollout"):
            assert f"| {refinement} / {aggregate} |" in text
    for method in ("normSum", "globenc", "alti"):
        for aggregate in ("layerMean", "lastLayers", "rollout"):
            assert f"| {method} / {aggregate} |" in text
    for aggregate in ("layerMean", "lastLayers"):
        assert f"| valueZeroing / {aggregate} |" in text
    assert "| raw / rollout of the last half |" in text
    assert "| gradient x input |" in text
    assert "| altiRollout |" in text
    assert "Best residual-aware method:" in text
    assert "2 snippets" in text
    # a smoke run never overwrites the table the package ships
    written = [line for line in done.stderr.splitlines() if line.startswith("wrote ")]
    assert written and not any(line.endswith("faithfulness.json") for line in written)
    results = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "## Faithfulness" in results


def test_faithfulness_interior_lines_baselines_and_external_code(tmp_path: Path) -> None:
    """One tiny snippet of bench/corpus and one of the standard library, one interior query each."""
    done = run(
        "faithfulness.py",
        *("--quick", "--limit", "1", "--truncate", "28", "--interior", "1"),
        *("--corpus-external", "--external-files", "1", "--out", str(tmp_path)),
    )
    names = bench_module("faith_names")
    SITUATIONS = names.ALL_SITUATIONS
    shipped_table = bench_module("faith_shipped").shipped_table
    assert set(names.SITUATIONS) == {
        f"{p}/{u}/{b}" for p in ("last", "interior") for u in ("token", "line") for b in ("space", "delete")
    }
    assert set(SITUATIONS) - set(names.SITUATIONS) == {
        f"{p}/{u}/lds" for p in ("last", "interior") for u in ("token", "line")
    }
    finite = []
    for stem in ("faithfulness", "faithfulness-external"):
        data = json.loads((tmp_path / f"{stem}.json").read_text(encoding="utf-8"))
        methods = {row["method"] for row in data["summary"]}
        assert set(data["situations"]) == set(SITUATIONS)
        for rows in data["situations"].values():
            assert {row["method"] for row in rows} == methods
            for row in rows:
                mean, low, high = row["on"]
                if row["snippets"]:
                    assert all(np.isfinite([mean, low, high])) and -1 <= low <= mean <= high <= 1
                    finite.append(mean)
                else:
                    assert all(np.isnan([mean, low, high]))
        reference = next(r for r in data["situations"]["interior/token/space"] if r["method"] == "raw / headMean")
        assert reference["snippets"] == 1
        (snippet,) = data["snippets"]
        last, interior = snippet["queries"]
        assert last["index"] == snippet["tokens"] - 1 and 16 <= interior["index"] < last["index"]
        for query in (last, interior):
            for baseline in ("space", "delete"):
                assert len(query[baseline]["token"]) == query["index"]  # one effect per source j < i
                assert all(np.isfinite(query[baseline]["token"])) and all(np.isfinite(query[baseline]["line"]))
            assert len(query["space"]["line"]) == len(query["delete"]["line"]) >= 1
        # the LDS: 32 masks per unit, never removing a sink or a query token, one drop per mask and query
        removals = snippet["lds"]
        for unit in ("token", "line"):
            assert len(removals[unit]["removed"]) == 32 and len(removals[unit]["drops"]) == 2
            assert all(len(drops) == 32 and all(np.isfinite(drops)) for drops in removals[unit]["drops"])
            for mask in removals[unit]["removed"]:  # a 0/1 string over tokens 0..last, 1: removed
                assert len(mask) == last["index"] + 1 and set(mask) <= {"0", "1"}
                assert mask[0] == mask[last["index"]] == mask[interior["index"]] == "0"
        assert any("1" in mask for mask in removals["token"]["removed"])
        assert -1 <= snippet["situations"]["last/token/lds"]["raw / headMean"] <= 1
        # the last-token situation is the table above it
        situation = snippet["situations"]["last/token/space"]["raw / headMean"]
        assert situation == pytest.approx(snippet["scores"]["raw / headMean"]["on"], nan_ok=True)
        text = (tmp_path / f"{stem}.md").read_text(encoding="utf-8")
        assert "### Where the user looks" in text and "**Token level.**" in text and "**Line level.**" in text
        assert "| interior, delete (n=1) |" in text or "interior, delete (n=" in text
        assert "**Linear datamodeling score (LDS).**" in text and "| last, token (n=1) |" in text
        shipped = shipped_table(data["summary"], 1, "m", data["situations"])
        # each situation's methods carry their LDS beside the rho where it was measured
        assert any("lds" in method for entry in shipped["situations"] for method in entry["methods"])
        assert [(e["position"], e["unit"]) for e in shipped["situations"]] == [
            ("last", "token"),
            ("last", "line"),
            ("interior", "token"),
            ("interior", "line"),
        ][: len(shipped["situations"])]
        from atten_scope.views.evidence import view_faithfulness
        from atten_scope.views.options import ViewOptions

        found = view_faithfulness("m", ViewOptions(refinement="raw", aggregate="headMean"), shipped, "interior")
        assert found is not None and found["position"] == "interior" and -1 <= found["rho"] <= 1
    assert finite and all(-1 <= value <= 1 for value in finite)
    external = json.loads((tmp_path / "faithfulness-external.json").read_text(encoding="utf-8"))
    assert "standard library" in external["corpus"] and external["snippets"][0]["name"].startswith("stdlib_")
    results = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "## Faithfulness on code from outside the repository" in results
    assert os.sep + "lib" + os.sep not in results  # file names only, no paths of the machine
    written = [line for line in done.stderr.splitlines() if line.startswith("wrote ")]
    assert written and not any(line.endswith(os.path.join("data", "faithfulness.json")) for line in written)


def test_only_external_keeps_the_shipped_last_token_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With --only-external the model's last-token table is kept as shipped, every situation comes
    from the external corpus with its name, and the other models' entries are untouched."""
    names, writer = bench_module("faith_names"), bench_module("faith_shipped")
    shipped = tmp_path / "faithfulness.json"
    before = {
        "tables": [
            {"model": names.MODEL, "snippets": 33, "source": "s", "methods": [{"method": "a", "on": [0.3, 0.2, 0.4]}]},
            {"model": "other", "snippets": 5, "source": "s", "methods": [{"method": "b", "on": [0.1, 0.0, 0.2]}]},
        ]
    }
    shipped.write_text(json.dumps(before), encoding="utf-8")
    monkeypatch.setattr(writer, "SHIPPED_TABLE", shipped)
    rows = [{"method": "a", "on": (0.25, 0.1, 0.4), "snippets": 7}]
    external = {key: rows for key in names.SITUATIONS}
    args = argparse.Namespace(model=names.MODEL)
    writer.write_shipped(args, None, 0, {}, external, {"bench": ["c", "python"], "external": ["python"]})
    after = {t["model"]: t for t in json.loads(shipped.read_text(encoding="utf-8"))["tables"]}
    assert after["other"] == before["tables"][1]
    mine = after[names.MODEL]
    assert mine["methods"] == before["tables"][0]["methods"] and mine["snippets"] == 33
    assert [(e["position"], e["unit"], e["snippets"]) for e in mine["situations"]] == [
        ("last", "token", 7),
        ("last", "line", 7),
        ("interior", "token", 7),
        ("interior", "line", 7),
    ]
    assert all("standard library" in e["corpus"] for e in mine["situations"])
    assert all(e["languages"] == ["python"] for e in mine["situations"])  # what the figures were measured on
    monkeypatch.setattr(writer, "SHIPPED_TABLE", tmp_path / "missing.json")
    with pytest.raises(SystemExit, match="score bench/corpus first"):
        writer.write_shipped(args, None, 0, {}, external)


def test_ablation_shortcuts_match_plain_forward_passes() -> None:
    """The shared ablations (one sequence for every query after its ablated token, the cached prefix,
    replacement and deletion) and the right-padded batches give the numbers of one plain forward
    pass per ablated prefix."""
    ablation, names = bench_module("faith_ablation"), bench_module("faith_names")
    import torch

    from atten_scope.engine.model import load_model

    loaded = load_model(names.MODEL, "cpu")
    ids = loaded.tokenizer("def area(r):\n    return 3.14 * r * r", add_special_tokens=False).input_ids
    queries = [4, 9, len(ids) - 1]
    for delete in (False, True):
        targets, effects = ablation.query_ablations(loaded, ids, queries, 220, 3, delete)
        for query, target, found in zip(queries, targets, effects, strict=True):
            prefix = ids[: query + 1]
            assert target == int(torch.argmax(ablation.last_logprobs(loaded, torch.tensor([prefix]))[0]))
            reference = ablation.ablation_effects_reference(loaded, prefix, 220, delete)
            assert len(found) == query and np.allclose(found, reference, atol=2e-3)
    sequences = [ids, ids[:5], ids[2:9], ids[1:5]]
    one_by_one = [float(ablation.last_logprobs(loaded, torch.tensor([s]))[0, 42]) for s in sequences]
    assert np.allclose(ablation.sequence_logprobs(loaded, sequences, 42, 3), one_by_one, atol=2e-3)


def test_flow_quick_measures_both_views(tmp_path: Path) -> None:
    run("flow.py", "--quick", "--out", str(tmp_path))
    results = json.loads((tmp_path / "flow.json").read_text(encoding="utf-8"))
    (size,) = results["sizes"]
    assert size["n"] == 64 and size["flow"]["nodes"] >= 1 and size["flow"]["seconds"] > 0
    assert size["plain"] > 0 and size["alti"]["seconds"] > 0 and results["device"] == "cpu"
    text = (tmp_path / "flow.md").read_text(encoding="utf-8")
    assert "## Information flow and ALTI rollout" in text and "| 64 |" in text and "flow / plain" in text
    assert "## Information flow" in (tmp_path / "RESULTS.md").read_text(encoding="utf-8")


def test_render_quick_draws_in_chromium_and_summarises(tmp_path: Path) -> None:
    node, chromium = shutil.which("node"), shutil.which("chromium") or "/usr/bin/chromium"
    if node is None or not Path(chromium).exists():
        pytest.fail("node and Chromium are required (make setup installs both)")
    bundle = ROOT / "extension" / "out" / "webview" / "heatmapDraw.js"
    if not bundle.exists():  # a clean checkout: build the webview bundle the benchmark loads
        subprocess.run(["npm", "run", "-s", "compile"], cwd=ROOT, check=True, timeout=300)
    done = subprocess.run(
        [node, str(BENCH / "render.mjs"), "--quick", "--chromium", chromium, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "ATTEN_SCOPE_PYTHON": sys.executable},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    text = (tmp_path / "render.md").read_text(encoding="utf-8")
    assert "| 256 |" in text and "first draw p95 (ms)" in text
    sizes = json.loads((tmp_path / "render.json").read_text(encoding="utf-8"))["sizes"]
    assert sizes[0]["n"] == 256 and sizes[0]["p95"] >= sizes[0]["p50"] > 0
    assert "## Heatmap drawing" in (tmp_path / "RESULTS.md").read_text(encoding="utf-8")


def test_heatmap_quick_answers_draws_and_summarises(tmp_path: Path) -> None:
    node, chromium = shutil.which("node"), shutil.which("chromium") or "/usr/bin/chromium"
    if node is None or not Path(chromium).exists():
        pytest.fail("node and Chromium are required (make setup installs both)")
    if not (ROOT / "extension" / "out" / "webview" / "heatmapDraw.js").exists():
        subprocess.run(["npm", "run", "-s", "compile"], cwd=ROOT, check=True, timeout=300)
    done = subprocess.run(
        [node, str(BENCH / "heatmap.mjs"), "--quick", "--chromium", chromium, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "ATTEN_SCOPE_PYTHON": sys.executable},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    sizes = json.loads((tmp_path / "heatmap.json").read_text(encoding="utf-8"))["sizes"]
    assert sizes[0]["tokens"] == 300 and sizes[0]["bins"] == 300 and sizes[0]["cursorFirst"] in (True, False)
    assert all(run["totalMs"] >= run["answerMs"] > 0 for run in sizes[0]["runs"])
    assert "| 300 | 1 | 300 x 300 |" in (tmp_path / "heatmap.md").read_text(encoding="utf-8")
    assert "## Heatmap from request to drawn canvas" in (tmp_path / "RESULTS.md").read_text(encoding="utf-8")


def test_targets_summary_reads_the_committed_results() -> None:
    summary_section = bench_module("report").summary_section
    summary = summary_section(BENCH / "results")
    assert summary is not None and summary.startswith("## Targets at a glance")
    for target in (
        "analyze <= 1.15",
        "150 KB",
        "2 GB",
        "p95 <= 30 ms",
        "0.25 x full",
        "heatmap of 2,048",
        "tokens from request to drawn canvas",
        "while a heatmap computes",
        "within 10 % of RSS after 5",
        "faithfulness",
    ):
        assert target in summary
    # every target row says yes or no (bold), comparisons say "-"
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert all(row.rstrip(" |").rsplit("| ", 1)[1] in ("yes", "**no**", "-") for row in rows)


def test_where_the_user_looks_row_reads_the_external_corpus_alone() -> None:
    """Situations measured only on the standard library (``--only-external``) give the summary row
    both positions from it, and say so; a corpus with its own situations keeps the last token."""
    _situations_row = bench_module("report")._situations_row
    model = "embedded:smollm2-135m"
    evidence = pytest.importorskip("atten_scope.views.evidence")
    view = evidence.recommended_view(model)
    name = f"{view['refinement']} / {view['aggregate']}"

    def measured(value: float) -> dict[str, Any]:
        keys = [f"{p}/{u}/space" for p in ("last", "interior") for u in ("token", "line")]
        return {"situations": {key: [{"method": name, "on": [value, value - 0.1, value + 0.1]}] for key in keys}}

    row = _situations_row(model, {"summary": []}, measured(0.3))
    assert row is not None and "(standard library)" in row[0]
    assert "last token +0.300 [+0.200, +0.400]" in row[1] and "interior tokens, per line +0.300" in row[1]
    both = _situations_row(model, measured(0.5), measured(0.3))
    assert both is not None and "(interior: standard library)" in both[0]
    assert "last token +0.500" in both[1] and "interior tokens +0.300" in both[1]
    assert _situations_row(model, {"summary": []}, None) is None


def test_soak_section_compares_each_sample_with_cycle_five(tmp_path: Path) -> None:
    """The soak's Markdown and its target row, from a soak.json-shaped result."""
    summary_section = bench_module("report").summary_section
    soak_markdown = bench_module("soak").soak_markdown
    mb = 2**20
    samples = [
        {"cycle": c, "tokens": 1000, "elapsed_s": c, "VmRSS": rss * mb, "VmHWM": 2000 * mb}
        for c, rss in ((1, 900), (5, 1000), (50, 1120))
    ]
    result = {
        "cycles": 50,
        "files": 9,
        "token_range": [500, 3000],
        "samples": samples,
        "latency": {"attenScope/analyze": {"count": 100, "p50_s": 1.0, "p95_s": 2.0, "max_s": 3.0}},
        "deaths": 0,
        "hangs": 0,
        "errors": 0,
        "minutes": 20.0,
    }
    args = type("Args", (), {"cycles": 50, "largest": 3000, "cursor": 4, "max_tokens": 4096})()
    text = soak_markdown(result, args)
    assert "| 50 | 1,000 | 1,120 | 2,000 | +12.0 % |" in text and "| 5 | 1,000 | 1,000 | 2,000 | +0.0 % |" in text
    (tmp_path / "soak.json").write_text(json.dumps(result))
    summary = summary_section(tmp_path)
    assert summary is not None
    row = next(line for line in summary.splitlines() if "within 10 % of RSS after 5" in line)
    assert "(+12.0 %; every later sample 1,120-1,120 MB)" in row and row.rstrip(" |").endswith("**no**")
    result["samples"][-1]["VmRSS"] = 800 * mb  # memory given back below the fifth cycle's is no growth
    (tmp_path / "soak.json").write_text(json.dumps(result))
    row = next(line for line in (summary_section(tmp_path) or "").splitlines() if "RSS after 5" in line)
    assert "(-20.0 %" in row and row.rstrip(" |").endswith("yes")


def test_removal_writes_its_table(tmp_path: Path) -> None:
    run("removal.py", "--tokens", "200", "--repeats", "1", "--out", str(tmp_path))
    text = (tmp_path / "removal.md").read_text(encoding="utf-8")
    assert '"What if these lines were removed?"' in text
    for column in ("tokens recomputed", "tokens reused", "removal / full", "with heat / full"):
        assert column in text
    assert "| middle |" in text and "| 90 % |" in text
    measured = json.loads((tmp_path / "removal.json").read_text(encoding="utf-8"))
    for place in measured["places"].values():
        assert place["reused"] > 0 and place["recomputed"] == place["tokens"] - place["reused"]
    assert '## "What if these lines were removed?"' in (tmp_path / "RESULTS.md").read_text(encoding="utf-8")


def test_cursor_times_the_tints_request_over_json_rpc(tmp_path: Path, embedded: Any) -> None:
    """The cursor benchmark at 300 tokens: every request answered by a real server, the in-process
    share beside it, the table in RESULTS.md. ``embedded``: the converted model whose tokenizer
    cuts the file is in the cache."""
    run("cursor.py", "--tokens", "300", "--requests", "6", "--warmup", "1", "--out", str(tmp_path))
    measured = json.loads((tmp_path / "cursor.json").read_text(encoding="utf-8"))
    (size,) = measured["sizes"]
    assert 250 <= size["tokens"] <= 300
    for part in ("rpc", "in_process"):
        assert 0 < size[part]["p50"] <= size[part]["p95"] <= size[part]["max"]
    assert "| tokens | p50 (ms) | p95 (ms) |" in (tmp_path / "cursor.md").read_text(encoding="utf-8")
    assert "## The cursor's request over JSON-RPC" in (tmp_path / "RESULTS.md").read_text(encoding="utf-8")


def test_soak_mixed_section_compares_both_processes_with_cycle_five() -> None:
    """The mixed soak's subsection from a soak-mixed.json-shaped result: each process's RSS against
    its own sample after cycle 5, the counts of what went wrong, and the failures listed."""
    mixed_markdown = bench_module("soak_mixed").mixed_markdown
    mb = 2**20

    def sample(cycle: int, server: int, tcp: int) -> dict[str, Any]:
        return {
            "cycle": cycle,
            "tokens": 400,
            "elapsed_s": cycle,
            "model": "embedded:smollm2-135m",
            "server": {
                "VmRSS": server * mb,
                "RssAnon": (server - 600) * mb,
                "RssFile": 600 * mb,
                "VmHWM": 2000 * mb,
                "Threads": 10,
            },
            "tcp": {"VmRSS": tcp * mb, "VmHWM": tcp * mb, "Threads": 2},
        }

    result = {
        "cycles": 50,
        "files": 6,
        "token_range": [226, 700],
        "samples": [
            sample(1, 900, 240),
            sample(5, 1000, 250),
            sample(25, 1050, 260),
            sample(50, 1100, 275),
            sample(75, 1100, 275),
        ],
        "latency": {"attenScope/flow": {"count": 50, "p50_s": 0.5, "p95_s": 0.9, "max_s": 1.2}},
        "deaths": 0,
        "hangs": 1,
        "errors": 2,
        "notified": 0,
        "failures": ["cycle 7 tty.py: attenScope/complete gave no answer in 600 s"],
        "minutes": 30.0,
        "tcp": {"visits": 150, "busy": 4, "deaths": 0, "hangs": 0, "errors": 0},
        "model_switches": 10,
    }
    args = argparse.Namespace(cycles=50, smallest=200, largest=700, every=25, switch_every=10, cursor=4)
    text = mixed_markdown(result, args)
    assert text.startswith("### Mixed use")
    assert "| 50 | 400 | 1,100 | 500 | 600 | 2,000 | +10.0 % | 10 | 275 | +10.0 % | 2 |" in text
    assert "| 5 | 400 | 1,000 | 400 | 600 | 2,000 | +0.0 % | 10 | 250 | +0.0 % | 2 |" in text
    # the heap over the later half of the samples: 450 MB at cycle 25, 500 at cycles 50 and 75
    assert "anonymous memory over the samples from cycle 25 on: 450-500 MB, the last +11.1 % against cycle 25" in text
    assert "Cycles 3, 13, 23, 33, ... (one in 10)" in text and "10 switches" in text
    assert "hangs 1, request errors 2" in text and "150 clients" in text
    assert "- cycle 7 tty.py: attenScope/complete gave no answer in 600 s" in text


def test_soak_mixed_runs_a_cycle_against_both_servers(tmp_path: Path, embedded: Any) -> None:
    """One mixed cycle (no model switch) against a real server over stdio and one over TCP: every
    request answered, the three TCP clients served, both processes sampled, the subsection written.
    ``embedded`` makes sure the converted model whose tokenizer sizes the files is in the cache."""
    run(
        "soak.py",
        *("--mixed", "--cycles", "1", "--smallest", "200", "--largest", "400", "--cursor", "1"),
        *("--switch-every", "0", "--out", str(tmp_path)),
    )
    result = json.loads((tmp_path / "soak-mixed.json").read_text(encoding="utf-8"))
    assert result["cycles"] == 1 and (result["deaths"], result["hangs"], result["errors"]) == (0, 0, 0)
    assert result["failures"] == [] and result["model_switches"] == 0
    assert result["tcp"]["visits"] == 3 and result["tcp"]["errors"] == result["tcp"]["deaths"] == 0
    for method in ("attenScope/flow", "attenScope/altiRollout", "attenScope/removeLines", "attenScope/complete"):
        assert result["latency"][method]["count"] == 1
    (sample,) = result["samples"]
    assert sample["server"]["VmRSS"] > 0 and sample["tcp"]["VmRSS"] > 0 and sample["tcp"]["Threads"] >= 1
    text = (tmp_path / "soak-mixed.md").read_text(encoding="utf-8")
    assert "No model switches" in text and "| attenScope/removeLines | 1 |" in text
    assert "### Mixed use" in (tmp_path / "RESULTS.md").read_text(encoding="utf-8")


def test_soak_long_analyses_one_file_and_writes_its_section(tmp_path: Path, embedded: Any) -> None:
    """``--long``: one file of standard-library sources cut to the tokens asked, analysed by a real
    server and hovered at three places; the section states its size, time, peak memory and hovers."""
    run("soak.py", "--long", "600", "--max-tokens", "256", "--out", str(tmp_path))
    result = json.loads((tmp_path / "long.json").read_text(encoding="utf-8"))
    assert 590 <= result["tokens"] <= 610 and result["windows"] >= 3 and result["analyze_s"] > 0
    assert all(hover["answered"] for hover in result["hovers"].values())
    assert set(result["views"]) >= {
        "attendsTo",
        "attendedBy",
        "heatmap",
        "flow",
        "logitLens",
        "surprise",
        "removeLines",
    }
    assert all(view["answered"] for view in result["views"].values()), result["views"]
    text = (tmp_path / "long.md").read_text(encoding="utf-8")
    assert f"## One file of {result['tokens']:,} tokens" in text and "first " in text and "last " in text
    assert "## One file of" in (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
