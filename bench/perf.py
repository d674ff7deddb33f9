"""Performance benchmark of the Atten-Scope engine on the embedded model (spec section 10).

Measured on real Python source read at run time from the installed ``transformers`` package
(nothing third-party is copied into the repository), at each size n in ``--sizes``:

- model load: cold (empty converted-weights cache: de-quantise the GGUF) and warm, each in a
  fresh process;
- analyze time vs a plain SDPA forward of the same n tokens (``logits_to_keep=1``,
  ``use_cache=False``), run back to back; ratio = median over repeats of analyze / plain;
- captured bytes per token = sum over windows of ``CapturedWindow.nbytes()`` / n;
- peak RSS of analyze vs the eager ``output_attentions=True`` pipeline (bertviz, att_viz), each in
  a fresh process; the peak high-water mark is reset after the model is loaded, so
  extra = peak - RSS after load. Eager keeps L x H x n x n float32 weights: it is skipped above
  ``--eager-limit-gb`` (estimate L * H * n^2 * 4 bytes);
- attention-request latency (``builders.attention.attention_json``: weights, top-k, per-line sums) at
  ``--requests`` random tokens, per refinement, all layers and heads (headMean) and one layer;
- the first attendedBy request of an analysis, cold and after the build the language server runs
  while the editor is idle (``views.prepare_attended_by``);
- re-analysis after a one-token edit at 90 % of the tokens vs a full analysis, back to back (ratio
  of medians);
- predictions (``--only predictions``): the LM head is not run by the analysis; one token's
  prediction and surprisal as the hover asks them (``prediction_json`` + ``surprisal_json``: one or
  two rows of the head), the whole document's surprise heat (the head over every token, in row
  blocks: ``Analysis.surprisal_bits``) against the plain forward, and the bytes per token of the
  kept final hidden states (as captured, and compact as under the memory budget);
- writing the HTML report of a long real file (the standard library's http/client.py, read at run
  time) vs its analysis.

Writes ``perf.md`` into ``--out`` (default ``bench/results``) and regenerates RESULTS.md.
``--only attended-by,reanalysis,report,ratio,predictions`` re-measures just those parts into the perf.json of ``--out``.

This file is the command line; the measurements are in ``perf_measure.py`` and the section's
Markdown in ``perf_markdown.py``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from perf_markdown import render
from perf_measure import (
    DEFAULT_MODEL,
    MODEL,
    analyze_vs_plain,
    bench_size,
    captured_bytes_per_token,
    child,
    eager_estimate,
    first_attended_by,
    html_report,
    load,
    plain_forward,
    predictions,
    reanalysis,
    report_file,
    run_child,
    setup_torch,
    source_corpus,
    text_of_tokens,
)
from report import DEFAULT_RESULTS, ensure_engine_importable, environment_line, write_section

ensure_engine_importable()

from atten_scope.engine.analysis import run_analysis  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one memory cell with ``--child``, a re-render with ``--from-json``, a
    re-measurement with ``--only``) and write ``perf.json`` and ``perf.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,1024,2048,4096", help="comma-separated token counts")
    parser.add_argument("--quick", action="store_true", help="smoke run: size 64, 1 repeat, 3 requests, warm load only")
    parser.add_argument("--repeats", type=int, default=3, help="analyze/plain/re-analysis repeats per size")
    parser.add_argument("--requests", type=int, default=30, help="random tokens per latency setting")
    parser.add_argument("--eager-limit-gb", type=float, default=12.0, help="skip eager above this attention size")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold model load")
    parser.add_argument("--out", type=Path, help="results folder (default bench/results, or bench/results/<model>)")
    parser.add_argument("--model", default=MODEL, help=f"the model to measure (default {DEFAULT_MODEL})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--device",
        default="cpu",
        help="cpu, cuda or auto: where the model runs (memory cells still read the process's RSS)",
    )
    parser.add_argument("--note", default="", help="a caveat printed under the header")
    parser.add_argument("--from-json", type=Path, help="re-render perf.md from a perf.json of an earlier run")
    parser.add_argument(
        "--only",
        help="re-measure only these parts, comma-separated: attended-by (the first attendedBy request, cold and "
        "after the background build), reanalysis (one-token edit vs full analysis), ratio (analyze vs plain "
        "forward, and the captured bytes per token), predictions (one token's prediction, the surprise heat, the "
        "hidden rows' bytes), "
        "at --sizes; report (the HTML report of http/client.py vs its analysis); into the perf.json of --out, whose "
        "other numbers are kept",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ["ATTEN_SCOPE_BENCH_MODEL"] = args.model  # the child processes measure the same model
    os.environ["ATTEN_SCOPE_BENCH_DEVICE"] = args.device  # on the same device
    if args.out is None:
        model = args.model
        args.out = DEFAULT_RESULTS if model == DEFAULT_MODEL else DEFAULT_RESULTS / model.removeprefix("embedded:")
        if args.device != "cpu":
            args.out /= args.device  # a GPU's tables beside the CPU's

    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.n)), flush=True)
        return 0
    if args.from_json:
        text = render(json.loads(args.from_json.read_text(encoding="utf-8")), args)
        print(text)
        write_section(args.out, "perf.md", text)
        return 0
    if args.only:
        return remeasure(args)
    if args.quick:
        if args.sizes == parser.get_default("sizes"):
            args.sizes = "64"
        args.repeats, args.requests, args.no_cold = 1, min(args.requests, 3), True
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    setup_torch()
    results: dict[str, Any] = {
        "load": {},
        "sizes": [],
        "loadavg": [os.getloadavg()[0], 0.0],
        "environment": environment_line() + ("" if args.device == "cpu" else f", model on {args.device}"),
    }

    if not args.no_cold:
        with tempfile.TemporaryDirectory() as cache:
            results["load"]["cold"] = run_child("load", env={"ATTEN_SCOPE_CACHE_DIR": cache})["load_s"]
    began = time.perf_counter()
    if args.quick:
        loaded = load(
            model=args.model, device=args.device
        )  # smoke run: the warm load is timed in this process, not a fresh one
        results["load"]["warm"] = time.perf_counter() - began
    else:
        results["load"]["warm"] = run_child("load")["load_s"]
        loaded = load(model=args.model, device=args.device)
    print(f"load: {results['load']}", file=sys.stderr)

    corpus = source_corpus()
    rng = np.random.default_rng(args.seed)
    warm = text_of_tokens(loaded.tokenizer, corpus, 64)
    run_analysis(loaded, warm)
    plain_forward(loaded, loaded.tokenizer(warm).input_ids)

    for n in sizes:
        row = bench_size(loaded, corpus, n, args.repeats, args.requests, rng, args.model)
        row["eager_estimate"] = eager_estimate(loaded, n)
        print(f"n={n}: analyze/plain {row['ratio']:.2f}, {row['bytes_per_token'] / 1024:.1f} KB/token", file=sys.stderr)
        results["sizes"].append(row)
    if not args.quick:
        results["report"] = html_report(loaded, report_file())
    del loaded
    gc.collect()
    for row in results["sizes"]:
        n = row["n"]
        row["memory"] = run_child("analyze", n)
        if row["eager_estimate"] > args.eager_limit_gb * 1024**3:
            row["eager"] = {"note": f"skipped (> {args.eager_limit_gb:g} GB)"}
        else:
            row["eager"] = run_child("eager", n)
        print(f"n={n}: memory {row['memory']} eager {row['eager']}", file=sys.stderr)

    results["loadavg"][1] = os.getloadavg()[0]
    text = render(results, args)
    print(text)
    # The JSON first: writing the section regenerates RESULTS.md, whose summary reads it.
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "perf.json").write_text(json.dumps(results, indent=1, default=float) + "\n", encoding="utf-8")
    path = write_section(args.out, "perf.md", text)
    print(f"wrote {path}", file=sys.stderr)
    return 0


PARTS = ("attended-by", "reanalysis", "report", "ratio", "predictions")


def remeasure(args: argparse.Namespace) -> int:
    """``--only``: re-measure some parts at some sizes into an earlier run's perf.json, then re-render."""
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"--only: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    path = args.out / "perf.json"
    if not path.is_file():
        raise SystemExit(f"--only updates an earlier run: {path} does not exist (run perf.py without --only first)")
    results = json.loads(path.read_text(encoding="utf-8"))
    earlier = args.out / "perf.md"
    if "environment" not in results and earlier.is_file():  # a run from before the field: its header says
        found = re.search(r"^Machine: (.*?)\. Model threads", earlier.read_text(encoding="utf-8"), re.M)
        results["environment"] = found.group(1) if found else None
    setup_torch()
    loaded = load(model=args.model, device=args.device)
    corpus = source_corpus()
    run_analysis(loaded, text_of_tokens(loaded.tokenizer, corpus, 64))  # warm the kernels
    rng = np.random.default_rng(args.seed)
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    loadavg = os.getloadavg()[0]
    if "report" in parts:
        results["report"] = html_report(loaded, report_file())
        report = results["report"]
        print(f"report: analysis {report['analyze_s']:.1f} s, report {report['report_s']:.1f} s", file=sys.stderr)
    for n in sizes if parts != ["report"] else []:
        row = next((r for r in results["sizes"] if r["n"] == n), None)
        if row is None:
            raise SystemExit(f"--only: {path} has no row for {n} tokens")
        text = text_of_tokens(loaded.tokenizer, corpus, n)
        window = max(4096, n)
        if "attended-by" in parts:
            analysis = run_analysis(loaded, text, window)
            positions = [int(p) for p in rng.integers(0, n, size=4 + args.requests)]
            row.update(first_attended_by(analysis, positions[:4], positions[4:]))
            del analysis
        if "reanalysis" in parts:
            row.update(reanalysis(loaded, text, window, args.repeats))
        if "ratio" in parts:
            row.update(analyze_vs_plain(loaded, text, n, args.repeats)[0])
            row["bytes_per_token"] = captured_bytes_per_token(loaded, text, window)
        if "predictions" in parts:
            row.update(predictions(loaded, text, window, args.requests, rng))
        print(
            f"n={n}: "
            + ", ".join(
                f"{k} {row[k]:.3f}"
                for k in sorted(row)
                if any(p in k for p in ("attended", "reanalyze", "ratio", "surprise", "first_ms", "bytes_per"))
            ),
            file=sys.stderr,
        )
    results.setdefault("remeasured", []).append(
        {
            "parts": parts,
            "sizes": sizes if parts != ["report"] else [],
            "environment": environment_line(),
            "loadavg": [loadavg, os.getloadavg()[0]],
        }
    )
    text = render(results, args)
    print(text)
    path.write_text(json.dumps(results, indent=1, default=float) + "\n", encoding="utf-8")
    write_section(args.out, "perf.md", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
