"""Latency and memory of the views that run the model again: information flow and ALTI rollout.

On the embedded model, for real Python source (the installed transformers' modeling_utils.py, as
``perf.py``) cut to n tokens and analysed as one window:

- ``attenScope/flow`` at the last token (the most context: every earlier token is recomputed),
  default threshold and node limit: the request's time (median of ``--repeats``) and its extra
  peak RSS (the kernel's high-water mark reset after the analysis, minus the RSS then);
- ``attenScope/altiRollout`` at the last token, at the sizes up to its cap, the same way.

Writes ``flow.md`` / ``flow.json`` into ``--out`` (default ``bench/results``) and regenerates RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from report import DEFAULT_RESULTS, MODEL_NAMES, ensure_engine_importable, environment_line, table, write_section

ensure_engine_importable()

from atten_scope.engine.analysis import run_analysis  # noqa: E402
from atten_scope.limits import ALTI_TOKENS, FLOW_NODES, FLOW_THRESHOLD  # noqa: E402
from atten_scope.protocol.builders import view_result  # noqa: E402
from perf_measure import (  # noqa: E402
    MODEL,
    load,
    peak_bytes,
    reset_peak,
    rss_bytes,
    setup_torch,
    source_corpus,
    text_of_tokens,
)

MB = 1024 * 1024


def measure(analysis: Any, view: str, token: int, repeats: int) -> dict[str, Any]:
    """Median seconds of ``view`` at ``token`` over ``repeats``, and the extra peak RSS of the first."""
    start = analysis.document.starts[token]
    line = int(analysis.token_lines[token])
    params = {"position": {"line": line, "character": start - analysis.lines.offset(line, 0)}}
    times, extra, exact, answer = [], 0, False, None
    for repeat in range(repeats):
        gc.collect()
        baseline = rss_bytes()
        exact = reset_peak() if repeat == 0 else exact
        began = time.perf_counter()
        answer = view_result(view, analysis, params)
        times.append(time.perf_counter() - began)
        if repeat == 0:
            extra = peak_bytes() - baseline
    assert answer is not None
    record: dict[str, Any] = {"seconds": statistics.median(times), "extra": extra, "exact_peak": exact}
    if view == "flow":
        record.update(nodes=len(answer["nodes"]), edges=len(answer["edges"]), truncated=answer["truncated"])
    return record


def render(results: dict[str, Any]) -> str:
    name = MODEL_NAMES.get(results["model"], results["model"])
    rows = []
    for size in results["sizes"]:
        flow, alti = size["flow"], size.get("alti")
        rows.append(
            [
                f"{size['n']:,}",
                f"{flow['seconds']:.2f}",
                f"{flow['extra'] / MB:.0f}",
                f"{flow['nodes']} / {flow['edges']}{' (truncated)' if flow['truncated'] else ''}",
                f"{alti['seconds']:.2f}" if alti else "over the cap",
                f"{alti['extra'] / MB:.0f}" if alti else "-",
            ]
        )
    header = ["tokens", "flow s", "flow extra peak MB", "nodes / edges", "ALTI rollout s", "ALTI extra peak MB"]
    lines = [
        f"## Information flow and ALTI rollout ({name})",
        "",
        f"Machine: {results['environment']}; load average {results['loadAverage'][0]} at the start, "
        f"{results['loadAverage'][1]} at the end (other work on the machine slows every number here).",
        "",
        "Real Python source cut to n tokens, one window; each request at the last token, so the server "
        "recomputes every token of the window (a forward pass with hooks, then the contribution rows). "
        f"Flow: threshold {results['threshold']}, at most {results['maxNodes']} nodes. ALTI rollout: "
        f"every row before the token in every layer, up to its cap of {ALTI_TOKENS:,} tokens. "
        f"Median of {results['repeats']} requests; extra peak = the kernel's peak-RSS high-water mark during "
        "the first request (reset just before it) minus the RSS before it.",
        "",
        table(header, rows),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,2048,4096", help="comma-separated token counts")
    parser.add_argument("--alti-sizes", default="256,512", help="token counts for the ALTI rollout (up to its cap)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smoke run: 64 tokens, one repeat")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 on a machine others share)")
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.alti_sizes, args.repeats = "64", "64", 1
    setup_torch()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    loaded = load()
    corpus = source_corpus()
    sizes = sorted({int(s) for s in args.sizes.split(",")} | {int(s) for s in args.alti_sizes.split(",")})
    alti_sizes = {int(s) for s in args.alti_sizes.split(",")}
    flow_sizes = {int(s) for s in args.sizes.split(",")}
    records = []
    for n in sizes:
        text = text_of_tokens(loaded.tokenizer, corpus, n)
        analysis = run_analysis(loaded, text, max_tokens=max(n, 16))
        last = analysis.token_count - 1
        record: dict[str, Any] = {"n": analysis.token_count}
        if n in flow_sizes:
            record["flow"] = measure(analysis, "flow", last, args.repeats)
            print(f"{n}: flow {record['flow']}", file=sys.stderr)
        if n in alti_sizes and n <= ALTI_TOKENS:
            record["alti"] = measure(analysis, "altiRollout", last, args.repeats)
            print(f"{n}: ALTI {record['alti']}", file=sys.stderr)
        records.append(record)
        del analysis
        gc.collect()
    results = {
        "model": MODEL,
        "environment": environment_line(),
        "loadAverage": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "threshold": FLOW_THRESHOLD,
        "maxNodes": FLOW_NODES.default,
        "repeats": args.repeats,
        "torchThreads": torch.get_num_threads(),
        "sizes": [r for r in records if "flow" in r],
        "alti": [{"n": r["n"], **r["alti"]} for r in records if "alti" in r],
    }
    text = render_all(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "flow.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    path = write_section(args.out, "flow.md", text)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def render_all(results: dict[str, Any]) -> str:
    """The flow table by size, with the ALTI rollout measured at its own sizes in the same table."""
    alti = {a["n"]: a for a in results["alti"]}
    sizes = [{**s, "alti": alti.pop(s["n"], None)} for s in results["sizes"]]
    text = render({**results, "sizes": sizes})
    if alti:
        rows = [[f"{n:,}", f"{a['seconds']:.2f}", f"{a['extra'] / MB:.0f}"] for n, a in sorted(alti.items())]
        text += "\n\nALTI rollout at further sizes:\n\n" + table(
            ["tokens", "ALTI rollout s", "ALTI extra peak MB"], rows
        )
    return text


if __name__ == "__main__":
    sys.exit(main())
