"""Attribution of a completion (``views.attribution``, ``views.ablation``) on the embedded model."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from atten_scope.common import cancellation
from atten_scope.common.errors import Cancelled
from atten_scope.engine.analysis import Analysis, run_analysis
from atten_scope.engine.refine import refined_rows
from atten_scope.views.ablation import Ablations, ContextLines, completion_logprob, no_context_logprob
from atten_scope.views.attribution import (
    MAX_IDENTIFIERS,
    explain_completion,
    explain_prediction,
    instant_attribution,
    instant_options,
)
from atten_scope.views.learned import learned_heads
from atten_scope.views.surrogate import lasso, out_of_fold, random_masks

from .test_completion import MODELS, gemma

CONTEXT = '''import re
from dataclasses import dataclass

HEADER = re.compile(r"^(\\w+): (.*)$")


@dataclass
class Header:
    name: str
    value: str


def parse_headers(text):
    """Every "Name: value" line of text, as Header objects."""
    found = []
    for line in text.splitlines():
        match = HEADER.match(line)
        if match:
            found.append(Header(match.group(1), match.group(2)))
    return found


def header_names(text):
    return [header.'''
COMPLETION_TOKENS = 8


def plain_logprob(model: Any, context_ids: list[int], completion: list[int]) -> float:
    """log p(completion | context) from the model's own logits over the whole sequence."""
    ids = context_ids + completion
    # Only the rows that predict the completion go through the head: with Gemma's 262k-token
    # vocabulary, every row's logits (in double) would cost more than the model itself.
    with torch.inference_mode():
        kept = model(torch.tensor([ids]), logits_to_keep=len(completion) + 1).logits[0, :-1]
    logits = kept.double().log_softmax(-1)
    return float(sum(logits[i, c] for i, c in enumerate(completion)))


@pytest.fixture(scope="module")
def completed(embedded: Any) -> tuple[Analysis, int, list[int]]:
    """The analysis of CONTEXT + its greedy completion, the completion's first token and its ids."""
    ids = embedded.tokenizer(CONTEXT)["input_ids"]
    with torch.inference_mode():
        out = embedded.model.generate(torch.tensor([ids]), max_new_tokens=COMPLETION_TOKENS, do_sample=False)
    completion = out[0, len(ids) :].tolist()
    analysis = run_analysis(embedded, CONTEXT + embedded.tokenizer.decode(completion))
    assert analysis.document.ids == ids + completion  # the completion re-tokenizes as generated
    return analysis, len(ids), completion


@pytest.fixture(scope="module", params=MODELS)
def scored(request: pytest.FixtureRequest) -> tuple[Any, list[int]]:
    """A model and its greedy completion of CONTEXT: SmolLM2's is the module's ``completed``;
    Gemma 3's (a BOS token, sliding-window layers) is a few tokens, enough for the property."""
    if request.param == "smollm2":
        return request.getfixturevalue("embedded"), request.getfixturevalue("completed")[2]
    loaded = gemma()
    ids = loaded.tokenizer(CONTEXT)["input_ids"]
    with torch.inference_mode():
        out = loaded.model.generate(torch.tensor([ids]), max_new_tokens=5, do_sample=False)
    return loaded, out[0, len(ids) :].tolist()


def test_ablation_logprob_equals_a_plain_pass_on_the_edited_text(scored: tuple[Any, list[int]]) -> None:
    """f(z) from the cached prefix and a batch equals the model run on the edited text; an ablation
    computes only the tokens from its first removed line on."""
    loaded, completion = scored
    lines = ContextLines.of(CONTEXT)
    assert lines.count == CONTEXT.count("\n")
    runner = Ablations(loaded.model, loaded.tokenizer, lines, completion)
    masks = random_masks(5, lines.count, seed=1)
    masks[0] = True
    masks[1] = True
    masks[1, 17] = False  # one line late in the context: most of it is reused
    batched = runner.logprobs(masks)
    for keep, value in zip(masks, batched, strict=True):
        edited = runner.context_ids(keep)
        assert value == pytest.approx(plain_logprob(loaded.model, edited, completion), abs=2e-3)
    single = completion_logprob(loaded, CONTEXT, completion, [17])
    assert single == pytest.approx(batched[1], abs=1e-4)
    late = Ablations(loaded.model, loaded.tokenizer, lines, completion)
    late.token_logprobs(masks[1])
    full = len(late.full_ids)
    kept_before = len(loaded.tokenizer(CONTEXT[: lines.spans[17][0]])["input_ids"])
    assert late.forward_tokens - full <= full - kept_before + len(completion) + 1


def test_instant_scores_share_the_total(embedded: Any, completed: Any) -> None:
    """The token shares sum to 1, so line scores sum to total = log p(y | context) - log p(y | BOS);
    every line before the cursor's gets a score, and a block scores the sum of its lines."""
    analysis, start, completion = completed
    before_line = CONTEXT.count("\n")
    attribution = instant_attribution(analysis, start, analysis.token_count, before_line, None)
    expected = plain_logprob(embedded.model, analysis.document.ids[:start], completion) - no_context_logprob(
        embedded.model, completion
    )
    assert attribution.method == "attention" and attribution.total == pytest.approx(expected, abs=2e-3)
    assert len(attribution.line_scores) == before_line
    assert attribution.line_scores.sum() == pytest.approx(attribution.total, abs=1e-6)
    blocks = [u for u in attribution.units if u.kind in ("block", "import")]
    assert {u.first for u in blocks} >= {0, 3, 6, 12, 22}
    for unit in blocks:
        assert unit.score == pytest.approx(attribution.line_scores[unit.first : unit.last + 1].sum())
    names = [u for u in attribution.units if u.kind == "identifier"]
    assert 0 < len(names) <= MAX_IDENTIFIERS and all(u.last < before_line for u in names)
    assert [abs(u.score) for u in names] == sorted((abs(u.score) for u in names), reverse=True)


def test_lds_equals_a_slow_reference(embedded: Any, completed: Any) -> None:
    """Both LDS figures equal Spearman's rho computed by hand on the same masks and log-probabilities."""
    analysis, start, _ = completed
    explanation = explain_completion(embedded, analysis, CONTEXT, start, None, ablations=16, seed=5)
    masks, actual = explanation.masks, explanation.actual
    assert masks.shape == (16, CONTEXT.count("\n")) and np.array_equal(masks, random_masks(16, masks.shape[1], 5))
    scores = explanation.instant.line_scores
    predicted = [sum(scores[i] for i in range(masks.shape[1]) if masks[k, i]) for k in range(len(masks))]
    assert explanation.instant.lds == pytest.approx(spearmanr(predicted, actual).statistic, abs=1e-9)
    assert explanation.instant.lds_source == "this completion"
    held_out = out_of_fold(masks, actual, lasso)
    assert explanation.attribution.lds == pytest.approx(spearmanr(held_out, actual).statistic, abs=1e-9)
    assert explanation.attribution.method == "removals"
    assert explanation.attribution.total == pytest.approx(explanation.instant.total, abs=2e-3)
    assert explanation.forward_tokens < 17 * (start + 8)  # the cached prefix saved something


def test_cancel_between_ablations_stops(embedded: Any, completed: Any) -> None:
    analysis, start, _ = completed
    event = threading.Event()
    reports: list[float | None] = []

    def progress(fraction: float | None, message: str) -> None:
        reports.append(fraction)
        event.set()  # cancelled while the first batch runs

    with cancellation.cancellable(event), pytest.raises(Cancelled):
        explain_completion(embedded, analysis, CONTEXT, start, None, ablations=24, seed=0, progress=progress)
    assert reports == [0.0]


def test_prediction_at_the_cursor_is_explained(embedded: Any, completed: Any) -> None:
    analysis, start, completion = completed
    token = start - 1  # "." of "header.": the model's next token is the completion's first
    predicted, explanation = explain_prediction(embedded, analysis, token, None, ablations=8, seed=0)
    assert predicted == completion[0]
    assert len(explanation.attribution.line_scores) == CONTEXT.count("\n")
    assert explanation.instant.line_scores.sum() == pytest.approx(explanation.instant.total, abs=1e-6)


def test_instant_attribution_reads_the_learned_head_weights(embedded: Any, completed: Any) -> None:
    """Where the model ships learned head weights measured better on completions, the instant
    attribution is sum over (l, h) of c_lh times each head's refined rows (independently rebuilt
    here from the captured window), and it states the benchmark's LDS."""
    analysis, start, _ = completed
    learned = learned_heads(analysis.info.id)
    assert learned is not None and learned.instant  # the shipped table for the embedded default
    options = instant_options(analysis.info.id)
    assert options.aggregate == "learned" and options.refinement == learned.refinement
    before_line = CONTEXT.count("\n")
    attribution = instant_attribution(analysis, start, analysis.token_count, before_line, None)
    assert attribution.lds == learned.completion_lds and attribution.lds_source == "benchmark"

    (win,) = analysis.windows
    layers = torch.arange(analysis.info.layers)
    per_head = refined_rows(win, layers, start - 1, analysis.token_count - start, learned.refinement)
    coefficients = torch.from_numpy(learned.coefficients)
    rows = torch.einsum("lh,lhrs->rs", coefficients / coefficients.sum(), per_head.double()).numpy()
    rows[:, analysis.sinks(win)] = 0.0  # the sink dropped, each row renormalised over the rest
    rows /= rows.sum(axis=1, keepdims=True)
    summed = rows[:, :start].sum(axis=0)
    summed[analysis.token_lines[:start] >= before_line] = 0.0
    expected = np.bincount(analysis.token_lines[:start], weights=summed / summed.sum(), minlength=before_line)
    assert np.allclose(attribution.line_scores, expected[:before_line] * attribution.total, atol=1e-5)
    assert "learned head weights (AT2, Cohen-Wang et al. 2025)" in attribution.label  # names kept as written
