"""Scoring one snippet for the faithfulness benchmark: every method's weights against the ablations.

For the last token and the interior query positions of a snippet, each method's weights over the
sources are compared with the ablation effects by Spearman rho, at the token and the line level and
for both baselines (the definitions are in ``faithfulness.py``'s docstring).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from faith_ablation import query_effects, sdpa
from faith_bootstrap import mean_or_nan
from faith_corpus import Snippet
from faith_lds import UNITS as LDS_UNITS
from faith_lds import compact, lds, lds_effects
from faith_names import (
    ALL_SITUATIONS,
    ALTI,
    BASELINES,
    GRADIENT,
    LATE_ROLLOUT,
    LDS,
    MIN_CONTEXT,
    MIN_LINES,
    aggregates,
    method_names,
    with_residual,
)
from report import ensure_engine_importable

ensure_engine_importable()

import residual  # noqa: E402
from atten_scope.engine.analysis import run_analysis  # noqa: E402
from atten_scope.engine.model import LoadedModel  # noqa: E402
from atten_scope.registry import REFINEMENTS  # noqa: E402
from atten_scope.views.attention import attention_vector, drop_sinks  # noqa: E402
from atten_scope.views.flow import alti_rollout  # noqa: E402
from atten_scope.views.options import ViewOptions  # noqa: E402


def gradient_x_input(loaded: LoadedModel, ids: list[int], target: int) -> np.ndarray:
    """g_j = || grad_{E_j} log p(y) * E_j ||_2 for every token j (input embeddings E)."""
    model = loaded.model
    tokens = torch.tensor([ids], dtype=torch.long, device=loaded.device)
    embeddings = model.get_input_embeddings()(tokens).detach().requires_grad_(True)
    with sdpa(loaded):
        logits = model(inputs_embeds=embeddings, logits_to_keep=1, use_cache=False).logits[0, -1]
    torch.log_softmax(logits.float(), dim=-1)[target].backward()
    assert embeddings.grad is not None
    return (embeddings.grad[0] * embeddings[0]).norm(dim=-1).detach().double().cpu().numpy()


def method_weights(loaded: LoadedModel, analysis: Any, query: int, target: int) -> dict[str, np.ndarray]:
    """Every method's weights over tokens 0..query for the query token (the query itself included).

    The engine's views read row ``query`` of the whole snippet's analysis (exact for a causal model);
    the residual-aware methods and gradient x input run on the prefix x_<=query.
    """
    weights: dict[str, np.ndarray] = {}
    for refinement in REFINEMENTS:
        for aggregate in aggregates(loaded.info.id):
            options = ViewOptions(refinement=refinement, aggregate=aggregate, drop_sink=False)
            weights[f"{refinement} / {aggregate}"] = attention_vector(analysis, query, options)[: query + 1]
    layers = analysis.info.layers
    for refinement in ("raw", "norm"):
        options = ViewOptions(
            refinement=refinement, aggregate="rollout", drop_sink=False, layers=tuple(range(layers // 2, layers))
        )
        weights[f"{refinement} / {LATE_ROLLOUT}"] = attention_vector(analysis, query, options)[: query + 1]
    # the engine's ALTI rollout (flow.py) runs the model over the prefix itself
    weights[ALTI] = alti_rollout(analysis, query)[0][: query + 1]
    ids = analysis.document.ids[: query + 1]
    if with_residual(loaded.info.id):
        for name, row in residual.attributions(loaded, ids, query).items():
            weights[name] = row.double().cpu().numpy()
    weights[GRADIENT] = gradient_x_input(loaded, ids, target)
    return weights


def rho(weights: np.ndarray, effects: np.ndarray) -> float:
    """Spearman correlation; NaN when either side is constant."""
    if np.ptp(weights) == 0 or np.ptp(effects) == 0:
        return float("nan")
    return float(spearmanr(weights, effects).statistic)


def interior_queries(analysis: Any, count: int) -> list[int]:
    """``count`` query tokens evenly spaced over the candidates: not whitespace-only, not the last,
    at least MIN_CONTEXT tokens before them (fewer where the snippet has fewer candidates)."""
    document = analysis.document
    last = analysis.token_count - 1
    candidates = [i for i in range(MIN_CONTEXT, last) if document.token_text(i).strip()]
    if count <= 0 or not candidates:
        return []
    picks = {candidates[int((k + 1) * len(candidates) / (count + 1))] for k in range(count)}
    return sorted(picks)


def line_units(analysis: Any, query: int, sinks: list[int]) -> list[list[int]]:
    """The sources of ``query`` grouped by line (the query's own line with its tokens before it); sinks left out."""
    by_line: dict[int, list[int]] = defaultdict(list)
    skip = set(sinks)
    for j in range(query):
        if j not in skip:
            by_line[int(analysis.token_lines[j])].append(j)
    return [by_line[line] for line in sorted(by_line)]


def situation_scores(
    row: np.ndarray,
    sinks: list[int],
    units: list[list[int]],
    effects: dict[str, Any],
    removals: dict[str, Any] | None = None,
    column: int = 0,
) -> dict:
    """rho of one method's weights over one query's sources, per unit and baseline (dropSink on), and
    with ``removals`` (``faith_lds.lds_effects``; ``column``: this query's) the LDS per unit."""
    on = drop_sinks(row[:-1], sinks)
    unit_weights = np.array([on[unit].sum() for unit in units])
    out = {}
    for baseline in BASELINES:
        tokens = np.abs(np.array(effects[baseline]["token"], dtype=np.float64))
        out[f"token/{baseline}"] = rho(on[1:], tokens[1:])
        lines = np.abs(np.array(effects[baseline]["line"], dtype=np.float64))
        out[f"line/{baseline}"] = rho(unit_weights, lines) if len(units) >= MIN_LINES else float("nan")
    if removals is not None:
        query = len(row) - 1
        for unit in LDS_UNITS:
            found = removals[unit]
            out[f"{unit}/{LDS}"] = lds(on, found["removed"], found["drops"][column], query, rho)
    return out


def score_snippet(
    loaded: LoadedModel,
    snippet: Snippet,
    neutral: int,
    batch: int,
    cached: dict[str, Any] | None = None,
    interior: int = 4,
) -> dict[str, Any]:
    """Per-method Spearman rho of one snippet for each source set and effect sign (last token), and
    for each situation (position / unit / baseline, see the module docstring).

    ``cached``: an earlier record of the same snippet; its ablation effects (the costly part) are
    reused when the token ids and query positions match, so adding a method does not redo them.
    """
    began = time.perf_counter()
    analysis = run_analysis(loaded, snippet.text)
    ids = analysis.document.ids
    last = len(ids) - 1
    sinks = analysis.sinks(analysis.windows[0])
    queries = [last, *interior_queries(analysis, interior)]
    units = {query: line_units(analysis, query, sinks) for query in queries}
    reuse = cached is not None and cached.get("ids") == ids
    previous = {q["index"]: q for q in (cached or {}).get("queries", [])} if reuse else {}
    if all(query in previous and all(b in previous[query] for b in BASELINES) for query in queries):
        records = [previous[query] for query in queries]
    else:
        records = query_effects(loaded, ids, queries, units, neutral, batch)
    # A record written before positions and lines were measured: its last-token table (ablations and
    # scores) is kept as it was, where this run finds the same next token, so re-running with
    # --resume adds the other situations without re-measuring a table that the default view follows.
    kept = (
        reuse
        and cached is not None
        and "queries" not in cached
        and set(cached.get("scores", {})) == set(method_names(loaded.info.id))
        and int(cached.get("target_id", -1)) == int(records[0]["target_id"])
    )
    if kept and cached is not None:
        records[0]["space"]["token"] = list(cached["effects"])
    removals = (cached or {}).get("lds") if reuse else None
    if removals is None or removals.get("masks") is None or len(removals["token"]["drops"]) != len(queries):
        removals = lds_effects(loaded, snippet.name, ids, records, sinks, analysis.token_lines.tolist(), neutral, batch)
    else:
        removals = compact(removals, max(queries) + 1)  # a record written with masks as lists
    ablated = time.perf_counter()
    target = int(records[0]["target_id"])
    effects = np.array(records[0]["space"]["token"], dtype=np.float64)
    scores: dict[str, dict[str, float]] = {}
    per_query: list[dict[str, dict[str, float]]] = []
    for record in records:
        query = int(record["index"])
        weights = method_weights(loaded, analysis, query, int(record["target_id"]))
        column = len(per_query)
        per_query.append(
            {
                name: situation_scores(row, sinks, units[query], record, removals, column)
                for name, row in weights.items()
            }
        )
        if query == last:
            for name, row in weights.items():
                row = row[:query]  # sources j < i
                on = drop_sinks(row, sinks)[1:]  # the engine's dropSink view, token 0 excluded
                scores[name] = {
                    "on": rho(on, np.abs(effects[1:])),
                    "off": rho(row, np.abs(effects)),
                    "signed": rho(on, effects[1:]),
                }
    print(f"  ablation {ablated - began:.1f} s, views {time.perf_counter() - ablated:.1f} s", file=sys.stderr)
    situations: dict[str, dict[str, float]] = {}
    for key in ALL_SITUATIONS:
        position, rest = key.split("/", 1)
        picked = per_query[:1] if position == "last" else per_query[1:]
        situations[key] = {name: mean_or_nan([q[name][rest] for q in picked]) for name in scores}
    if kept and cached is not None:
        scores = cached["scores"]
        situations["last/token/space"] = {name: value["on"] for name, value in scores.items()}
    return {
        "name": snippet.name,
        "tokens": len(ids),
        "target": loaded.tokenizer.decode([target]),
        "target_id": target,
        "ids": ids,
        "effects": [round(float(e), 6) for e in effects],
        "scores": scores,
        "queries": records,
        "lds": removals,
        "situations": situations,
        **({"kept": True} if kept else {}),
    }
