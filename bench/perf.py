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
- attention-request latency (``results.attention_json``: weights, top-k, per-line sums) at
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
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from report import DEFAULT_RESULTS, ensure_engine_importable, environment_line, percentile, table, write_section

ensure_engine_importable()

from atten_scope.common.progress import ignore_progress  # noqa: E402
from atten_scope.engine.analysis import run_analysis, tokenize_text  # noqa: E402
from atten_scope.engine.model import LoadedModel, load_model  # noqa: E402
from atten_scope.engine.tokens import tokenize  # noqa: E402
from atten_scope.protocol.results import attention_json, prediction_json, surprisal_json  # noqa: E402
from atten_scope.registry import REFINEMENTS  # noqa: E402
from atten_scope.report import write_report  # noqa: E402
from atten_scope.views.attention import prepare_attended_by  # noqa: E402
from atten_scope.views.evidence import default_options  # noqa: E402
from atten_scope.views.options import ViewOptions  # noqa: E402

DEFAULT_MODEL = "embedded:smollm2-135m"
# --model sets it for this process and, through the environment, for the child processes.
MODEL = os.environ.get("ATTEN_SCOPE_BENCH_MODEL", DEFAULT_MODEL)
MODEL_NAMES = {DEFAULT_MODEL: "embedded SmolLM2-135M", "embedded:gemma3-270m": "embedded Gemma 3 270M"}
THREADS = 2
SHORT_REPEATS = 9  # repeats of the analyze / plain pair at <= 1,024 tokens (each takes about a second)
ATTENTION = "atten_scope"


# ----------------------------------------------------------------------------- inputs


def source_corpus() -> str:
    """Real code: the installed transformers' modeling_utils.py (and more files if ever too short)."""
    import transformers.generation.utils as generation
    import transformers.modeling_utils as modeling

    return "".join(Path(m.__file__).read_text(encoding="utf-8") for m in (modeling, generation) if m.__file__)


def text_of_tokens(tokenizer: Any, corpus: str, n: int) -> str:
    """The shortest prefix of ``corpus`` that holds ``n`` tokens (cut at a token boundary)."""
    doc = tokenize(tokenizer, corpus[: n * 12])
    if len(doc) < n:
        raise ValueError(f"corpus too short for {n} tokens")
    return corpus[: doc.ends[n - 1]]


def one_token_edit(tokenizer: Any, text: str, at: float = 0.9) -> tuple[str, int]:
    """Replace the first identifier token at or after fraction ``at`` of the tokens by another
    identifier token; return (text, token index).

    The edited text has the same number of tokens and differs in that one: an edit that added a
    token would push a file of exactly the window size (4,096 here) into a second window, computed
    whole, which measures windowing rather than the reuse of the unchanged prefix.
    """
    doc = tokenize(tokenizer, text)
    for k in range(int(at * len(doc)), len(doc)):
        piece = doc.token_text(k)
        if not re.fullmatch(r" ?[A-Za-z_]{2,}", piece):
            continue
        space = " " if piece.startswith(" ") else ""
        for word in ("value", "name", "item", "data", "result"):
            if space + word == piece:
                continue
            edited = text[: doc.starts[k]] + space + word + text[doc.ends[k] :]
            ids = tokenize(tokenizer, edited).ids
            if len(ids) == len(doc.ids) and sum(a != b for a, b in zip(ids, doc.ids, strict=True)) == 1:
                return edited, k
    raise ValueError("no identifier token to edit")


# ----------------------------------------------------------------------------- measurement helpers


def setup_torch() -> None:
    torch.set_num_threads(THREADS)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load(progress: bool = False) -> LoadedModel:
    return load_model(MODEL, "cpu", progress=(lambda _, m: print(m, file=sys.stderr)) if progress else ignore_progress)


def plain_forward(loaded: LoadedModel, ids: list[int]) -> float:
    """Seconds for one plain SDPA forward (the model without capture), logits of the last token only."""
    model = loaded.model
    model.set_attn_implementation("sdpa")
    try:
        input_ids = torch.tensor([ids], dtype=torch.long)
        began = time.perf_counter()
        with torch.inference_mode():
            model(input_ids=input_ids, logits_to_keep=1, use_cache=False)
        return time.perf_counter() - began
    finally:
        model.set_attn_implementation(ATTENTION)


def eager_forward(loaded: LoadedModel, ids: list[int]) -> tuple[float, Any]:
    """Seconds for the eager ``output_attentions=True`` forward; returns the attentions too (kept alive)."""
    model = loaded.model
    model.set_attn_implementation("eager")
    try:
        input_ids = torch.tensor([ids], dtype=torch.long)
        began = time.perf_counter()
        with torch.inference_mode():
            out = model(input_ids=input_ids, logits_to_keep=1, use_cache=False, output_attentions=True)
        return time.perf_counter() - began, out.attentions
    finally:
        model.set_attn_implementation(ATTENTION)


def _proc_status_bytes(field: str) -> int | None:
    """A size field of /proc/self/status (``VmRSS``, ``VmHWM``) in bytes; None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def rss_bytes() -> int:
    """Current resident set size (Linux /proc; falls back to psutil)."""
    current = _proc_status_bytes("VmRSS")
    if current is not None:
        return current
    import psutil

    return int(psutil.Process().memory_info().rss)


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS high-water mark (Linux >= 4.0); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_bytes() -> int:
    """Peak resident set size since the last reset (VmHWM), else ru_maxrss since the start."""
    peak = _proc_status_bytes("VmHWM")
    if peak is not None:
        return peak
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


# ----------------------------------------------------------------------------- child processes


def child(mode: str, n: int) -> dict[str, Any]:
    """Run one measurement in this (fresh) process and return it as a dict."""
    setup_torch()
    if mode == "load":
        began = time.perf_counter()
        load()
        return {"load_s": time.perf_counter() - began}
    loaded = load()
    text = text_of_tokens(loaded.tokenizer, source_corpus(), n)
    window = max(4096, n)
    ids = tokenize_text(loaded, text).ids
    # Warm the kernels on a short input so one-time allocations do not count as per-token memory.
    if mode == "analyze":
        run_analysis(loaded, text[:200], window)
    else:
        eager_forward(loaded, ids[:32])
    gc.collect()
    baseline = rss_bytes()
    exact = reset_peak()
    began = time.perf_counter()
    if mode == "analyze":
        kept: Any = run_analysis(loaded, text, window)
    else:
        _, kept = eager_forward(loaded, ids)
    elapsed = time.perf_counter() - began
    peak = peak_bytes()
    del kept
    return {"n": len(ids), "seconds": elapsed, "peak": peak, "baseline": baseline, "exact_peak": exact}


def run_child(mode: str, n: int = 0, env: dict[str, str] | None = None) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--n", str(n)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT ") :]))
    raise RuntimeError(f"child {mode} {n} failed:\n{done.stderr[-3000:]}")


# ----------------------------------------------------------------------------- the benchmark


def eager_estimate(loaded: LoadedModel, n: int) -> int:
    """Bytes of the L x H x n x n float32 attention tensors the eager pipeline keeps."""
    return loaded.info.layers * loaded.info.heads * n * n * 4


def first_attended_by(analysis: Any, positions: list[int]) -> dict[str, float]:
    """The first attendedBy request of an analysis in the default view, as the editor sees it.

    Cold: the request builds the norm totals of the layers it reads. After the build: the
    language server builds them in the background after each analysis while the editor is idle
    (``views.prepare_attended_by``). For each of ``positions`` after the first, the totals are
    cleared, built that way (timed), and the first request goes to that token; medians.
    """
    options = ViewOptions(direction="attendedBy")
    began = time.perf_counter()
    attention_json(analysis, positions[0], options)
    cold = (time.perf_counter() - began) * 1000
    builds, firsts = [], []
    for position in positions[1:]:
        for win in analysis.windows:
            win.norm_totals.clear()
        began = time.perf_counter()
        prepare_attended_by(analysis, options)
        builds.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        attention_json(analysis, position, options)
        firsts.append((time.perf_counter() - began) * 1000)
    return {
        "first_attended_by_ms": cold,
        "attended_by_build_ms": statistics.median(builds),
        "first_attended_by_built_ms": statistics.median(firsts),
    }


def reanalysis(loaded: LoadedModel, text: str, window: int, repeats: int) -> dict[str, Any]:
    """A full analysis and a re-analysis after a one-token edit at 90 % of the tokens, back to back
    (``repeats`` pairs; medians). The re-analysis reuses the full analysis just made."""
    edited, edit_at = one_token_edit(loaded.tokenizer, text)
    full_s, again_s = [], []
    reused = 0
    for _ in range(repeats):
        gc.collect()
        began = time.perf_counter()
        analysis = run_analysis(loaded, text, window)
        full_s.append(time.perf_counter() - began)
        gc.collect()
        began = time.perf_counter()
        again = run_analysis(loaded, edited, window, previous=analysis)
        again_s.append(time.perf_counter() - began)
        reused = again.reused_tokens
        del again, analysis
    return {
        "edit_at": edit_at,
        "reanalyze_s": statistics.median(again_s),
        "reanalyze_full_s": statistics.median(full_s),
        "reused": reused,
    }


def predictions(loaded: LoadedModel, text: str, window: int, requests: int, rng: np.random.Generator) -> dict[str, Any]:
    """What predictions cost once they are computed on demand (``prediction.py``), on a fresh analysis.

    - one token: ``prediction_json`` and ``surprisal_json`` of a random token, as the hover and
      ``attenScope/attention`` ask them (each new window's first also checks the head against the
      model's last-row logits: the first request, reported apart);
    - the surprise heat: ``surprisal_bits`` (the head over every owned row, in blocks), once;
    - the bytes per token of the kept final hidden rows, as captured and in float16.
    """
    ids = tokenize_text(loaded, text).ids
    plain = statistics.median(plain_forward(loaded, ids) for _ in range(3))
    analysis = run_analysis(loaded, text, window)
    tokens = analysis.token_count
    positions = rng.integers(1, tokens, size=requests + 1).tolist()
    times = []
    for position in positions:
        began = time.perf_counter()
        prediction_json(analysis, int(position))
        surprisal_json(analysis, int(position))
        times.append((time.perf_counter() - began) * 1000)
    began = time.perf_counter()
    analysis.surprisal_bits()
    surprise = time.perf_counter() - began
    hidden = sum(w.hidden.nelement() for w in analysis.windows if w.hidden is not None) / tokens
    size = next((w.hidden.element_size() for w in analysis.windows if w.hidden is not None), 0)
    return {
        "prediction_plain_s": plain,
        "prediction_first_ms": times[0],
        "prediction_ms": times[1:],
        "surprise_s": surprise,
        "hidden_bytes_per_token": hidden * size,
        "hidden_compact_bytes_per_token": hidden * min(size, 2),
    }


def report_file() -> Path:
    """A long real file: the standard library's http/client.py (about 13,700 tokens), read at run time."""
    import http.client

    return Path(http.client.__file__ or "")


def html_report(loaded: LoadedModel, path: Path) -> dict[str, Any]:
    """The analysis of ``path`` (default window) and the HTML report of it (every token's links and
    the heatmap overview), timed back to back in this process."""
    text = path.read_text(encoding="utf-8")
    gc.collect()
    began = time.perf_counter()
    analysis = run_analysis(loaded, text)
    analyze_s = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report.html"
        began = time.perf_counter()
        write_report(out, analysis, analysis.token_count - 1, ViewOptions(), path.name)
        report_s = time.perf_counter() - began
        size = out.stat().st_size
    return {
        "file": f"{path.parent.name}/{path.name}",
        "tokens": analysis.token_count,
        "windows": len(analysis.windows),
        "analyze_s": analyze_s,
        "report_s": report_s,
        "bytes": size,
    }


def analyze_vs_plain(loaded: LoadedModel, text: str, n: int, repeats: int) -> tuple[dict[str, Any], Any]:
    """Analyses of ``text`` against plain forwards, back to back: the timings and the last analysis."""
    window = max(4096, n)
    ids = tokenize_text(loaded, text).ids
    analyze_s, plain_s, ratios = [], [], []
    analysis = None

    def timed_analyze() -> float:
        nonlocal analysis
        analysis = None
        gc.collect()
        began = time.perf_counter()
        analysis = run_analysis(loaded, text, window)
        return time.perf_counter() - began

    # Short passes are at the mercy of the scheduler on a shared VM: more repeats, and the order
    # alternates (plain first, then analyze first) so that drift does not favour either.
    for repeat in range(max(repeats, SHORT_REPEATS) if n <= 1024 else repeats):
        gc.collect()
        if repeat % 2 == 0:
            plain = plain_forward(loaded, ids)
            full = timed_analyze()
        else:
            full = timed_analyze()
            gc.collect()
            plain = plain_forward(loaded, ids)
        plain_s.append(plain)
        analyze_s.append(full)
        ratios.append(full / plain)
    assert analysis is not None
    return {
        "plain_s": statistics.median(plain_s),
        "plain_spread": max(plain_s) / min(plain_s),
        "repeats": len(ratios),
        "min_ratio": min(analyze_s) / min(plain_s),
        "analyze_s": statistics.median(analyze_s),
        "ratio": statistics.median(ratios),
    }, analysis


def captured_bytes_per_token(loaded: LoadedModel, text: str, window: int) -> float:
    analysis = run_analysis(loaded, text, window)
    return sum(w.nbytes() for w in analysis.windows) / analysis.token_count


def bench_size(
    loaded: LoadedModel, corpus: str, n: int, repeats: int, requests: int, rng: np.random.Generator
) -> dict[str, Any]:
    """Timings of one size in this process (analyze vs plain back to back, requests, re-analysis)."""
    text = text_of_tokens(loaded.tokenizer, corpus, n)
    window = max(4096, n)
    pairs, analysis = analyze_vs_plain(loaded, text, n, repeats)
    tokens = analysis.token_count
    captured = sum(w.nbytes() for w in analysis.windows)

    positions = rng.integers(0, tokens, size=requests).tolist()
    middle = loaded.info.layers // 2
    latency: dict[str, dict[str, list[float]]] = {}
    views = [(refinement, refinement, "headMean", "attendsTo") for refinement in REFINEMENTS]
    start = default_options(MODEL)  # the model's own most faithful view
    default = f"{start.refinement} / {start.aggregate}"
    views += [
        (f"default view ({default})", start.refinement, start.aggregate, "attendsTo"),
        (f"default view ({default}), attendedBy", start.refinement, start.aggregate, "attendedBy"),
    ]
    first = first_attended_by(analysis, [int(p) for p in (positions * 2)[:4]])  # --quick has 3 positions
    for label, refinement, aggregate, direction in views:
        per: dict[str, list[float]] = {"all": [], "one": []}
        for scope, layers in (("all", None), ("one", (middle,))):
            options = ViewOptions(refinement=refinement, aggregate=aggregate, direction=direction, layers=layers)
            attention_json(analysis, tokens - 1, options)  # warm-up
            for position in positions:
                began = time.perf_counter()
                attention_json(analysis, int(position), options)
                per[scope].append((time.perf_counter() - began) * 1000)
        latency[label] = per

    del analysis
    return {
        "n": tokens,
        **pairs,
        "bytes_per_token": captured / tokens,
        "latency": latency,
        **first,
        **reanalysis(loaded, text, window, repeats),
        **predictions(loaded, text, window, requests, rng),
    }


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def render(results: dict[str, Any], args: argparse.Namespace) -> str:
    """The perf section of RESULTS.md."""
    mb = 1024 * 1024
    out = [
        f"## Performance ({MODEL_NAMES.get(MODEL, MODEL)}, CPU)",
        "",
        f"Machine: {results.get('environment') or environment_line()}. Model threads: {THREADS}. "
        f"Repeats per size: {args.repeats}, at least {SHORT_REPEATS} up to 1,024 tokens (medians); "
        f"attention requests: {args.requests} random tokens per setting.",
        "Input: a prefix of the installed `transformers/modeling_utils.py` cut at a token boundary. "
        "Other processes may share the CPU, so absolute times can be noisy; ratios are measured back to back "
        "in one process and are the numbers to compare.",
        "",
    ]
    if "loadavg" in results:
        before, after = results["loadavg"]
        out += [
            f"Load average (1 min) before / after the run: {before:.1f} / {after:.1f} on {os.cpu_count()} cores.",
            "",
        ]
    if args.note:
        out += [f"**Note:** {args.note}", ""]
    for again in results.get("remeasured", []):
        before, after = again["loadavg"]
        sizes = ", ".join(f"{n:,}" for n in again["sizes"])
        where = f" at {sizes} tokens" if sizes else ""
        out += [
            f"Re-measured later with `--only {','.join(again['parts'])}`{where} ({again['environment']}; "
            f"load average {before:.1f} / {after:.1f}): those numbers come from that run.",
            "",
        ]
    load = results.get("load", {})
    cold = f"{load['cold']:.1f} s" if "cold" in load else "not measured"
    warm = f"{load['warm']:.1f} s" if "warm" in load else "not measured"
    out += [
        f"Model load (fresh process): cold (de-quantise the GGUF, empty cache) {cold}; warm (converted cache) {warm}.",
        "",
    ]

    rows = []
    for r in results["sizes"]:
        eager = r.get("eager", {})
        eager_s = fmt(eager["seconds"]) if "seconds" in eager else "skipped"
        eager_ratio = fmt(eager["seconds"] / r["plain_s"]) if "seconds" in eager else "-"
        spread = fmt(r["plain_spread"]) if "plain_spread" in r else "-"
        best = fmt(r["min_ratio"]) if "min_ratio" in r else "-"
        rows.append(
            [
                r["n"],
                r.get("repeats", args.repeats),
                fmt(r["plain_s"]),
                spread,
                fmt(r["analyze_s"]),
                fmt(r["ratio"]),
                best,
                eager_s,
                eager_ratio,
            ]
        )
    out += [
        "### Analyze time vs a plain SDPA forward (target: analyze <= 1.15 x plain)",
        "",
        "Each repeat times one plain forward and one analysis back to back, alternating which goes first. "
        "*Median of pairs* is the median of the per-repeat ratios; *fastest of each* divides the fastest analysis "
        "by the fastest plain pass, which discounts time lost to other processes (timeit's rule).",
        "",
        table(
            [
                "tokens",
                "repeats",
                "plain SDPA (s)",
                "plain max/min over repeats",
                "analyze (s)",
                "analyze / plain (median of pairs)",
                "analyze / plain (fastest of each)",
                "eager output_attentions (s)",
                "eager / plain",
            ],
            rows,
        ),
        "",
    ]

    rows = []
    for r in results["sizes"]:
        mem, eager = r.get("memory", {}), r.get("eager", {})
        if "peak" in eager:
            eager_peak, eager_extra = fmt(eager["peak"] / mb, 0), fmt((eager["peak"] - eager["baseline"]) / mb, 0)
        else:
            eager_peak = eager_extra = eager.get("note", "-")
        rows.append(
            [
                r["n"],
                fmt(r["bytes_per_token"] / 1024, 1),
                fmt(mem["peak"] / mb, 0) if mem else "-",
                fmt((mem["peak"] - mem["baseline"]) / mb, 0) if mem else "-",
                eager_peak,
                eager_extra,
                fmt(r["eager_estimate"] / 1024**3, 2),
            ]
        )
    out += [
        "### Memory (targets: <= 150 KB/token captured; 4,096 tokens under 2 GB RSS in total)",
        "",
        "Peak RSS is measured in a fresh process per cell; *extra* = peak - RSS after loading the model and a "
        "short warm-up. Eager keeps all attention weights (`output_attentions=True`, as bertviz and att_viz do).",
        "",
        table(
            [
                "tokens",
                "captured KB/token",
                "analyze peak RSS (MB)",
                "analyze extra (MB)",
                "eager peak RSS (MB)",
                "eager extra (MB)",
                "eager attentions L*H*n^2*4 (GB)",
            ],
            rows,
        ),
        "",
    ]

    rows = []
    for r in results["sizes"]:
        for refinement, per in r["latency"].items():
            rows.append(
                [
                    r["n"],
                    refinement,
                    fmt(percentile(per["all"], 50), 1),
                    fmt(percentile(per["all"], 95), 1),
                    fmt(percentile(per["one"], 50), 1),
                    fmt(percentile(per["one"], 95), 1),
                ]
            )
    out += [
        "### Attention request latency (target: effective+norm, all layers and heads, p95 <= 30 ms at 2,048 "
        "and <= 60 ms at 4,096)",
        "",
        "One request = `attention_json` for a random token (attendsTo, headMean, dropSink, top 20, per-line sums); "
        "the last rows are the default view in both directions. *One layer*: the middle layer only. "
        "The first attendedBy request of an analysis in the default view would also build the norm totals of "
        "the layers it reads (kept, and carried over to the next version for the rows before an edit); the "
        "language server builds them in the background after each analysis while the editor is idle. "
        "First attendedBy request without that build / the build alone / first request after it (medians of 3 "
        "builds, each followed by a first request to another token): "
        + ", ".join(
            f"{r['first_attended_by_ms']:,.0f} / {r['attended_by_build_ms']:,.0f} / "
            f"{r['first_attended_by_built_ms']:,.0f} ms at {r['n']:,} tokens"
            if "first_attended_by_built_ms" in r
            else f"{r['first_attended_by_ms']:,.0f} ms (cold) at {r['n']:,} tokens"
            for r in results["sizes"]
            if "first_attended_by_ms" in r
        )
        + " (target after the build: <= 100 ms at 4,096).",
        "",
        table(
            [
                "tokens",
                "view",
                "all layers p50 (ms)",
                "all layers p95 (ms)",
                "one layer p50 (ms)",
                "one layer p95 (ms)",
            ],
            rows,
        ),
        "",
    ]

    rows = []
    for r in results["sizes"]:
        if "surprise_s" not in r:
            continue
        rows.append(
            [
                r["n"],
                fmt(r["prediction_plain_s"]),
                fmt(r["prediction_first_ms"], 1),
                fmt(percentile(r["prediction_ms"], 50), 1),
                fmt(percentile(r["prediction_ms"], 95), 1),
                fmt(r["surprise_s"]),
                fmt(r["surprise_s"] / r["prediction_plain_s"]),
                fmt(r["hidden_bytes_per_token"] / 1024, 2),
                fmt(r["hidden_compact_bytes_per_token"] / 1024, 2),
            ]
        )
    if rows:
        out += [
            "### Predictions on demand (the analysis does not run the LM head)",
            "",
            "The analysis keeps each token's final hidden state; the LM head runs when a prediction is asked for. "
            f"*One token*: `prediction_json` + `surprisal_json` of a random token on a fresh analysis "
            f"({', '.join(str(len(r['prediction_ms'])) for r in results['sizes'] if 'prediction_ms' in r)} tokens), "
            "as the hover "
            "and `attenScope/attention` ask them (one or two rows of the head; the first request of a window also "
            "checks the head against the model's own last-row logits: *first*). *Surprise heat*: "
            "`surprisal_bits`, the head over every token in row blocks, once per analysis (the language server "
            "begins it while the editor is idle). *Hidden KB/token*: the kept rows as captured (float32 on the "
            "CPU) and as stored under the memory budget (float16), included in *captured KB/token* above.",
            "",
            table(
                [
                    "tokens",
                    "plain SDPA (s)",
                    "one token, first (ms)",
                    "one token p50 (ms)",
                    "one token p95 (ms)",
                    "surprise heat (s)",
                    "surprise heat / plain",
                    "hidden KB/token",
                    "hidden KB/token, compact",
                ],
                rows,
            ),
            "",
        ]

    report = results.get("report")
    if report:
        out += [
            "### HTML report vs the analysis it reports (target: writing <= analysing)",
            "",
            f"`atten-scope analyze --html` on the standard library's `{report['file']}` ({report['tokens']:,} tokens, "
            f"{report['windows']} windows of 4,096), default view: analysis {report['analyze_s']:.1f} s, writing "
            f"the report {report['report_s']:.1f} s ({report['report_s'] / report['analyze_s']:.2f} x; every "
            f"token's 20 strongest links and the heatmap overview), {report['bytes'] / 1e6:.1f} MB.",
            "",
        ]

    rows = []
    for r in results["sizes"]:
        full = r.get("reanalyze_full_s", r["analyze_s"])
        rows.append([r["n"], r["edit_at"], r["reused"], fmt(full), fmt(r["reanalyze_s"]), fmt(r["reanalyze_s"] / full)])
    out += [
        "### Re-analysis after a one-token edit at 90 % of the file (targets: <= 0.25 x full at 2,048 tokens, "
        "<= 0.15 x full at 4,096)",
        "",
        "The edit replaces one identifier token by another, so the file keeps its token count; a full analysis "
        "and the re-analysis that reuses it run back to back (medians of the pairs). An edit that grows a file "
        "past the window size (here exactly 4,096 tokens) adds a window, which is computed whole: that case "
        "measured 0.39 at 4,096 tokens before the edit was fixed to keep the count.",
        "",
        table(
            ["tokens", "edited token", "reused tokens", "full analyze (s)", "re-analysis (s)", "re-analysis / full"],
            rows,
        ),
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    global MODEL
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
    MODEL = args.model
    os.environ["ATTEN_SCOPE_BENCH_MODEL"] = MODEL
    if args.out is None:
        args.out = DEFAULT_RESULTS if MODEL == DEFAULT_MODEL else DEFAULT_RESULTS / MODEL.removeprefix("embedded:")

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
        "environment": environment_line(),
    }

    if not args.no_cold:
        with tempfile.TemporaryDirectory() as cache:
            results["load"]["cold"] = run_child("load", env={"ATTEN_SCOPE_CACHE_DIR": cache})["load_s"]
    began = time.perf_counter()
    if args.quick:
        loaded = load()  # smoke run: the warm load is timed in this process, not a fresh one
        results["load"]["warm"] = time.perf_counter() - began
    else:
        results["load"]["warm"] = run_child("load")["load_s"]
        loaded = load()
    print(f"load: {results['load']}", file=sys.stderr)

    corpus = source_corpus()
    rng = np.random.default_rng(args.seed)
    warm = text_of_tokens(loaded.tokenizer, corpus, 64)
    run_analysis(loaded, warm)
    plain_forward(loaded, loaded.tokenizer(warm).input_ids)

    for n in sizes:
        row = bench_size(loaded, corpus, n, args.repeats, args.requests, rng)
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
    loaded = load()
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
            row.update(first_attended_by(analysis, [int(p) for p in rng.integers(0, n, size=4)]))
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
