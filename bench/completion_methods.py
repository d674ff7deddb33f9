"""The line attributions the study compares, each as one score per context line (nats, or any scale:
the LDS is a rank correlation of predictions that are linear in the scores).

- ``instant``: the server's instant attribution (``views.attribution.instant_attribution``).
- attention alternatives: the refined attention rows of the completion's tokens (``views.attention``,
  sinks dropped), summed over the completion and over each line's tokens, for raw / norm x
  lastLayers / headMean (every layer).
- ``removal surrogate``: the server's ContextCite-style fit on random line removals
  (``views.attribution``); where it cannot be imported, a ridge fit of the same kind on this
  benchmark's own teacher-forced passes (``completion_eval.fit_surrogate``), and the record says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from completion_corpus import Case
from completion_eval import completion_logprobs, context_ids, fit_surrogate, masked_logprobs, random_masks
from report import ensure_engine_importable

ensure_engine_importable()

from atten_scope.engine.analysis import Analysis, run_analysis  # noqa: E402
from atten_scope.engine.model import LoadedModel  # noqa: E402
from atten_scope.views.attention import combined_rows, drop_sinks  # noqa: E402
from atten_scope.views.options import ViewOptions  # noqa: E402

ATTENTION_VARIANTS = {
    "attention norm / lastLayers": ViewOptions(refinement="norm", aggregate="lastLayers"),
    "attention norm / all layers": ViewOptions(refinement="norm", aggregate="headMean"),
    "attention raw / lastLayers": ViewOptions(refinement="raw", aggregate="lastLayers"),
    "attention raw / all layers": ViewOptions(refinement="raw", aggregate="headMean"),
}
SURROGATE_SALT = 2  # the training masks' stream (the held-out masks use another)


def server_attribution() -> Any | None:
    """``atten_scope.views.attribution`` where it exists (None before it does)."""
    try:
        from atten_scope.views import attribution
    except ImportError:
        return None
    return attribution


def analyse(loaded: LoadedModel, case: Case) -> tuple[Analysis, int]:
    """The captured analysis of context + completion and the completion's first token index.

    The analysis tokenizes the joined text; it must give the context's ids followed by the
    completion's, else the case cannot be scored by the views (``ValueError``)."""
    ids = context_ids(loaded, case.text)
    analysis = run_analysis(loaded, case.text + case.completion_text, max_tokens=4096)
    if analysis.document.ids != ids + case.completion_ids:
        raise ValueError("the completion does not tokenize back to its own ids after the context")
    return analysis, len(ids)


def line_scores_from_tokens(analysis: Analysis, weights: np.ndarray, lines: int) -> np.ndarray:
    """Per-line sums of token weights over the first ``lines`` lines."""
    token_lines = analysis.token_lines[: len(weights)]
    out = np.zeros(lines, dtype=np.float64)
    inside = token_lines < lines
    np.add.at(out, token_lines[inside], weights[inside])
    return out


def attention_scores(analysis: Analysis, start: int, end: int, lines: int, options: ViewOptions) -> np.ndarray:
    """The completion's refined attention rows (sinks dropped) summed over its tokens, then per line."""
    win = analysis.windows[0]
    rows = combined_rows(analysis, win, options, start - win.start, end - start).double().numpy()
    rows = drop_sinks(rows, [s - win.start for s in analysis.sinks(win)])
    return line_scores_from_tokens(analysis, rows[:, : start - win.start].sum(axis=0), lines)


def instant_scores(module: Any, analysis: Analysis, start: int, end: int, lines: int) -> tuple[np.ndarray, str]:
    """The server's instant attribution as line scores (0-based lines) and its label."""
    found = module.instant_attribution(analysis, start, end, lines, None)
    return _line_scores(found, lines), str(getattr(found, "label", ""))


def _line_scores(found: Any, lines: int) -> np.ndarray:
    """An ``Attribution``'s scores of lines 0..lines-1 (a line it does not score counts 0)."""
    scores = np.zeros(lines, dtype=np.float64)
    given = np.asarray(found.line_scores, dtype=np.float64)[:lines]
    scores[: len(given)] = given
    return scores


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    """``run()`` and its wall time in seconds."""
    began = time.perf_counter()
    value = run()
    return value, time.perf_counter() - began


def server_ablations(loaded: LoadedModel, case: Case) -> Any | None:
    """The server's batched ablation runner over ``case`` (``views.ablation.Ablations``: teacher-forced
    passes that reuse the full context's keys and values before the first removed line), or None."""
    try:
        from atten_scope.views.ablation import Ablations, ContextLines
    except ImportError:
        return None
    return Ablations(loaded.model, loaded.tokenizer, ContextLines.of(case.text, len(case.lines)), case.completion_ids)


def surrogate_fits(
    loaded: LoadedModel, case: Case, counts: list[int], seed: int, batch: int
) -> dict[int, dict[str, Any]]:
    """Per training size n: the removal surrogate's line scores fitted on n random masks, and seconds.

    With the server's code, exactly what ``explain`` computes for n ablations: its masks
    (``surrogate.random_masks(n, lines, seed)``, whose first n rows are the same for every larger
    n, so one run of the largest size serves each) through its ``Ablations``, and its Lasso. Without
    it, a ridge fit on this benchmark's own passes. Each size's seconds count the passes it needs."""
    lines = len(case.lines)
    largest = max(counts)
    runner = server_ablations(loaded, case)
    try:
        from atten_scope.views.surrogate import lasso
        from atten_scope.views.surrogate import random_masks as server_masks
    except ImportError:
        runner = None
    out: dict[int, dict[str, Any]] = {}
    if runner is not None:
        masks = server_masks(largest, lines, seed)
        outputs, seconds = timed(lambda: runner.logprobs(masks))
        fit, source = lasso, "server Lasso"
    else:
        masks = random_masks(lines, largest, seed, SURROGATE_SALT)
        outputs, seconds = timed(lambda: masked_logprobs(loaded, case, masks, batch))
        fit, source = fit_surrogate, "benchmark ridge"
    for count in counts:
        (w, _), fit_s = timed(lambda count=count: fit(masks[:count], outputs[:count]))
        out[count] = {
            "scores": np.asarray(w, dtype=np.float64),
            "seconds": seconds * count / largest + fit_s,
            "source": source,
        }
    return out


def explain_seconds(loaded: LoadedModel, analysis: Analysis, context: str, start: int, count: int, seed: int) -> float:
    """The wall time of the server's whole ``explain_completion`` at ``count`` ablations (passes, fit, LDS)."""
    module = server_attribution()
    began = time.perf_counter()
    module.explain_completion(loaded, analysis, context, start, None, count, seed)  # type: ignore[union-attr]
    return time.perf_counter() - began


def base_logprob(loaded: LoadedModel, case: Case) -> float:
    """log p(completion | the whole context), teacher forced."""
    return float(completion_logprobs(loaded, [context_ids(loaded, case.text)], case.completion_ids, 1)[0])
