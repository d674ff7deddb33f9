"""The cost part of the completion benchmark: generation with capture against plain generation, the
time to the first token, and the cost of the two attributions.

The context is real code (the standard library's http/client.py cut to whole lines within the
size, as ``removal.py`` cuts it). Each round times, back to back, plain ``model.generate``
(greedy, SDPA, its KV cache) and the server's generation with capture, both from the context's
text with nothing analysed before; then the plain first token (``max_new_tokens=1``). The instant
attribution and the removal surrogate are timed on the captured completion.
"""

from __future__ import annotations

import gc
import statistics
import time
from typing import Any

import numpy as np

from completion_eval import context_ids, greedy_completion
from completion_methods import explain_seconds, server_attribution
from removal import source_text
from report import ensure_engine_importable

ensure_engine_importable()

from atten_scope.engine.model import LoadedModel  # noqa: E402

LARGE = 1024  # context tokens past which the surrogate is timed at its smallest count only


def server_generation() -> Any | None:
    """``atten_scope.engine.generation`` where it exists (None before it does)."""
    try:
        from atten_scope.engine import generation
    except ImportError:
        return None
    return generation


def capture_generate(module: Any, loaded: LoadedModel, text: str, new_tokens: int) -> Any:
    """The server's greedy generation with capture at the end of ``text``, from no prior analysis."""
    settings = module.GenerationSettings(max_new_tokens=new_tokens, temperature=0.0)
    return module.generate(loaded, text, len(text), settings)


def timed_median(repeats: int, run: Any) -> tuple[float, Any]:
    """The median wall time of ``repeats`` calls of ``run()`` and the last call's value."""
    times = []
    value = None
    for _ in range(repeats):
        gc.collect()
        began = time.perf_counter()
        value = run()
        times.append(time.perf_counter() - began)
    return statistics.median(times), value


def measure_size(
    loaded: LoadedModel, tokens: int, new_tokens: int, repeats: int, ablations: list[int], seed: int, batch: int
) -> dict[str, Any]:
    """One context size: medians of ``repeats`` rounds, each pair back to back, then the attributions once.

    The server's generation stops early where its stop rule says so (a dedent, two blank lines):
    plain generation is then asked for exactly as many tokens, so both produce the same count."""
    text = source_text(loaded, tokens).rstrip("\n")
    ids = context_ids(loaded, text)
    module = server_generation()
    row: dict[str, Any] = {"context_tokens": len(ids)}
    count = new_tokens
    found: Any = None
    if module is not None:
        row["capture_s"], found = timed_median(repeats, lambda: capture_generate(module, loaded, text, new_tokens))
        count = len(found.analysis.document.ids) - found.start
        row["capture_first_s"], _ = timed_median(repeats, lambda: capture_generate(module, loaded, text, 1))
        row["stop"] = found.stop
    row["plain_s"], completion = timed_median(repeats, lambda: greedy_completion(loaded, ids, count, exact=True))
    row["plain_first_s"], _ = timed_median(repeats, lambda: greedy_completion(loaded, ids, 1, exact=True))
    row["generated_tokens"] = len(completion)
    if "capture_s" in row:
        row["capture_ratio"] = row["capture_s"] / row["plain_s"]
    attribution = server_attribution()
    if found is not None and attribution is not None:
        analysis, start = found.analysis, found.start
        lines = found.context.count("\n")
        began = time.perf_counter()
        attribution.instant_attribution(analysis, start, analysis.token_count, lines, None)
        row["instant_s"] = time.perf_counter() - began
        row["surrogate_s"] = {
            str(n): explain_seconds(loaded, analysis, found.context, start, n, seed) for n in ablations
        }
    row["completion"] = found.text if found is not None else loaded.tokenizer.decode(completion)
    return row


def measure(
    loaded: LoadedModel, sizes: list[int], new_tokens: int, repeats: int, ablations: list[int], seed: int, batch: int
) -> dict[str, Any]:
    """The cost record: one row per context size."""
    rows = []
    for tokens in sizes:
        # The surrogate's cost grows with the context and the ablations alike: past LARGE tokens only
        # the smallest count is timed (the table says so), which keeps a CPU run within minutes.
        counts = ablations if tokens <= LARGE else ablations[:1]
        rows.append(measure_size(loaded, tokens, new_tokens, repeats, counts, seed, batch))
        print(f"cost at {tokens} tokens: {rows[-1]}", flush=True)
    note = None
    if server_generation() is None or server_attribution() is None:
        note = "The server's generation or attribution was not available to this run: only plain generation is timed."
    return {
        "new_tokens": new_tokens,
        "repeats": repeats,
        "ablations": ablations,
        "sizes": rows,
        "note": note,
        "finite": bool(np.isfinite([r["plain_s"] for r in rows]).all()),
    }
