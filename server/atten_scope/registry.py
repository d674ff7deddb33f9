"""What Atten-Scope offers, as data: refinements, aggregates, directions, views and limits.

This module is the one place that names them. Everything that validates, dispatches or lists a
method takes it from here: option parsing in the CLI and the language server, the engine's fast
paths (``Refinement.columns``, ``Aggregate.linear``), the HTML report, and the extension's pickers
(the server sends ``capabilities_json()`` in its ``initialize`` result). It imports no torch, so
the CLI can build its parser and the server can validate settings before a model is loaded.

Adding a refinement: write its row function in ``refine.py`` (``@rows_of("name")``) and add one
entry below. A view: its builder in ``protocol/builders/`` (``@builds("name", ItsParams)``) and
one entry; the language server answers its method through one handler (``lsp/requests.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from atten_scope.common.errors import InvalidRequest
from atten_scope.common.quoting import quoted
from atten_scope.limits import (
    ALTERNATIVES,
    ALTI_TOKENS,
    ANALYSIS_CACHE_MB,
    CACHE_DOCUMENTS,
    CONTEXT_CHARACTERS,
    CONTEXT_FILES,
    FLOW_NODES,
    FLOW_THRESHOLD,
    HEATMAP_BINS,
    HEATMAP_TOKENS,
    MAX_NEW_TOKENS,
    MAX_TOKENS,
    MEMORY_BUDGET_MB,
    PYTHON,
    TOP_K,
)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Refinement:
    """How a raw attention row is turned into a more faithful one (see ``refine.py`` for the math)."""

    name: str
    label: str
    description: str
    # Linear in the rows: the entry a_ij for a fixed source j is read from q, k, the row's
    # log-sum-exp (and cached per-row totals) without rebuilding rows, so columns are cheap.
    columns: bool
    cost: str
    needs_gradients: bool = False
    # The work of a refined row with s sources is about (row_cost * s + row_setup) raw entries,
    # per layer and head; budgets that choose how many rows to read (the heatmap overview) use it.
    # Effective attention multiplies two more (rows x sources x d) products and, per row, builds a
    # d x d Gram sum and solves it: about 3 s + 1500 (measured on the embedded model).
    row_cost: float = 1.0
    row_setup: float = 0.0


@dataclass(frozen=True)
class Aggregate:
    """How refined rows of the selected layers and heads become one row (see ``aggregate.py``)."""

    name: str
    label: str
    description: str
    # A fixed linear combination of the layer/head rows: combining columns equals the column of
    # the combined rows, so with a ``columns`` refinement attendedBy reads no row.
    linear: bool
    # Accumulates through the layers (rollout): computed by streaming row blocks layer by layer,
    # never with layers x n x n matrices.
    streamed: bool
    # Shows exactly one layer and one head.
    one_head: bool
    cost: str
    # Weighs each layer and head by the model's fitted coefficients (``views/learned.py``).
    learned: bool = False
    # An entry-wise reduction over layers and heads renormalised per row, combined_ij = g(rows_ij) /
    # T_i: with a ``columns`` refinement, attendedBy reads g of the refined columns over the row
    # totals T, built once per analysis (in idle time), instead of rebuilding rows.
    entrywise: bool = False


@dataclass(frozen=True)
class Direction:
    name: str
    label: str
    description: str


@dataclass(frozen=True)
class View:
    """A request the language server answers from an analysis (``protocol/builders/`` builds its JSON).

    The fields below tell the one request handler how to run it: on which thread, whether it
    waits for the model, whether it reports progress and gives memory back afterwards.
    """

    name: str
    method: str
    label: str
    description: str
    options: tuple[str, ...]  # the request fields it honours, besides textDocument
    cost: str
    # Runs on the heavy-views thread, which pauses while a cursor request (a light view) runs.
    heavy: bool = False
    # Answers for a token before the first edit while a newer analysis is pending: those tokens'
    # state is still exact. Views over ranges (the heatmap) wait for the new analysis instead.
    after_edit: bool = False
    # Runs the model (a forward pass, or generation): the handler waits for the model to load and
    # refuses an analysis made by another model; the builder gets the loaded model.
    runs_model: bool = False
    # Analyses another text (the document edited), a hypothetical analysis: runs on the model
    # thread, as an analysis does, so the two never race for memory; the memory is given back after.
    hypothetical: bool = False
    # The title of the work-done progress it reports for a client's workDoneToken (None: none).
    progress: str | None = None

    @property
    def thread(self) -> str:
        """Where the handler runs it: ``model`` (with analyses), ``heavy`` or ``light`` (the views threads)."""
        return "model" if self.hypothetical else "heavy" if self.heavy else "light"


# The tables below are data: their entries are alike in shape by design.
REFINEMENTS: dict[str, Refinement] = {
    r.name: r
    for r in (
        Refinement(
            "raw",
            "Raw attention",
            "The softmax weights as the model computed them.",
            columns=True,
            cost="one q·k row per layer and head",
        ),
        Refinement(
            "norm",
            "Value-norm weighted (Kobayashi et al. 2020)",
            "Each weight times the norm of what that source writes into the output, renormalised.",
            columns=True,
            cost="as raw; the first column request of a layer builds its row totals once",
        ),
        Refinement(
            "effective",
            "Effective attention (Brunner et al. 2020)",
            "The part of each row that changes the head's output: its projection onto the value span.",
            columns=False,
            cost="a d x d solve per row, layer and KV head; columns rebuild every later row",
            row_cost=3.0,
            row_setup=1500.0,
        ),
        Refinement(
            "effective+norm",
            "Effective, value-norm weighted",
            "Effective attention weighted by the value norms.",
            columns=False,
            cost="as effective",
            row_cost=3.0,
            row_setup=1500.0,
        ),
    )
}

AGGREGATES: dict[str, Aggregate] = {
    a.name: a
    for a in (
        Aggregate(
            "headMean",
            "Mean of heads and layers",
            "The mean over the selected heads and layers.",
            linear=True,
            streamed=False,
            one_head=False,
            cost="one pass over the selected layers",
        ),
        Aggregate(
            "headMax",
            "Strongest head per layer",
            "The strongest head per layer, averaged over layers and renormalised.",
            linear=False,
            streamed=False,
            one_head=False,
            cost="one pass over the selected layers; columns read row totals built once per analysis",
            entrywise=True,
        ),
        Aggregate(
            "lastLayers",
            "Mean of the last half of the layers",
            "The head mean over the last half of the selected layers, which track the output best.",
            linear=True,
            streamed=False,
            one_head=False,
            cost="half the layers of headMean",
        ),
        Aggregate(
            "rollout",
            "Attention rollout (Abnar & Zuidema 2020)",
            "Attention accumulated through the layers, with the residual as half of each step.",
            linear=False,
            streamed=True,
            one_head=False,
            cost="every row before the token in every layer",
        ),
        Aggregate(
            "learned",
            "Learned head weights (AT2, Cohen-Wang et al. 2025)",
            "Each layer and head weighted by a coefficient fitted to the effects of removing code "
            "(for the models that ship them).",
            linear=True,
            streamed=False,
            one_head=False,
            cost="one pass over the layers with a weight",
            learned=True,
        ),
        Aggregate(
            "perHead",
            "One head",
            "One layer and one head on its own.",
            linear=True,
            streamed=False,
            one_head=True,
            cost="one layer and head",
        ),
    )
}

DIRECTIONS: dict[str, Direction] = {
    d.name: d
    for d in (
        Direction("attendsTo", "Attends to", "What the token at the cursor draws on (its row)."),
        Direction("attendedBy", "Attended by", "Which later tokens draw on the token at the cursor (its column)."),
    )
}

_VIEW_OPTIONS = ("direction", "refinement", "aggregate", "layers", "heads", "dropSink", "topK")

_HEATMAP_OPTIONS = ("layer", "head", "refinement", "aggregate", "dropSink", "rows", "columns")

VIEWS: dict[str, View] = {
    v.name: v
    for v in (
        View(
            "attention",
            "attenScope/attention",
            "Attention at the cursor",
            "The sources of one token (or the tokens that draw on it), with per-line sums.",
            options=("position", *_VIEW_OPTIONS, "prediction"),
            cost="one row or column (and one or two rows of the LM head unless prediction is false)",
            after_edit=True,
        ),
        View(
            "heatmap",
            "attenScope/heatmap",
            "Heatmap",
            "The token x token matrix of a range, max-pooled to at most `bins` cells a side.",
            options=(*_HEATMAP_OPTIONS, "bins"),
            cost="up to a budget of rows (the rest of each bin's rows are skipped), each over its sources",
            heavy=True,
        ),
        View(
            "heatmapTile",
            "attenScope/heatmapTile",
            "Heatmap tile",
            "Exact token x token weights of a zoomed-in range, one cell per token pair.",
            options=_HEATMAP_OPTIONS,
            cost="one row per token of the rows asked for",
            heavy=True,
        ),
        View(
            "surprise",
            "attenScope/surprise",
            "Surprise",
            "How much each token surprised the model given the text before it (-log2 p, in bits).",
            options=("rows",),
            cost="the LM head over every token once per analysis (begun while the editor is idle), then read",
            heavy=True,
        ),
        View(
            "heads",
            "attenScope/heads",
            "Model view",
            "Every layer and head on its own: the entropy of its row (or column) and its top token.",
            options=("position", "refinement", "direction", "dropSink"),
            cost="one row or column per layer and head",
            after_edit=True,
        ),
        View(
            "neuron",
            "attenScope/neuron",
            "Neuron view",
            "How one head's query and key vectors produce one attention weight: their products per "
            "dimension (rotary pairs labelled), the scaled sum and the weight.",
            options=("position", "layer", "head", "source", "dropSink"),
            cost="one query-key pair (and one row when the source is not given)",
            after_edit=True,
        ),
        View(
            "flow",
            "attenScope/flow",
            "Information flow",
            "The routes by which one prediction was built (Ferrando & Voita 2024): residual-stream "
            "states per token and layer, joined by the attention (per source token, top heads named), "
            "residual and MLP contributions whose importance passes a threshold, found from the output down.",
            options=("position", "threshold", "maxNodes"),
            cost="a forward pass over the window up to the token, then one contribution row per node "
            "(heads x sources x hidden)",
            heavy=True,
            runs_model=True,
        ),
        View(
            "altiRollout",
            "attenScope/altiRollout",
            "ALTI rollout",
            "Accumulative attention (ALTI, Ferrando et al. 2022): each layer's token-to-token "
            "contributions measured on the residual stream, residual included, multiplied through the layers.",
            options=("position", "dropSink", "topK"),
            cost="a forward pass over the window up to the token, then every row before it in every "
            "layer: O(layers x n^2 x hidden); at most altiTokens tokens of context",
            heavy=True,
            runs_model=True,
            progress="Atten-Scope: accumulative attention (ALTI rollout)",
        ),
        View(
            "logitLens",
            "attenScope/logitLens",
            "Logit lens",
            "What each layer would predict after the token (nostalgebraist 2020): the residual stream after "
            "it read through the final norm and the LM head, and the first layer from which the first choice "
            "stays the model's own.",
            options=("position", "topK"),
            cost="one token's forward pass over the window's cached keys and values, then the LM head once per layer",
            after_edit=True,
            runs_model=True,
        ),
        View(
            "contrast",
            "attenScope/contrast",
            "Why this and not that",
            "The logit difference between the model's first choice after the token and an alternative, split "
            "into each source token's direct contribution through the attention heads, the MLPs, the token's "
            "own embedding and a remainder (the readout's soft-cap), which add up to it exactly.",
            options=("position", "alternative", "topK"),
            cost="a forward pass over the window up to the token, then per layer one product over its sources "
            "(heads x sources x head size)",
            heavy=True,
            runs_model=True,
        ),
        View(
            "removeLines",
            "attenScope/removeLines",
            "Without these lines",
            "What the model predicts at a token after some lines when they are removed, and (heat) how "
            "the surprisal of every later token changes: the model run again on the edited text.",
            options=("lines", "range", "position", "heat"),
            cost="a forward pass over the tokens from the removed lines to the end (the state before them "
            "is reused), then the LM head over the later tokens with heat",
            runs_model=True,
            hypothetical=True,
            progress="Atten-Scope: without those lines",
        ),
        View(
            "complete",
            "attenScope/complete",
            "Complete here",
            "The model continues the code at the cursor (greedy, or sampled with a seed), each token with its "
            "probability, entropy and alternatives; the completion is kept as an analysis that the per-token "
            "views answer for under its completionUri.",
            options=("position", "maxNewTokens", "temperature", "seed", "alternatives", "forced", "withoutLines"),
            cost="a forward pass over the context tokens the analysis does not hold, then one small pass per "
            "generated token, capturing as an analysis does",
            runs_model=True,
            hypothetical=True,
            progress="Atten-Scope: completing",
        ),
        View(
            "explainCompletion",
            "attenScope/explainCompletion",
            "Why the model wrote this",
            "Which context lines and code units a completion (or the prediction at the cursor) needs: "
            "the model run on random ablations of the context's lines and a sparse linear model fitted "
            "on them, with the attention attribution's faithfulness (LDS) measured on the same ablations.",
            options=("completionUri", "position", "ablations", "seed", "symbols"),
            cost="one forward pass over the context, then one per ablation over the tokens from its first "
            "removed line on (batched), and a short pass without context",
            runs_model=True,
            hypothetical=True,
            progress="Atten-Scope: explaining with removals",
        ),
    )
}

# Defaults of the view options: the most faithful view measured (bench/RESULTS.md).
DEFAULT_REFINEMENT = "norm"
DEFAULT_AGGREGATE = "lastLayers"
DEFAULT_DIRECTION = "attendsTo"


class Implementations(Generic[F]):
    """The functions that implement the entries of one registry table, keyed by entry name.

    ``accepts`` says which entries need one (only refinements that declare ``columns`` have a
    column reader); ``check()``, called once the implementing module is loaded, names any missing.
    """

    def __init__(self, table: Mapping[str, Any], what: str, accepts: Callable[[Any], bool] = lambda _: True) -> None:
        self.table, self.what, self.accepts = table, what, accepts
        self.functions: dict[str, F] = {}

    def register(self, name: str) -> Callable[[F], F]:
        """A decorator that registers its function as the implementation of ``name``."""

        def register(function: F) -> F:
            if name not in self.table or not self.accepts(self.table[name]):
                raise KeyError(f"{name!r} is not a declared {self.what}")
            self.functions[name] = function
            return function

        return register

    def get(self, name: str) -> F:
        function = self.functions.get(name)
        if function is None:
            raise ValueError(f"no {self.what} {name!r}")
        return function

    def check(self) -> None:
        missing = [name for name, spec in self.table.items() if self.accepts(spec) and name not in self.functions]
        if missing:
            raise ImportError(f"declared without an implementation ({self.what}): {', '.join(missing)}")


def choice(table: dict[str, Any], name: object, what: str) -> str:
    """``name`` if ``table`` offers it, else the error sentence a user reads."""
    if not isinstance(name, str) or name not in table:
        raise InvalidRequest(f"Unknown {what} {quoted(name)}: use one of {', '.join(table)}.")
    return name


def capabilities_json(version: str) -> dict[str, Any]:
    """What this server offers, for the client's pickers (``initialize`` result, docs/PROTOCOL.md)."""
    return {
        "version": version,
        "refinements": [
            {"name": r.name, "label": r.label, "description": r.description, "columns": r.columns, "cost": r.cost}
            for r in REFINEMENTS.values()
        ],
        "aggregates": [
            {
                "name": a.name,
                "label": a.label,
                "description": a.description,
                "linear": a.linear,
                "streamed": a.streamed,
                "oneHead": a.one_head,
                "cost": a.cost,
            }
            for a in AGGREGATES.values()
        ],
        "directions": [{"name": d.name, "label": d.label, "description": d.description} for d in DIRECTIONS.values()],
        "views": [
            {
                "name": v.name,
                "method": v.method,
                "label": v.label,
                "description": v.description,
                "options": list(v.options),
                "cost": v.cost,
                "heavy": v.heavy,
                "afterEdit": v.after_edit,
            }
            for v in VIEWS.values()
        ],
        "limits": {
            "maxTokens": MAX_TOKENS.to_json(),
            "topK": TOP_K.to_json(),
            "cacheDocuments": CACHE_DOCUMENTS.to_json(),
            "memoryBudgetMB": MEMORY_BUDGET_MB.to_json(),
            "analysisCacheMB": ANALYSIS_CACHE_MB.to_json(),
            "heatmapTokens": HEATMAP_TOKENS,
            "heatmapBins": HEATMAP_BINS,
            "flowNodes": FLOW_NODES.to_json(),
            "flowThreshold": FLOW_THRESHOLD,
            "altiTokens": ALTI_TOKENS,
            "maxNewTokens": MAX_NEW_TOKENS.to_json(),
            "alternatives": ALTERNATIVES.to_json(),
            "contextCharacters": CONTEXT_CHARACTERS,
            "contextFiles": CONTEXT_FILES,
        },
        "defaults": {
            "refinement": DEFAULT_REFINEMENT,
            "aggregate": DEFAULT_AGGREGATE,
            "direction": DEFAULT_DIRECTION,
            "maxTokens": MAX_TOKENS.default,
            "topK": TOP_K.default,
            "cacheDocuments": CACHE_DOCUMENTS.default,
            "memoryBudgetMB": MEMORY_BUDGET_MB.default,
            "analysisCacheMB": ANALYSIS_CACHE_MB.default,
        },
        "python": PYTHON,
    }
