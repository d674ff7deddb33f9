"""The attribution study, one completion at a time, in tiers of cost.

Tier 1 (every case): the greedy completion, its captured analysis, the held-out masks' actual
log-probabilities (plain forward passes: the ground truth), the instant attribution and the
attention alternatives. Tier 2: exact leave-one-line-out and the removal surrogate at each training
size. Tier 3: the ``context-cite`` package. A run does tier 1 for every case before tier 2 for
any, so a time budget that ends early still scores the cheap methods on every case; each
method's table says on how many cases it was measured.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from completion_corpus import Case
from completion_eval import (
    context_ids,
    greedy_completion,
    lds,
    leave_one_out,
    masked_logprobs,
    predicted_from_scores,
    random_masks,
)
from completion_methods import (
    ATTENTION_VARIANTS,
    analyse,
    attention_scores,
    base_logprob,
    instant_scores,
    server_ablations,
    server_attribution,
    surrogate_fits,
    timed,
)
from completion_peer import context_cite_scores
from report import ensure_engine_importable

ensure_engine_importable()

from atten_scope.engine.model import LoadedModel  # noqa: E402

HELD_OUT_SALT = 1  # the held-out masks' random stream (training masks use other salts)
INSTANT = "instant (server)"
LOO = "leave-one-line-out (exact)"
CONTEXT_CITE = "context-cite package"


def surrogate_name(count: int) -> str:
    return f"removal surrogate, {count} ablations"


def held_out(case: Case, record: dict[str, Any], seed: int) -> np.ndarray:
    """The case's held-out masks (derived from the seed and the case's name, so a resumed run agrees)."""
    # An odd salt: never the training masks' (even) stream.
    return random_masks(len(case.lines), record["held_out"], seed, HELD_OUT_SALT + 2 * zlib.crc32(case.name.encode()))


def score(
    record: dict[str, Any], name: str, scores: np.ndarray, masks: np.ndarray, seconds: float, **extra: Any
) -> None:
    """Store one method's line scores and its LDS on the held-out masks."""
    actual = np.asarray(record["actual"], dtype=np.float64)
    predicted = predicted_from_scores(scores, masks)
    record["methods"][name] = {
        "lds": lds(predicted, actual),
        "seconds": round(seconds, 4),
        "scores": [round(float(s), 5) for s in scores],
        **extra,
    }


def tier_one(loaded: LoadedModel, case: Case, args: Any) -> dict[str, Any] | None:
    """Generate, analyse and score the cheap methods (None: the completion does not tokenize back)."""
    ids = context_ids(loaded, case.text)
    case.completion_ids = greedy_completion(loaded, ids, args.new_tokens)
    case.completion_text = loaded.tokenizer.decode(case.completion_ids)
    if not case.completion_ids:
        return None
    try:
        (analysis, start), analyse_s = timed(lambda: analyse(loaded, case))
    except ValueError:
        return None
    record: dict[str, Any] = {
        "name": case.name,
        "language": case.language,
        "context_tokens": len(ids),
        "lines": len(case.lines),
        "completion": case.completion_text,
        "completion_ids": case.completion_ids,
        "held_out": args.held_out,
        "analyse_s": round(analyse_s, 3),
        "methods": {},
    }
    masks = held_out(case, record, args.seed)
    record["base"] = base_logprob(loaded, case)
    actual, actual_s = timed(lambda: masked_logprobs(loaded, case, masks, args.batch))
    record["actual"] = [round(float(a), 6) for a in actual]
    record["actual_s"] = round(actual_s, 3)
    end, lines = start + len(case.completion_ids), len(case.lines)
    module = server_attribution()
    if module is not None and hasattr(module, "instant_attribution"):
        (scores, label), seconds = timed(lambda: instant_scores(module, analysis, start, end, lines))
        score(record, INSTANT, scores, masks, seconds, label=label)
    for name, options in ATTENTION_VARIANTS.items():
        scores, seconds = timed(lambda options=options: attention_scores(analysis, start, end, lines, options))
        score(record, name, scores, masks, seconds)
    return record


def tier_two(loaded: LoadedModel, case: Case, record: dict[str, Any], args: Any) -> None:
    """Exact leave-one-line-out and the removal surrogate at each training size."""
    masks = held_out(case, record, args.seed)
    runner = server_ablations(loaded, case)
    if runner is not None:  # the same passes, reusing the unchanged prefix (exact up to rounding)
        removed = ~np.eye(len(case.lines), dtype=bool)
        scores, seconds = timed(lambda: record["base"] - runner.logprobs(removed))
    else:
        scores, seconds = timed(lambda: leave_one_out(loaded, case, record["base"], args.batch))
    score(record, LOO, scores, masks, seconds)
    fits = surrogate_fits(loaded, case, args.ablations, args.seed, args.batch)
    for count, fit in fits.items():
        score(record, surrogate_name(count), fit["scores"], masks, fit["seconds"], source=fit["source"])


def tier_three(loaded: LoadedModel, case: Case, record: dict[str, Any], args: Any, module: Any) -> None:
    """The ``context-cite`` package's line weights and their LDS on the same held-out masks."""
    masks = held_out(case, record, args.seed)
    (weights, _bias), seconds = timed(lambda: context_cite_scores(module, loaded, case, args.peer_ablations))
    # Its prediction is bias + w . mask: the scores of the removal convention are w itself.
    score(record, CONTEXT_CITE, weights, masks, seconds, ablations=args.peer_ablations)


def restore(case: Case, record: dict[str, Any]) -> None:
    """Put a recorded completion back on its case (for a resumed run's later tiers)."""
    case.completion_ids = [int(i) for i in record["completion_ids"]]
    case.completion_text = record["completion"]
