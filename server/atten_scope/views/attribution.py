"""Why the model wrote a completion: scores of the context's lines and code units, in nats.

A score answers one question for every method: by how much does the completion's
log-probability drop when this line (or unit) is removed from the context? Scores are linear:
the estimated drop for removing a set of lines is the sum of their scores, and a unit (a
definition, an import block, a block of lines) scores the sum of its lines.

The unit of everything is the completion's whole effect,

    total = log p(y | context) - log p(y | no context)      (nats; no context: the start token only)

with y the completion's tokens, teacher-forced (``ablation.py``).

**attention** (instant, no extra pass but the short one of ``total``): for each completion token
y_t the attention row a_{t-1} of the token before it, the row whose prediction y_t is (for the
first, the context's last token), over the sources (the model's learned head weights where they
measured better on completions, else its default view: ``instant_options``, sinks dropped),
restricted to the context tokens j on lines [0, before_line) and summed,

    S_j = sum_t a_{t-1, j},    share_j = S_j / sum_k S_k,    score(j) = share_j * total

so the token scores add up to ``total`` exactly; a line scores the sum of its tokens, an
identifier the sum of the tokens that touch its occurrences.

**removals** (``explain``): the model run on m random ablations of the context, and a sparse
linear surrogate fitted on them (ContextCite, Cohen-Wang et al. 2024; ``surrogate.py``): the
surrogate's weights are the line scores. Both methods' faithfulness is measured on the same
ablations by the linear datamodeling score (LDS).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from atten_scope.common import cancellation
from atten_scope.common.errors import InvalidRequest
from atten_scope.common.progress import ReportProgress, ignore_progress
from atten_scope.engine.analysis import Analysis
from atten_scope.engine.model import LoadedModel
from atten_scope.limits import ABLATIONS
from atten_scope.registry import AGGREGATES, REFINEMENTS
from atten_scope.views.ablation import Ablations, ContextLines, no_context_logprob, sequence_logprob, start_ids
from atten_scope.views.attention import combined_rows, drop_sinks
from atten_scope.views.evidence import default_options
from atten_scope.views.learned import learned_heads
from atten_scope.views.options import ViewOptions
from atten_scope.views.surrogate import lasso, lds, out_of_fold, predict, random_masks
from atten_scope.views.units import Symbol, document_units, line_blocks, line_label, symbol_label

DEFAULT_ABLATIONS = ABLATIONS.default
MAX_UNITS = 200  # definitions and blocks listed, by |score|
MAX_IDENTIFIERS = 20  # identifiers listed, by |score|
IMPORT = re.compile(r"\s*(import\s|from\s+\S+\s+import\s|#\s*include\b|using\s|use\s|require\b)")


@dataclass(frozen=True)
class UnitScore:
    """A code unit's score: ``kind`` "definition" | "import" | "block" | "identifier", its lines
    [first, last] (0-based, within the scored context) and the estimated drop in nats."""

    kind: str
    name: str
    first: int
    last: int
    score: float


@dataclass(frozen=True, eq=False)
class Attribution:
    """Scores of a completion's context (module doc): ``line_scores[i]`` for each line i < before_line.

    ``lds`` is the linear datamodeling score measured for these scores (None: not measured) and
    ``lds_source`` where: "this completion" or "benchmark".
    """

    method: str  # "attention" | "removals"
    label: str
    total: float
    line_scores: np.ndarray  # (before_line,) float64 nats
    units: tuple[UnitScore, ...]
    lds: float | None = None
    lds_source: str | None = None

    def with_lds(self, lds: float | None, source: str) -> Attribution:
        return replace(self, lds=lds, lds_source=source if lds is not None else None)


def instant_options(model_id: str) -> ViewOptions:
    """The view the instant attribution reads: rows, sinks dropped, all layers and heads, of the
    model's learned head weights where they measured better on completions (``views/learned.py``),
    else of its default view."""
    options = replace(default_options(model_id), direction="attendsTo", drop_sink=True, layers=None, heads=None)
    learned = learned_heads(model_id)
    if learned is not None and learned.instant:
        return replace(options, refinement=learned.refinement, aggregate="learned")
    return options


def benchmark_lds(model_id: str, options: ViewOptions) -> float | None:
    """The mean LDS the completion benchmark measured for the instant attribution with ``options``
    (None: not measured)."""
    learned = learned_heads(model_id)
    if learned is None or not options.aggregate_spec.learned:
        return None
    return learned.completion_lds


def attention_label(options: ViewOptions) -> str:
    aggregate = AGGREGATES[options.aggregate].label
    # Only the first letter is lowered: the label may name its source ("AT2, Cohen-Wang et al. 2025").
    return (
        f"{REFINEMENTS[options.refinement].label}, {aggregate[:1].lower()}{aggregate[1:]}: "
        "attention summed over the completion's tokens, scaled to the whole context's effect"
    )


def completion_shares(
    analysis: Analysis, rows: range, context_tokens: int, before_line: int, options: ViewOptions
) -> np.ndarray:
    """share_j (context_tokens,) of the context tokens j on lines [0, before_line), from the
    attention ``rows`` of ``analysis`` (module doc); zeros elsewhere. Rows are read in runs owned by
    one window (one ``combined_rows`` call each)."""
    summed = np.zeros(context_tokens, dtype=np.float64)
    token = rows.start
    while token < rows.stop:
        cancellation.check()
        owner = int(analysis.owners[token])
        win = analysis.windows[owner]
        stop = token
        while stop < rows.stop and int(analysis.owners[stop]) == owner:
            stop += 1
        block = combined_rows(analysis, win, options, token - win.start, stop - token).double().numpy()
        block = drop_sinks(block, [s - win.start for s in analysis.sinks(win)])
        width = min(block.shape[1], context_tokens - win.start)
        summed[win.start : win.start + width] += block[:, :width].sum(axis=0)
        token = stop
    summed[analysis.token_lines[:context_tokens] >= before_line] = 0.0
    mass = summed.sum()
    return summed / mass if mass > 0 else summed


def completion_total(analysis: Analysis, start: int, end: int) -> float:
    """total = log p(y | context) - log p(y | start token) in nats (module doc) of the tokens
    [start, end) of ``analysis``: the first term from the analysis' own predictions (or one pass
    when it kept none), the second from one short pass."""
    ids = analysis.document.ids
    with_context = sum(analysis.next_logprob(t - 1) for t in range(start, end))
    if not math.isfinite(with_context):
        with_context = sequence_logprob(analysis.model, ids[:start], ids[start:end])
    return with_context - no_context_logprob(analysis.model, ids[start:end])


def instant_attribution(
    analysis: Analysis, start: int, end: int, before_line: int, symbols: Sequence[Symbol] | None
) -> Attribution:
    """The attention attribution (module doc) of the completion tokens [start, end) of ``analysis``
    (which covers context + completion) to the lines [0, before_line) (0-based) before it and their
    units (``symbols``: the editor's definitions or the parser's; blocks of lines where there are none)."""
    if not 0 < start < end <= analysis.token_count:
        raise ValueError(
            f"the completion must be analysed tokens [start, end) after some context, not [{start}, {end})"
        )
    total = completion_total(analysis, start, end)
    return attention_attribution(analysis, range(start - 1, end - 1), start, before_line, symbols, total)


def attention_attribution(
    analysis: Analysis,
    rows: range,
    context_tokens: int,
    before_line: int,
    symbols: Sequence[Symbol] | None,
    total: float,
) -> Attribution:
    """The attention attribution of a completion predicted by ``rows`` of ``analysis`` to its
    first ``context_tokens`` tokens on lines [0, before_line), scaled to ``total`` nats. A line the
    context ends on is not all context: lines from the one token ``context_tokens`` starts on are
    not scored."""
    if context_tokens < analysis.token_count:
        before_line = min(before_line, int(analysis.token_lines[context_tokens]))
    before_line = max(0, min(before_line, analysis.lines.line_count))
    options = instant_options(analysis.info.id)
    token_scores = completion_shares(analysis, rows, context_tokens, before_line, options) * total
    line_scores = analysis.line_weights(token_scores)[:before_line]
    if len(line_scores) < before_line:
        line_scores = np.pad(line_scores, (0, before_line - len(line_scores)))
    units = line_units(analysis, line_scores, symbols) + identifier_units(analysis, token_scores, before_line)
    found = Attribution("attention", attention_label(options), total, line_scores, units)
    return found.with_lds(benchmark_lds(analysis.info.id, options), "benchmark")


def line_units(analysis: Analysis, line_scores: np.ndarray, symbols: Sequence[Symbol] | None) -> tuple[UnitScore, ...]:
    """The definitions (the editor's ``symbols``) and the blocks of lines outside them (runs of
    non-blank lines; "import" where the block opens with an import) that start before
    ``len(line_scores)``, each scoring the sum of its lines there; the MAX_UNITS largest by |score|."""
    lines = analysis.lines
    scored = len(line_scores)
    cumulative = np.concatenate([[0.0], np.cumsum(line_scores)])

    def unit(kind: str, name: str, first: int, last: int) -> UnitScore:
        last = min(last, scored - 1)
        return UnitScore(kind, name, first, last, float(cumulative[last + 1] - cumulative[first]))

    units = []
    covered = np.zeros(scored, dtype=bool)
    for symbol in symbols or ():
        first, last = symbol.start[0], symbol.end[0]
        if first < scored and last >= first:
            units.append(unit("definition", symbol_label(lines, symbol), first, last))
            covered[first : min(last, scored - 1) + 1] = True
    blocks = line_blocks(lines)
    for first, last in zip(blocks.first, blocks.last, strict=True):
        if first >= scored or covered[first]:
            continue
        label = line_label(lines, first)
        units.append(unit("import" if IMPORT.match(label) else "block", label, first, last))
    units.sort(key=lambda u: -abs(u.score))
    return tuple(units[:MAX_UNITS])


def identifier_units(analysis: Analysis, token_scores: np.ndarray, before_line: int) -> tuple[UnitScore, ...]:
    """Every name's score: the sum of the scores of the context tokens that touch its occurrences
    (``units.identifier_index``); lines: its first and last occurrence in the context. The
    MAX_IDENTIFIERS largest by |score|."""
    count = len(token_scores)
    index = document_units(analysis.document, analysis.lines).identifiers
    chosen = (index.pair_token < count) & (analysis.token_lines[np.minimum(index.pair_token, count - 1)] < before_line)
    tokens, names = index.pair_token[chosen], index.pair_name[chosen]
    per_name = np.bincount(names, weights=token_scores[tokens], minlength=len(index.names))
    lines = analysis.token_lines[tokens]
    first = np.full(len(index.names), np.iinfo(np.int64).max)
    last = np.full(len(index.names), -1)
    np.minimum.at(first, names, lines)
    np.maximum.at(last, names, lines)
    order = [int(n) for n in np.argsort(-np.abs(per_name), kind="stable") if last[n] >= 0][:MAX_IDENTIFIERS]
    return tuple(
        UnitScore("identifier", index.names[n], int(first[n]), int(last[n]), float(per_name[n])) for n in order
    )


@dataclass(frozen=True, eq=False)
class Explanation:
    """A completion explained by removals (``explain``), with the instant attribution measured on
    the same ablations: ``masks`` (m, lines) the keep-masks, ``actual`` (m,) f(z_k) in nats."""

    attribution: Attribution  # method "removals"
    instant: Attribution  # method "attention", its LDS measured on ``masks``
    masks: np.ndarray
    actual: np.ndarray
    seconds: float
    forward_tokens: int


def removal_label(ablations: int) -> str:
    return (
        f"a sparse linear model (Lasso) of the completion's log-probability fitted on {ablations} "
        "random ablations of the context's lines, each kept with probability 1/2"
    )


def explain(
    loaded: LoadedModel,
    analysis: Analysis,
    context: str,
    completion_ids: Sequence[int],
    rows: range,
    symbols: Sequence[Symbol] | None,
    ablations: int = DEFAULT_ABLATIONS,
    seed: int = 0,
    progress: ReportProgress = ignore_progress,
) -> Explanation:
    """Explain ``completion_ids`` after the text ``context`` by removals of its complete lines
    (module doc): ``ablations`` random keep-masks (``seed``), their teacher-forced log-probabilities
    and the Lasso surrogate fitted on them, whose out-of-fold LDS is reported; and the attention
    attribution from ``rows`` of ``analysis`` (which begins with ``context``'s tokens), with its LDS
    on the same masks. Stops with ``Cancelled`` between batches of ablations."""
    began = time.perf_counter()
    lines = ContextLines.of(context)
    if lines.count == 0:
        raise InvalidRequest("There is no complete line before the cursor to remove: nothing explains this completion.")
    runner = Ablations(loaded.model, loaded.tokenizer, lines, completion_ids)
    masks = random_masks(ablations, lines.count, seed)
    every = np.ones((1, lines.count), dtype=bool)
    measured = runner.logprobs(np.vstack([every, masks]), progress)
    full, actual = float(measured[0]), measured[1:]
    total = full - no_context_logprob(loaded.model, completion_ids)
    forward_tokens = runner.forward_tokens + len(start_ids(loaded.model)) + len(completion_ids)
    weights, _ = lasso(masks, actual)
    removals = Attribution(
        "removals",
        removal_label(ablations),
        total,
        weights,
        line_units(analysis, weights, symbols),
        lds(out_of_fold(masks, actual, lasso), actual),
        "this completion",
    )
    context_tokens = len(runner.full_ids)
    instant = attention_attribution(analysis, rows, context_tokens, lines.count, symbols, total)
    scores = np.zeros(lines.count)
    scores[: len(instant.line_scores)] = instant.line_scores[: lines.count]
    instant = instant.with_lds(lds(predict(masks, scores), actual), "this completion")
    return Explanation(removals, instant, masks, actual, time.perf_counter() - began, forward_tokens)


def explain_completion(
    loaded: LoadedModel,
    analysis: Analysis,
    context: str,
    start: int,
    symbols: Sequence[Symbol] | None,
    ablations: int = DEFAULT_ABLATIONS,
    seed: int = 0,
    progress: ReportProgress = ignore_progress,
) -> Explanation:
    """``explain`` a completion analysed with its context: tokens [start, token_count) of
    ``analysis``, after the text ``context`` (tokens [0, start))."""
    completion = analysis.document.ids[start : analysis.token_count]
    rows = range(start - 1, analysis.token_count - 1)
    return explain(loaded, analysis, context, completion, rows, symbols, ablations, seed, progress)


def explain_prediction(
    loaded: LoadedModel,
    analysis: Analysis,
    token: int,
    symbols: Sequence[Symbol] | None,
    ablations: int = DEFAULT_ABLATIONS,
    seed: int = 0,
    progress: ReportProgress = ignore_progress,
) -> tuple[int, Explanation]:
    """(the predicted id, its ``explain``): the model's first choice after ``token`` of ``analysis``,
    explained by the text up to the end of that token: "which code does this prediction need?"."""
    analysis.check_token(token)
    predicted = analysis.prediction(token)
    if predicted is None or not predicted.top:
        raise InvalidRequest("The model's prediction at the cursor is not available: analyse the document again.")
    chosen = predicted.top[0][0]
    context = analysis.document.text[: analysis.document.ends[token]]
    return chosen, explain(
        loaded, analysis, context, [chosen], range(token, token + 1), symbols, ablations, seed, progress
    )


def explain_generation(
    loaded: LoadedModel,
    generation: Any,
    symbols: Sequence[Symbol] | None,
    ablations: int = DEFAULT_ABLATIONS,
    seed: int = 0,
    progress: ReportProgress = ignore_progress,
) -> Explanation:
    """``explain_completion`` of a ``generation.Generation`` (its ``analysis``, ``context``, ``start``)."""
    return explain_completion(
        loaded, generation.analysis, generation.context, generation.start, symbols, ablations, seed, progress
    )
