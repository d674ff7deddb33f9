"""The measurements of the performance benchmark (``perf.py`` is its command line).

Inputs cut from real code, the timed passes (plain SDPA, eager ``output_attentions``, analysis,
re-analysis, requests, predictions, the HTML report) and the peak-RSS probes; memory cells run in a
fresh process each (``perf.py --child``). What is measured, exactly, is in ``perf.py``'s docstring.
"""

from __future__ import annotations

import gc
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from report import BENCH_DIR, ensure_engine_importable

ensure_engine_importable()

from atten_scope.common.progress import ignore_progress  # noqa: E402
from atten_scope.engine.analysis import run_analysis, tokenize_text  # noqa: E402
from atten_scope.engine.model import LoadedModel, load_model  # noqa: E402
from atten_scope.engine.tokens import tokenize  # noqa: E402
from atten_scope.protocol.builders.attention import attention_json  # noqa: E402
from atten_scope.protocol.encode import prediction_json, surprisal_json  # noqa: E402
from atten_scope.registry import REFINEMENTS  # noqa: E402
from atten_scope.report import write_report  # noqa: E402
from atten_scope.views.attention import prepare_attended_by  # noqa: E402
from atten_scope.views.evidence import default_options  # noqa: E402
from atten_scope.views.options import ViewOptions  # noqa: E402

DEFAULT_MODEL = "embedded:smollm2-135m"
# perf.py --model sets the variable for its child processes, which measure that model.
MODEL = os.environ.get("ATTEN_SCOPE_BENCH_MODEL", DEFAULT_MODEL)
# perf.py --device sets this one the same way: cpu, cuda or auto.
DEVICE = os.environ.get("ATTEN_SCOPE_BENCH_DEVICE", "cpu")
THREADS = 2
SHORT_REPEATS = 9  # repeats of the analyze / plain pair at <= 1,024 tokens (each takes about a second)
ATTENTION = "atten_scope"
SCRIPT = BENCH_DIR / "perf.py"  # the command line, which runs one memory cell with --child


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
    """The benchmark's torch threads, and no tokenizer threads beside them."""
    torch.set_num_threads(THREADS)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load(progress: bool = False, model: str = MODEL, device: str = DEVICE) -> LoadedModel:
    """``model`` (the model of ``ATTEN_SCOPE_BENCH_MODEL`` by default) on ``device`` (cpu, cuda, auto)."""
    report = (lambda _, m: print(m, file=sys.stderr)) if progress else ignore_progress
    return load_model(model, device, progress=report)


def synchronize(loaded: LoadedModel) -> None:
    """Wait for the accelerator's queued work, so that a clock read after it counts that work."""
    if loaded.device.type == "cuda":
        torch.cuda.synchronize(loaded.device)


@contextmanager
def attention_implementation(loaded: LoadedModel, name: str) -> Iterator[None]:
    """Run the model with the attention implementation ``name`` (no capture), then the engine's again."""
    loaded.model.set_attn_implementation(name)
    try:
        yield
    finally:
        loaded.model.set_attn_implementation(ATTENTION)


def plain_forward(loaded: LoadedModel, ids: list[int]) -> float:
    """Seconds for one plain SDPA forward (the model without capture), logits of the last token only."""
    with attention_implementation(loaded, "sdpa"):
        input_ids = torch.tensor([ids], dtype=torch.long, device=loaded.device)
        synchronize(loaded)
        began = time.perf_counter()
        with torch.inference_mode():
            loaded.model(input_ids=input_ids, logits_to_keep=1, use_cache=False)
        synchronize(loaded)
        return time.perf_counter() - began


def eager_forward(loaded: LoadedModel, ids: list[int]) -> tuple[float, Any]:
    """Seconds for the eager ``output_attentions=True`` forward; returns the attentions too (kept alive)."""
    with attention_implementation(loaded, "eager"):
        input_ids = torch.tensor([ids], dtype=torch.long)
        began = time.perf_counter()
        with torch.inference_mode():
            out = loaded.model(input_ids=input_ids, logits_to_keep=1, use_cache=False, output_attentions=True)
        return time.perf_counter() - began, out.attentions


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
    """Run ``child(mode, n)`` in a fresh process (``perf.py --child``) and return its result."""
    command = [sys.executable, str(SCRIPT), "--child", mode, "--n", str(n)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[len("RESULT ") :]))
    raise RuntimeError(f"child {mode} {n} failed:\n{done.stderr[-3000:]}")


# ----------------------------------------------------------------------------- the benchmark


def eager_estimate(loaded: LoadedModel, n: int) -> int:
    """Bytes of the L x H x n x n float32 attention tensors the eager pipeline keeps."""
    return loaded.info.layers * loaded.info.heads * n * n * 4


def first_attended_by(analysis: Any, positions: list[int], requests: list[int] | None = None) -> dict[str, float]:
    """The first attendedBy request of an analysis in the default view, as the editor sees it.

    Cold: the request builds the norm totals of the layers it reads. After the build: the
    language server builds them in the background after each analysis while the editor is idle
    (``views.prepare_attended_by``). For each of ``positions`` after the first, the totals are
    cleared, built that way (timed), and the first request goes to that token; medians. Then, the
    totals built, one request to each token of ``requests``: their p50 and p95. Each request is the
    editor's cursor request, without the prediction (``predict=False``: the hover asks for that).
    """
    # the model's own default view (norm / headMax on Gemma 3), as the editor starts from it
    options = replace(default_options(analysis.info.id), direction="attendedBy")
    began = time.perf_counter()
    attention_json(analysis, positions[0], options, predict=False)
    cold = (time.perf_counter() - began) * 1000
    builds, firsts = [], []
    for position in positions[1:]:
        for win in analysis.windows:
            win.norm_totals.clear()
            win.combined_totals.clear()  # an entry-wise aggregate's row totals (headMax)
        began = time.perf_counter()
        prepare_attended_by(analysis, options)
        builds.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        attention_json(analysis, position, options, predict=False)
        firsts.append((time.perf_counter() - began) * 1000)
    after: list[float] = []
    for position in requests or []:
        began = time.perf_counter()
        attention_json(analysis, position, options, predict=False)
        after.append((time.perf_counter() - began) * 1000)
    return {
        "first_attended_by_ms": cold,
        "attended_by_build_ms": statistics.median(builds),
        "first_attended_by_built_ms": statistics.median(firsts),
        **(
            {
                "attended_by_built_p50_ms": float(np.percentile(after, 50)),
                "attended_by_built_p95_ms": float(np.percentile(after, 95)),
                "attended_by_built_requests": len(after),
            }
            if after
            else {}
        ),
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
    """Bytes of the captured windows per token of one analysis of ``text``."""
    analysis = run_analysis(loaded, text, window)
    return sum(w.nbytes() for w in analysis.windows) / analysis.token_count


def bench_size(
    loaded: LoadedModel,
    corpus: str,
    n: int,
    repeats: int,
    requests: int,
    rng: np.random.Generator,
    model: str = MODEL,
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
    start = default_options(model)  # the model's own most faithful view
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
