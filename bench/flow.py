"""Latency and memory of the views that run the model again: information flow and ALTI rollout.

On the embedded model, for real Python source (the installed transformers' modeling_utils.py, as
``perf.py``) cut to n tokens and analysed as one window, at the last token (the most context:
every earlier token is recomputed):

- a plain SDPA forward pass over the same tokens (logits of the last token only), the baseline
  both views are measured against, back to back with them;
- ``attenScope/flow``, default threshold and node limit;
- ``attenScope/altiRollout``, at the sizes up to its cap;

each the median of ``--repeats``, with the view's extra peak memory: on the CPU the kernel's
peak-RSS high-water mark during its first request (reset just before it) minus the RSS then; on
an accelerator the peak of the memory torch allocated there, minus what it held before.
``--device cuda`` runs the model on the GPU (in the dtype the server gives it there).

Writes ``flow.md`` / ``flow.json`` into ``--out`` (default ``bench/results``; ``bench/results/cuda``
with ``--device cuda``) and regenerates RESULTS.md.
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
    plain_forward,
    reset_peak,
    rss_bytes,
    setup_torch,
    source_corpus,
    synchronize,
    text_of_tokens,
)

MB = 1024 * 1024


def measure(analysis: Any, loaded: Any, view: str, token: int, repeats: int, paired: bool = False) -> dict[str, Any]:
    """Median seconds of ``view`` at ``token`` over ``repeats``, and the extra peak memory of the first.

    ``paired``: each request with a plain forward pass over the same tokens back to back, in turn
    before and after it (so that drift favours neither), and the median of the pairs' ratios.
    """
    start = analysis.document.starts[token]
    line = int(analysis.token_lines[token])
    params = {"position": {"line": line, "character": start - analysis.lines.offset(line, 0)}}
    ids = analysis.document.ids[: token + 1]
    cuda = loaded.device.type == "cuda"
    times, ratios, extra, exact, answer = [], [], 0, False, None
    for repeat in range(repeats):
        plain = plain_forward(loaded, ids) if paired and repeat % 2 == 0 else None
        gc.collect()
        if cuda:
            synchronize(loaded)
            torch.cuda.reset_peak_memory_stats(loaded.device)
            baseline, exact = torch.cuda.memory_allocated(loaded.device), True
        else:
            baseline = rss_bytes()
            exact = reset_peak() if repeat == 0 else exact
        began = time.perf_counter()
        answer = view_result(view, analysis, params)
        synchronize(loaded)
        times.append(time.perf_counter() - began)
        if repeat == 0:
            extra = (torch.cuda.max_memory_allocated(loaded.device) if cuda else peak_bytes()) - baseline
        if paired:
            plain = plain if plain is not None else plain_forward(loaded, ids)
            ratios.append(times[-1] / plain)
    assert answer is not None
    record: dict[str, Any] = {"seconds": statistics.median(times), "extra": extra, "exact_peak": exact}
    if ratios:
        record["ratio"] = statistics.median(ratios)
    if view == "flow":
        record.update(nodes=len(answer["nodes"]), edges=len(answer["edges"]), truncated=answer["truncated"])
    return record


def _ratio(view: dict[str, Any] | None, plain: float) -> str:
    if not view:
        return "-"
    return f"{view.get('ratio', view['seconds'] / plain):.2f}"


def render(results: dict[str, Any]) -> str:
    name = MODEL_NAMES.get(results["model"], results["model"])
    rows = []
    for size in results["sizes"]:
        flow, alti, plain = size.get("flow"), size.get("alti"), size["plain"]
        rows.append(
            [
                f"{size['n']:,}",
                f"{plain:.2f}",
                f"{flow['seconds']:.2f}" if flow else "-",
                _ratio(flow, plain),
                f"{flow['extra'] / MB:.0f}" if flow else "-",
                f"{flow['nodes']} / {flow['edges']}{' (truncated)' if flow['truncated'] else ''}" if flow else "-",
                f"{alti['seconds']:.2f}" if alti else ("over the cap" if size["n"] > results["altiCap"] else "-"),
                _ratio(alti, plain),
                f"{alti['extra'] / MB:.0f}" if alti else "-",
            ]
        )
    header = [
        "tokens",
        "plain forward s",
        "flow s",
        "flow / plain",
        "flow extra peak MB",
        "nodes / edges",
        "ALTI rollout s",
        "ALTI / plain",
        "ALTI extra peak MB",
    ]
    where = "GPU memory torch allocated" if results.get("device") == "cuda" else "RSS"
    lines = [
        f"## Information flow and ALTI rollout ({name})",
        "",
        f"Machine: {results['environment']}; {results.get('deviceLine', 'model on the CPU')}; load average "
        f"{results['loadAverage'][0]} at the start, {results['loadAverage'][1]} at the end.",
        "",
        "Real Python source cut to n tokens, one window; each request at the last token, so the server "
        "recomputes every token of the window. Plain forward: one SDPA pass of the model over the same tokens "
        "(logits of the last token only): the ratios are the cost of each view in forward passes (flow: the "
        "median of per-request ratios, each request paired with a plain pass back to back, in turn before and "
        "after it; ALTI: its median over the plain passes' median). Flow: one pass that keeps the window's "
        "keys and values, then one pass of the rows each layer of the graph reaches over them "
        f"(threshold {results['threshold']}, at most {results['maxNodes']} nodes). ALTI rollout: a pass "
        "that keeps every layer's states, then every row before the token in every layer "
        f"(cap {results['altiCap']:,} tokens). Median of {results['repeats']} requests; extra peak = the "
        f"peak {where} during the first request minus what was held just before it.",
        "",
        table(header, rows),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,2048,4096", help="comma-separated token counts for the flow")
    parser.add_argument("--alti-sizes", default="512,2048,4096", help="token counts for the ALTI rollout")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smoke run: 64 tokens, one repeat")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 on a machine others share)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (the device the model runs on)")
    parser.add_argument("--out", type=Path, help="results folder (default bench/results; bench/results/cuda on a GPU)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.alti_sizes, args.repeats = "64", "64", 1
    setup_torch()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    loaded = load(device=args.device)
    device_line = f"model on {loaded.device.type} in {str(loaded.model.dtype).removeprefix('torch.')}"
    if loaded.device.type == "cuda":
        device_line += f" ({torch.cuda.get_device_name(loaded.device)})"
    out = args.out or (DEFAULT_RESULTS / "cuda" if loaded.device.type == "cuda" else DEFAULT_RESULTS)
    corpus = source_corpus()
    alti_sizes = {int(s) for s in args.alti_sizes.split(",")}
    flow_sizes = {int(s) for s in args.sizes.split(",")}
    records = []
    for n in sorted(alti_sizes | flow_sizes):
        text = text_of_tokens(loaded.tokenizer, corpus, n)
        analysis = run_analysis(loaded, text, max_tokens=max(n, 16))
        last = analysis.token_count - 1
        ids = analysis.document.ids
        plain_forward(loaded, ids)  # warm
        record: dict[str, Any] = {"n": analysis.token_count}
        record["plain"] = statistics.median(plain_forward(loaded, ids) for _ in range(args.repeats))
        if n in flow_sizes:
            record["flow"] = measure(analysis, loaded, "flow", last, args.repeats, paired=True)
            print(f"{n}: plain {record['plain']:.2f} s, flow {record['flow']}", file=sys.stderr)
        if n in alti_sizes and n <= ALTI_TOKENS:
            record["alti"] = measure(analysis, loaded, "altiRollout", last, args.repeats)
            print(f"{n}: plain {record['plain']:.2f} s, ALTI {record['alti']}", file=sys.stderr)
        records.append(record)
        del analysis
        gc.collect()
    results = {
        "model": MODEL,
        "environment": environment_line(),
        "device": loaded.device.type,
        "deviceLine": device_line,
        "loadAverage": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "threshold": FLOW_THRESHOLD,
        "maxNodes": FLOW_NODES.default,
        "altiCap": ALTI_TOKENS,
        "repeats": args.repeats,
        "torchThreads": torch.get_num_threads(),
        "sizes": records,
    }
    text = render(results)
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "flow.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    path = write_section(out, "flow.md", text)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
