"""Faithfulness of each attention view against leave-one-out ablation (spec section 10).

For each snippet in ``bench/corpus`` (original code written for this benchmark, trailing
whitespace stripped, so the last token is mid-statement), with query token i = n - 1 and the
model's greedy next token y = argmax p(. | x_<=i):

- ablation effect of source j:  e_j = log p(y | x) - log p(y | x with x_j replaced by " ")
  (the tokenizer's single-space token is the neutral replacement; all n - 1 ablated sequences
  are run as batches);
- each method's weight w_j: the engine's row i (``Analysis.weights``) for refinements raw, norm,
  effective, effective+norm x aggregates headMean (over all layers, that is also the layer mean),
  headMax, lastLayers, rollout, and rollout over the last half of the layers; the residual-aware
  methods of ``residual.py`` (ALTI, GlobEnc, value zeroing, whole-layer norm); the engine's ALTI
  rollout view (``altiRollout``, ``flow.py``), which must agree with ``alti / rollout``; and gradient x
  input, g_j = || (d log p(y) / d E_j) * E_j ||_2 over the input embedding E_j, as a reference;
- score = Spearman rho(w_j, |e_j|) over sources j in S, averaged over snippets, with a
  percentile-bootstrap 95 % CI (resampling snippets, 1000 resamples, paired across methods).

Source sets: the query token itself (j = i) is always excluded: ablating it changes the query,
not a source, and every method gives it a weight on a different scale. dropSink on: S = 1..i-1
(the sink, token 0, is excluded for *every* method, gradient x input included, so the comparison
is fair); dropSink off: S = 0..i-1. Dropping the sink and renormalising does not change the
ranks of the other tokens, so "dropSink on" is exactly the engine's dropSink view.

Where the user looks (the situations the status bar and hover card speak for): the same score is
taken at more query positions, at two units and with two ablation baselines.

- Positions. *last*: i = n - 1, as above. *interior*: ``--interior`` (default 4) query tokens per
  snippet, evenly spaced over the tokens that are not whitespace-only, are not the last, and have
  at least 16 tokens before them. The target is again the model's greedy next token at i,
  y = argmax p(. | x_<=i) (not the file's actual next token), so last and interior are measured
  the same way. The model is causal, so the weights of row i in the analysis of the whole snippet
  are exactly those of the prefix x_<=i, and one ablated sequence (x_j replaced or removed) gives
  every query after j its ablated logits: the queries of a snippet cost one query's ablations
  (``query_ablations``). A snippet's interior score is the mean of its queries' rho, so the
  bootstrap still resamples snippets.
- Baselines. *space*: x_j replaced by the single-space token (as above). *delete*: x_j removed
  (the later tokens move up one position). Deletion is leave-one-out in the literal sense: it needs
  no neutral token, which does not exist for code (a space is itself a token the model reads,
  and a pad or unknown token is one it never saw in training), and it is the natural question at
  the line level: how much does the prediction change if this line were not there.
- Units. *token*: the score above (dropSink on). *line*: each line holding sources of i (the
  query's own line counts with its tokens before i; sink tokens are left out of every line) is
  ablated as a whole (all its source tokens replaced by the space token, or deleted), and
  rho is taken between those effects and the per-line sums of each method's dropSink-on weights,
  the numbers the editor's line view shows. Snippets with fewer than 3 such lines give no line rho.

Corpora: ``bench/corpus`` by default (the tables above); with ``--corpus-external`` also snippets of
real code from outside the repository: ``--external-files`` (default 32) Python files of the
running interpreter's standard library (``sysconfig.get_paths()["stdlib"]``, the top-level
``*.py`` files of at least 3 x ``--external-chars`` characters in name order, an evenly spaced
choice). From each, one snippet starts at the first top-level ``def``/``class`` line at or after a
third of the file and takes whole lines up to ``--external-chars`` (default 1,200) characters,
then the next non-blank line up to its last word, so it stops mid-statement. The snippets depend
only on the file text, not on the model; the file names and the Python version are recorded.
``--only-external`` scores the external corpus alone: the shipped last-token table (``bench/corpus``)
is kept as it is, and every situation of the shipped entry comes from the external corpus.

Writes ``faithfulness.md`` (and ``faithfulness.json``) into ``--out`` and regenerates RESULTS.md;
with ``--corpus-external`` also ``faithfulness-external.md`` / ``.json``. A complete run into the
default folder rewrites the model's entry of the shipped table, with a figure per situation
(position x unit, space baseline): last-token situations from ``bench/corpus``, interior ones from
the external corpus where it was measured. With ``--resume``, a snippet recorded before positions
and lines were measured keeps its last-token table (ablations and scores) where this run finds the
same next token, and only the new situations are measured; the section says how many were kept.

On a GPU (``--device cuda``, or ``auto``) the model runs in float32 with TF32 off, the ablated
sequences go through in batches of 256, and every tensor is created on the model's device.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import sysconfig
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from report import BENCH_DIR, DEFAULT_RESULTS, ensure_engine_importable, environment_line, table, write_section

ensure_engine_importable()

import residual  # noqa: E402
from atten_scope import registry  # noqa: E402
from atten_scope.engine.analysis import run_analysis, tokenize_text  # noqa: E402
from atten_scope.engine.model import LoadedModel, load_model  # noqa: E402
from atten_scope.registry import REFINEMENTS  # noqa: E402
from atten_scope.views.attention import attention_vector, drop_sinks  # noqa: E402
from atten_scope.views.flow import alti_rollout  # noqa: E402
from atten_scope.views.options import ViewOptions  # noqa: E402

MODEL = "embedded:smollm2-135m"
# Every aggregate a user can pick over all layers and heads (headMean over all layers is the layer mean).
AGGREGATES = tuple(name for name, spec in registry.AGGREGATES.items() if not spec.one_head)
LATE_ROLLOUT = "rollout of the last half"  # a rollout variant: only the later layers are multiplied
ENGINE_VIEWS = {f"{r} / {a}" for r in REFINEMENTS for a in AGGREGATES}  # what users can pick
SHIPPED_TABLE = BENCH_DIR.parent / "server" / "atten_scope" / "data" / "faithfulness.json"
GRADIENT = "gradient x input"
ALTI = "altiRollout"  # the engine's ALTI rollout view (flow.py): not a refinement / aggregate pair
REFERENCE = "raw / headMean"
ATTENTION = "atten_scope"
POSITIONS = ("last", "interior")
UNITS = ("token", "line")
BASELINES = ("space", "delete")
SITUATIONS = tuple(f"{p}/{u}/{b}" for p in POSITIONS for u in UNITS for b in BASELINES)
SHIPPED_BASELINE = "space"  # the figures the editor shows; the delete baseline is reported alongside
MIN_CONTEXT = 16  # an interior query has at least this many tokens before it
MIN_LINES = 3  # fewer line units give no line-level rho


@dataclass
class Snippet:
    name: str
    text: str


def load_corpus(folder: Path, limit: int | None = None, every: int = 1) -> list[Snippet]:
    """The corpus files in name order, trailing whitespace stripped; with ``every`` > 1 only every
    every-th (names start with the language, so a stride keeps every language of a small sample)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))[::every]
    snippets = [Snippet(p.name, p.read_text(encoding="utf-8").rstrip()) for p in files]
    return snippets[:limit] if limit else snippets


def cut_snippet(text: str, chars: int) -> str | None:
    """One snippet of a source file (see the module docstring), or None where the file is too short."""
    lines = text.splitlines()
    third = len(lines) // 3
    start = next((k for k in range(third, len(lines)) if lines[k].startswith(("def ", "class "))), third)
    taken: list[str] = []
    size = 0
    k = start
    while k < len(lines) and size < chars:
        taken.append(lines[k])
        size += len(lines[k]) + 1
        k += 1
    while k < len(lines) and not lines[k].strip():
        k += 1
    if size < chars or k >= len(lines):
        return None
    last = lines[k]
    indent = len(last) - len(last.lstrip())
    words = [m.start() for m in re.finditer(r"\w+", last) if m.start() > indent]
    taken.append(last[: words[-1]] if words else last)
    return "\n".join(taken).rstrip()


def external_corpus(count: int, chars: int, limit: int | None = None) -> tuple[list[Snippet], str]:
    """``count`` snippets of the running interpreter's standard library and a sentence naming them."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.glob("*.py") if p.is_file() and p.stat().st_size >= 3 * chars)
    snippets: list[Snippet] = []
    for index in sorted({int(k) for k in np.linspace(0, len(files) - 1, num=min(count, len(files)))}):
        text = cut_snippet(files[index].read_text(encoding="utf-8", errors="replace"), chars)
        if text is not None:
            snippets.append(Snippet(f"stdlib_{files[index].name}", text))
    snippets = snippets[:limit] if limit else snippets
    note = (
        f"{len(snippets)} snippets of the Python {platform.python_version()} standard library "
        f"({', '.join(s.name.removeprefix('stdlib_') for s in snippets)})"
    )
    return snippets, note


class sdpa:
    """Temporarily run the model with plain SDPA attention (no capture)."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.model = loaded.model

    def __enter__(self) -> None:
        self.model.set_attn_implementation("sdpa")

    def __exit__(self, *_: object) -> None:
        self.model.set_attn_implementation(ATTENTION)


def last_logprobs(loaded: LoadedModel, batch: torch.Tensor) -> torch.Tensor:
    """log p(. | sequence) at the last position for each row of ``batch``: (B, vocab), on the model's device."""
    with torch.inference_mode(), sdpa(loaded):
        logits = loaded.model(input_ids=batch.to(loaded.device), logits_to_keep=1, use_cache=False).logits[:, -1]
    return torch.log_softmax(logits.float(), dim=-1)


def prefix_cache(layers: list[tuple[torch.Tensor, torch.Tensor]], start: int, copies: int) -> Any:
    """A KV cache holding the first ``start`` tokens' keys and values, repeated ``copies`` times."""
    from transformers import DynamicCache

    cache = DynamicCache()
    for index, (key, value) in enumerate(layers):
        cache.update(
            key[:, :, :start].expand(copies, -1, -1, -1).contiguous(),
            value[:, :, :start].expand(copies, -1, -1, -1).contiguous(),
            index,
        )
    return cache


def ablation_effects_reference(loaded: LoadedModel, ids: list[int], neutral: int, delete: bool = False) -> np.ndarray:
    """The last token's effects from full forward passes, one per ablation (for checking ``query_ablations``)."""
    base = torch.tensor([ids], dtype=torch.long)
    logp = last_logprobs(loaded, base)[0]
    target = int(torch.argmax(logp))
    if delete:
        rows = [ids[:j] + ids[j + 1 :] for j in range(len(ids) - 1)]
        batch = torch.tensor(rows, dtype=torch.long)
    else:
        batch = base.repeat(len(ids) - 1, 1)
        batch[torch.arange(len(ids) - 1), torch.arange(len(ids) - 1)] = neutral
    return (logp[target] - last_logprobs(loaded, batch)[:, target]).double().cpu().numpy()


def sequence_logprobs(loaded: LoadedModel, sequences: list[list[int]], target: int, batch_size: int) -> np.ndarray:
    """log p(target | s) at the last position of each sequence, in batches of similar length.

    Shorter rows are padded on the right; the model is causal, so a row's real positions never see
    its padding, and only the logits at the rows' last real positions are computed and read.
    """
    out = np.zeros(len(sequences), dtype=np.float64)
    order = sorted(range(len(sequences)), key=lambda k: len(sequences[k]))
    device = loaded.device
    for first in range(0, len(order), batch_size):
        rows = order[first : first + batch_size]
        width = max(len(sequences[k]) for k in rows)
        pad = sequences[rows[0]][-1]  # any token: no real position attends to it
        padded = [sequences[k] + [pad] * (width - len(sequences[k])) for k in rows]
        lasts = sorted({len(sequences[k]) - 1 for k in rows})
        batch = torch.tensor(padded, dtype=torch.long, device=device)
        keep = torch.tensor(lasts, dtype=torch.long, device=device)
        with torch.inference_mode(), sdpa(loaded):
            logits = loaded.model(input_ids=batch, logits_to_keep=keep, use_cache=False).logits
        columns = torch.tensor([lasts.index(len(sequences[k]) - 1) for k in rows], device=device)
        picked = logits[torch.arange(len(rows), device=device), columns]
        out[rows] = torch.log_softmax(picked.float(), dim=-1)[:, target].double().cpu().numpy()
    return out


def unit_effects(
    loaded: LoadedModel,
    ids: list[int],
    units: list[list[int]],
    target: int,
    neutral: int,
    batch_size: int,
    delete: bool = False,
) -> np.ndarray:
    """e_u = log p(y | x) - log p(y | x with every token of unit u replaced by ``neutral``, or deleted)."""
    base = sequence_logprobs(loaded, [ids], target, 1)[0]
    sequences = []
    for unit in units:
        members = set(unit)
        if delete:
            sequences.append([t for j, t in enumerate(ids) if j not in members])
        else:
            sequences.append([neutral if j in members else t for j, t in enumerate(ids)])
    return base - sequence_logprobs(loaded, sequences, target, batch_size)


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


def with_residual(model_id: str) -> bool:
    """The residual-aware references (bench/residual.py) follow the Llama block layout of the default model."""
    return model_id == MODEL


def method_names(model_id: str = MODEL) -> list[str]:
    engine = [f"{r} / {a}" for r in REFINEMENTS for a in AGGREGATES]
    late = [f"{r} / {LATE_ROLLOUT}" for r in ("raw", "norm")]
    return engine + late + [ALTI] + (residual.method_names() if with_residual(model_id) else []) + [GRADIENT]


def method_weights(loaded: LoadedModel, analysis: Any, query: int, target: int) -> dict[str, np.ndarray]:
    """Every method's weights over tokens 0..query for the query token (the query itself included).

    The engine's views read row ``query`` of the whole snippet's analysis (exact for a causal model);
    the residual-aware methods and gradient x input run on the prefix x_<=query.
    """
    weights: dict[str, np.ndarray] = {}
    for refinement in REFINEMENTS:
        for aggregate in AGGREGATES:
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


def query_ablations(
    loaded: LoadedModel, ids: list[int], queries: list[int], neutral: int, batch_size: int, delete: bool = False
) -> tuple[list[int], list[np.ndarray]]:
    """For every query q: its greedy next token y_q = argmax p(. | x_<=q) and the token ablation effects
    e_j(q) = log p(y_q | x_<=q) - log p(y_q | x_<=q ablated at j) for j < q.

    One ablated sequence serves every query after its ablated token: a causal model's logits at q
    depend only on x_<=q, so the sequence cut after the last query, ablated at j, gives at each q > j
    the logits of the ablated prefix x_<=q (with deletion at q - 1). The queries cost one query's
    ablations. A causal model's states before j do not depend on x_j, so each batch of ablations
    j in [a, b) reuses the unablated keys and values of tokens < a and runs only tokens a.. (about
    half the work; with deletion every row is one token shorter, at positions a..), and the LM head
    is applied at the query columns only.
    """
    from transformers import DynamicCache

    end = max(queries) + 1
    device = loaded.device
    base = torch.tensor([ids[:end]], dtype=torch.long, device=device)
    cache = DynamicCache()
    columns_all = torch.tensor(queries, dtype=torch.long, device=device)
    with torch.inference_mode(), sdpa(loaded):
        out = loaded.model(input_ids=base, logits_to_keep=columns_all, use_cache=True, past_key_values=cache)
    logp = torch.log_softmax(out.logits[0].float(), dim=-1)  # (queries, vocab)
    targets = [int(t) for t in torch.argmax(logp, dim=-1)]
    layers = [(layer.keys, layer.values) for layer in cache.layers]
    effects = [np.zeros(q, dtype=np.float64) for q in queries]
    for first in range(0, end - 1, batch_size):
        rows = list(range(first, min(first + batch_size, end - 1)))
        live = [k for k, q in enumerate(queries) if q > first]  # queries some row of this batch ablates
        picked = torch.arange(len(rows), device=device)
        ablated_at = torch.tensor(rows, device=device) - first
        batch = base[:, first:].repeat(len(rows), 1)
        if delete:
            keep = torch.ones_like(batch, dtype=torch.bool)
            keep[picked, ablated_at] = False
            batch = batch[keep].view(len(rows), -1)
        else:
            batch[picked, ablated_at] = neutral
        shift = 1 if delete else 0
        kept = torch.tensor([queries[k] - first - shift for k in live], dtype=torch.long, device=device)
        kwargs: dict[str, Any] = {"logits_to_keep": kept, "use_cache": first > 0}
        if first > 0:
            kwargs["past_key_values"] = prefix_cache(layers, first, len(rows))
            positions = torch.arange(first, first + batch.shape[1], device=device)
            kwargs["position_ids"] = positions[None].expand(len(rows), -1)
        with torch.inference_mode(), sdpa(loaded):
            logits = loaded.model(input_ids=batch, **kwargs).logits  # (rows, live, vocab)
        for column, k in enumerate(live):
            query, target = queries[k], targets[k]
            sources = [r for r, j in enumerate(rows) if j < query]
            ablated = torch.log_softmax(logits[sources, column].float(), dim=-1)[:, target]
            effects[k][[rows[r] for r in sources]] = (logp[k, target] - ablated).double().cpu().numpy()
    return targets, effects


def query_effects(
    loaded: LoadedModel, ids: list[int], queries: list[int], units: dict[int, list[list[int]]], neutral: int, batch: int
) -> list[dict[str, Any]]:
    """The ablation effects of every query for every baseline and unit (the costly part, cached)."""
    records: list[dict[str, Any]] = [{"index": query} for query in queries]
    for baseline in BASELINES:
        delete = baseline == "delete"
        targets, tokens = query_ablations(loaded, ids, queries, neutral, batch, delete)
        for record, query, target, effects in zip(records, queries, targets, tokens, strict=True):
            prefix = ids[: query + 1]
            found = units[query]
            lines = unit_effects(loaded, prefix, found, target, neutral, batch, delete) if found else np.zeros(0)
            record["target_id"] = target
            record[baseline] = {
                "token": [round(float(e), 6) for e in effects],
                "line": [round(float(e), 6) for e in lines],
            }
    return records


def situation_scores(row: np.ndarray, sinks: list[int], units: list[list[int]], effects: dict[str, Any]) -> dict:
    """rho of one method's weights over one query's sources, per unit and baseline (dropSink on)."""
    on = drop_sinks(row[:-1], sinks)
    unit_weights = np.array([on[unit].sum() for unit in units])
    out = {}
    for baseline in BASELINES:
        tokens = np.abs(np.array(effects[baseline]["token"], dtype=np.float64))
        out[f"token/{baseline}"] = rho(on[1:], tokens[1:])
        lines = np.abs(np.array(effects[baseline]["line"], dtype=np.float64))
        out[f"line/{baseline}"] = rho(unit_weights, lines) if len(units) >= MIN_LINES else float("nan")
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
    ablated = time.perf_counter()
    target = int(records[0]["target_id"])
    effects = np.array(records[0]["space"]["token"], dtype=np.float64)
    scores: dict[str, dict[str, float]] = {}
    per_query: list[dict[str, dict[str, float]]] = []
    for record in records:
        query = int(record["index"])
        weights = method_weights(loaded, analysis, query, int(record["target_id"]))
        per_query.append({name: situation_scores(row, sinks, units[query], record) for name, row in weights.items()})
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
    for key in SITUATIONS:
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
        "situations": situations,
        **({"kept": True} if kept else {}),
    }


def mean_or_nan(values: list[float]) -> float:
    """The mean of the finite values; NaN when there is none."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def bootstrap(values: np.ndarray, resamples: np.ndarray) -> tuple[float, float, float]:
    """(mean, 2.5 %, 97.5 %) of the mean over snippets; ``resamples`` are (R, S) index arrays.

    Snippets without a value (NaN: a constant side, or too few lines) are left out of each mean."""
    if not np.isfinite(values).any():
        return float("nan"), float("nan"), float("nan")
    with np.errstate(all="ignore"):
        means = np.nanmean(np.where(np.isfinite(values), values, np.nan)[resamples], axis=1)
    return float(np.nanmean(values)), float(np.nanpercentile(means, 2.5)), float(np.nanpercentile(means, 97.5))


def summarise(
    per_snippet: list[dict[str, Any]], resamples: int, seed: int, model_id: str = MODEL
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    count = len(per_snippet)
    draws = rng.integers(0, count, size=(resamples, count))
    reference = np.array([s["scores"][REFERENCE]["on"] for s in per_snippet])
    rows = []
    for name in method_names(model_id):
        row: dict[str, Any] = {"method": name}
        for key in ("on", "off", "signed"):
            values = np.array([s["scores"][name][key] for s in per_snippet])
            row[key] = bootstrap(values, draws)
        on = np.array([s["scores"][name]["on"] for s in per_snippet])
        row["vs_raw"] = bootstrap(on - reference, draws)
        rows.append(row)
    rows.sort(key=lambda r: -r["on"][0])
    return rows


def summarise_situations(
    per_snippet: list[dict[str, Any]], resamples: int, seed: int, model_id: str = MODEL
) -> dict[str, list[dict[str, Any]]]:
    """Per situation (``position/unit/baseline``): every method's mean rho with its 95 % interval, and
    the snippets that gave a value; the same bootstrap draws as the last-token table."""
    rng = np.random.default_rng(seed)
    count = len(per_snippet)
    draws = rng.integers(0, count, size=(resamples, count))
    out: dict[str, list[dict[str, Any]]] = {}
    for key in SITUATIONS:
        rows = []
        for name in method_names(model_id):
            values = np.array([s["situations"][key][name] for s in per_snippet], dtype=np.float64)
            rows.append({"method": name, "on": bootstrap(values, draws), "snippets": int(np.isfinite(values).sum())})
        rows.sort(key=lambda r: -r["on"][0] if np.isfinite(r["on"][0]) else np.inf)
        out[key] = rows
    return out


def paired(per_snippet: list[dict[str, Any]], a: str, b: str, draws: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % bootstrap interval of rho(a) - rho(b) (dropSink on), paired by snippet."""
    values = np.array([s["scores"][a]["on"] - s["scores"][b]["on"] for s in per_snippet])
    return bootstrap(values, draws)


def rounded(values: tuple[float, float, float]) -> list[float]:
    return [round(v, 4) for v in values]


def shipped_table(
    rows: list[dict[str, Any]],
    snippets: int,
    model_id: str,
    situations: dict[str, list[dict[str, Any]]] | None = None,
    corpora: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One model's summary in the table the server ships (atten_scope/data/faithfulness.json).

    ``methods`` (the last token, token level, space baseline) keeps its meaning for older readers;
    ``situations`` adds one entry per position x unit (space baseline), each with its corpus.
    """
    shipped: dict[str, Any] = {
        "model": model_id,
        "snippets": snippets,
        "source": "bench/RESULTS.md",
        "methods": [{"method": r["method"], "on": rounded(r["on"]), "off": rounded(r["off"])} for r in rows],
    }
    if situations:
        entries = []
        for position in POSITIONS:
            for unit in UNITS:
                found = situations.get(f"{position}/{unit}/{SHIPPED_BASELINE}")
                if not found:
                    continue
                measured = [r for r in found if np.isfinite(r["on"][0])]
                entries.append(
                    {
                        "position": position,
                        "unit": unit,
                        "baseline": SHIPPED_BASELINE,
                        "corpus": (corpora or {}).get(position, "bench/corpus"),
                        "snippets": max((r["snippets"] for r in measured), default=0),
                        "methods": [{"method": r["method"], "on": rounded(r["on"])} for r in measured],
                    }
                )
        shipped["situations"] = entries
    return shipped


def ci(value: tuple[float, float, float]) -> str:
    mean, low, high = value
    if not np.isfinite(mean):
        return "-"
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"


MODEL_NAMES = {MODEL: "embedded SmolLM2-135M", "embedded:gemma3-270m": "embedded Gemma 3 270M"}


def render(
    rows: list[dict[str, Any]],
    per_snippet: list[dict[str, Any]],
    args: argparse.Namespace,
    neutral: str,
    situations: dict[str, list[dict[str, Any]]] | None = None,
    corpus_note: str | None = None,
) -> str:
    tokens = [s["tokens"] for s in per_snippet]
    best = rows[0]
    raw = next(r for r in rows if r["method"] == REFERENCE)
    engine = [r for r in rows if r["method"] in ENGINE_VIEWS]
    best_engine = engine[0]
    effective = [r for r in rows if r["method"].startswith("effective")]
    best_effective = max(effective, key=lambda r: r["on"][0])
    families = residual.LAYER_METHODS + residual.ROW_METHODS
    best_residual = next((r for r in rows if r["method"].split(" / ")[0] in families), None)
    draws = np.random.default_rng(args.seed).integers(0, len(per_snippet), size=(args.resamples, len(per_snippet)))

    def versus(a: dict[str, Any], b: dict[str, Any]) -> str:
        difference = paired(per_snippet, a["method"], b["method"], draws)
        word = "clearly beats" if difference[1] > 0 else "does not clearly beat"
        return (
            f"{a['method']} ({a['on'][0]:+.3f}) {word} {b['method']} ({b['on'][0]:+.3f}): "
            f"paired difference {ci(difference)}"
        )

    verdict = " ".join(
        [
            f"Best view the engine offers: {versus(best_engine, raw)}.",
            f"Best effective view: {versus(best_effective, raw)}.",
            f"Best residual-aware method: {versus(best_residual, best_engine)}." if best_residual else "",
        ]
    ).strip()
    external = corpus_note is not None
    if external:
        corpus = f"Corpus: {corpus_note}, code from outside this repository"
        title = f"## Faithfulness on code from outside the repository ({MODEL_NAMES.get(args.model, args.model)})"
    else:
        corpus = (
            f"Corpus: {len(per_snippet)} snippets in `bench/corpus`"
            f"{f' (one in every {args.every} by name)' if args.every > 1 else ''} "
            f"({len({s['name'].split('_')[0] for s in per_snippet})} languages)"
        )
        title = f"## Faithfulness ({MODEL_NAMES.get(args.model, args.model)}, last token of each snippet)"
    out = [
        title,
        "",
        f"Machine: {environment_line()}; model on {getattr(args, 'device_name', 'cpu')} in float32. "
        f"{corpus}, {min(tokens)}-{max(tokens)} tokens "
        f"(mean {np.mean(tokens):.0f}{', truncated' if args.truncate else ''}). "
        f"Bootstrap: {args.resamples} resamples of snippets, seed {args.seed}.",
        "",
        "Score: Spearman rho between a method's weights over the sources of the last token and the leave-one-out "
        f"ablation effect |log p(y | x) - log p(y | x, x_j := {neutral})|, y = the model's greedy next token. "
        "The last token itself is never a source. *dropSink on* (the default view): token 0 is excluded for every "
        "method, gradient x input included; *off*: it is kept. *signed*: rho against the signed drop in log p(y) "
        "(dropSink on). Mean over snippets with a 95 % bootstrap CI; *vs raw* is the paired difference to "
        "raw / headMean. Sorted by the dropSink-on score. headMean over all layers is also the layer mean "
        "(the mean over layers of each layer's head mean). Refinement / aggregate rows are the engine's views; "
        "normSum, globenc, alti and valueZeroing are the residual-aware methods of `bench/residual.py`; "
        "altiRollout is the engine's ALTI rollout view (`atten_scope/flow.py`, attenScope/altiRollout).",
        "",
        table(
            [
                "rank",
                "method (refinement / aggregate)",
                "rho, dropSink on",
                "vs raw / headMean",
                "rho, dropSink off",
                "rho, signed",
            ],
            [
                [
                    k + 1,
                    r["method"],
                    ci(r["on"]),
                    ci(r["vs_raw"]) if r["method"] != REFERENCE else "-",
                    ci(r["off"]),
                    ci(r["signed"]),
                ]
                for k, r in enumerate(rows)
            ],
        ),
        "",
        f"Best overall: {best['method']} ({best['on'][0]:+.3f}). {verdict}",
    ]
    kept = sum(1 for s in per_snippet if s.get("kept"))
    if kept:
        out += [
            "",
            f"The last-token table of {kept} of {len(per_snippet)} snippets (ablations and scores) is kept from the "
            "earlier run (`--resume`); the situations below were measured on this machine.",
        ]
    if situations:
        out += ["", *render_situations(situations, per_snippet, args.interior, neutral, rows)]
    return "\n".join(out)


def render_situations(
    situations: dict[str, list[dict[str, Any]]],
    per_snippet: list[dict[str, Any]],
    interior: int,
    neutral: str,
    rows: list[dict[str, Any]],
) -> list[str]:
    """The token- and line-level tables for last and interior positions, both baselines."""
    queries = [len(s.get("queries", [])) - 1 for s in per_snippet]
    order = [r["method"] for r in rows]  # the last-token ranking, so the tables read side by side
    by_key = {key: {r["method"]: r for r in found} for key, found in situations.items()}
    out = [
        "### Where the user looks: interior positions, whole lines, two baselines",
        "",
        f"Query positions: the last token as above, and up to {interior} interior tokens per snippet "
        f"({sum(queries)} in all; evenly spaced, not whitespace-only, at least {MIN_CONTEXT} tokens before them), "
        "each with its own greedy next token y; a snippet's interior score is the mean over its queries. "
        f"Baselines: *space* (x_j := {neutral}, as above) and *delete* (x_j removed). Line level: every line "
        "holding sources of the query (its own line with the tokens before it; sinks left out) is ablated as a "
        "whole, and rho is taken between those effects and the line sums of each method's dropSink-on weights "
        f"(snippets with fewer than {MIN_LINES} lines give none). Mean over snippets, 95 % bootstrap CI; "
        "rows in the order of the last-token table. The editor shows the *space* figures of the situation on "
        "screen: last / interior token, token or line view.",
    ]
    for unit in UNITS:
        keys = [f"{position}/{unit}/{baseline}" for position in POSITIONS for baseline in BASELINES]
        counts = {key: max((r["snippets"] for r in situations[key]), default=0) for key in keys}
        headers = ["method"] + [f"{k.split('/')[0]}, {k.split('/')[2]} (n={counts[k]})" for k in keys]
        out += [
            "",
            f"**{'Token' if unit == 'token' else 'Line'} level.**",
            "",
            table(headers, [[name] + [ci(by_key[key][name]["on"]) for key in keys] for name in order]),
        ]
    best = []
    for key in SITUATIONS:
        engine = [r for r in situations[key] if r["method"] in ENGINE_VIEWS and np.isfinite(r["on"][0])]
        if engine:
            best.append(f"{key.replace('/', ', ')}: {engine[0]['method']} ({engine[0]['on'][0]:+.3f})")
    if best:
        out += ["", "Best engine view per situation: " + "; ".join(best) + "."]
    return out


def write_results(
    per_snippet: list[dict[str, Any]],
    args: argparse.Namespace,
    loaded: LoadedModel,
    neutral: int,
    total: int,
    stem: str = "faithfulness",
    corpus_note: str | None = None,
) -> tuple[Path, list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Summarise, render and write ``stem``.md / .json (``total``: snippets planned, for partial tables)."""
    rows = summarise(per_snippet, args.resamples, args.seed, args.model)
    situations = summarise_situations(per_snippet, args.resamples, args.seed, args.model)
    text = render(rows, per_snippet, args, repr(loaded.tokenizer.decode([neutral])), situations, corpus_note)
    if len(per_snippet) < total:
        text += f"\n\n**Partial:** {len(per_snippet)} of {total} snippets so far (run with `--resume` to finish)."
    print(text)
    # The JSON first: writing the section regenerates RESULTS.md, whose summary reads it.
    args.out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"summary": rows, "situations": situations, "snippets": per_snippet}
    if corpus_note is not None:
        record["corpus"] = corpus_note
    (args.out / f"{stem}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    path = write_section(args.out, f"{stem}.md", text)
    return path, rows, situations


def write_shipped(
    args: argparse.Namespace,
    rows: list[dict[str, Any]] | None,
    snippets: int,
    situations: dict[str, list[dict[str, Any]]],
    external: dict[str, list[dict[str, Any]]] | None,
) -> None:
    """Replace this model's entry of the shipped table (the others are kept): the last-token figures
    from ``bench/corpus``, the interior ones from the external corpus where it was measured.

    ``rows`` None (``--only-external``): ``bench/corpus`` was not scored in this run, so the entry's
    last-token table is kept as shipped and every situation comes from the external corpus."""
    merged = dict(situations)
    corpora = {"last": "bench/corpus", "interior": "bench/corpus"}
    stdlib = f"Python {platform.python_version()} standard library"
    if external:
        for key, found in external.items():
            if key.startswith("interior/") or rows is None:
                merged[key] = found
        corpora["interior"] = stdlib
        if rows is None:
            corpora["last"] = stdlib
    shipped = json.loads(SHIPPED_TABLE.read_text(encoding="utf-8")) if SHIPPED_TABLE.is_file() else {}
    tables = [t for t in shipped.get("tables", []) if t.get("model") != args.model]
    if rows is None:
        kept = next((t for t in shipped.get("tables", []) if t.get("model") == args.model), None)
        if kept is None:
            model = args.model
            raise SystemExit(f"--only-external needs a shipped last-token table for {model}: score bench/corpus first")
        entry = {**kept, **shipped_table([], kept["snippets"], args.model, merged, corpora)}
        entry["methods"] = kept["methods"]
    else:
        entry = shipped_table(rows, snippets, args.model, merged, corpora)
    tables.append(entry)
    tables.sort(key=lambda t: (t["model"] != MODEL, t["model"]))
    SHIPPED_TABLE.write_text(json.dumps({"tables": tables}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {SHIPPED_TABLE}", file=sys.stderr)


def default_out(model_id: str) -> Path:
    """bench/results for the default model, bench/results/<name> for another (its own RESULTS section)."""
    return DEFAULT_RESULTS if model_id == MODEL else DEFAULT_RESULTS / model_id.removeprefix("embedded:")


def score_corpus(
    loaded: LoadedModel,
    corpus: list[Snippet],
    args: argparse.Namespace,
    neutral: int,
    stem: str,
    corpus_note: str | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Score every snippet of ``corpus`` (reusing a partial or earlier run with ``--resume``) and write
    ``stem``.md / .json; returns the snippets' records, the last-token table and the situations."""
    partial = args.out / f"{stem}.partial.json"
    done: dict[str, dict[str, Any]] = {}
    final = args.out / f"{stem}.json"
    if args.resume and partial.is_file():
        done = {s["name"]: s for s in json.loads(partial.read_text(encoding="utf-8"))}
    elif args.resume and final.is_file():
        done = {s["name"]: s for s in json.loads(final.read_text(encoding="utf-8"))["snippets"]}
    per_snippet: list[dict[str, Any]] = []
    args.out.mkdir(parents=True, exist_ok=True)
    for snippet in corpus:
        if args.truncate:
            document = tokenize_text(loaded, snippet.text)
            if len(document) > args.truncate:
                snippet = Snippet(snippet.name, snippet.text[: document.ends[args.truncate - 1]])
        cached = done.get(snippet.name)
        if (
            cached is not None
            and set(cached["scores"]) == set(method_names(args.model))
            and set(cached.get("situations", {})) == set(SITUATIONS)
            and len(cached.get("queries", [])) >= 1
        ):
            per_snippet.append(cached)
            continue
        began = time.perf_counter()
        result = score_snippet(loaded, snippet, neutral, args.batch, cached, args.interior)
        per_snippet.append(result)
        partial.write_text(json.dumps(per_snippet, indent=1) + "\n", encoding="utf-8")
        print(
            f"{snippet.name}: {result['tokens']} tokens, next {result['target']!r}, "
            f"raw {result['scores'][REFERENCE]['on']:+.2f}, {time.perf_counter() - began:.1f} s",
            file=sys.stderr,
        )
        if args.write_partial and len(per_snippet) >= 2:
            write_results(per_snippet, args, loaded, neutral, len(corpus), stem, corpus_note)
    path, rows, situations = write_results(per_snippet, args, loaded, neutral, len(corpus), stem, corpus_note)
    partial.unlink(missing_ok=True)
    print(f"wrote {path}", file=sys.stderr)
    return per_snippet, rows, situations


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=BENCH_DIR / "corpus", help="folder of snippets")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N snippets (of each corpus)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 snippets cut to 40 tokens, 200 resamples")
    parser.add_argument(
        "--every", type=int, default=1, help="use every N-th snippet in name order (a smaller sample of each language)"
    )
    parser.add_argument("--truncate", type=int, default=None, help="cut each snippet to its first N tokens")
    parser.add_argument("--interior", type=int, default=4, help="interior query positions per snippet (0: none)")
    parser.add_argument(
        "--corpus-external",
        action="store_true",
        help="also score snippets of the running Python's standard library (code from outside the repository)",
    )
    parser.add_argument(
        "--only-external",
        action="store_true",
        help="score only the external corpus (with --corpus-external); the shipped last-token table is kept",
    )
    parser.add_argument("--external-files", type=int, default=32, help="standard-library files, one snippet each")
    parser.add_argument("--external-chars", type=int, default=1200, help="characters per external snippet (about)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--batch", type=int, default=None, help="ablated sequences per forward pass (32 CPU, 256 GPU)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (the model runs in float32 everywhere)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse snippets already scored (faithfulness.partial.json, else faithfulness.json); "
        "their ablations are reused when only methods were added",
    )
    parser.add_argument("--write-partial", action="store_true", help="rewrite the table after every snippet")
    parser.add_argument("--model", default=MODEL, help=f"the model to measure (default {MODEL})")
    parser.add_argument("--out", type=Path, help="results folder (default bench/results, or bench/results/<model>)")
    args = parser.parse_args(argv)
    args.out = args.out or default_out(args.model)
    if args.only_external and not args.corpus_external:
        parser.error("--only-external needs --corpus-external")
    if args.quick:
        args.limit, args.resamples = args.limit or 3, min(args.resamples, 200)
        args.truncate = args.truncate or 40
    torch.set_num_threads(args.threads)

    loaded = load_model(args.model, args.device, progress=lambda fraction, message: None)
    # The benchmark measures float32 on every device (the CPU tables are float32): an accelerator's
    # bfloat16 would blur the small ablation effects. TF32 matrix products are turned off for the same reason.
    loaded.model.to(dtype=torch.float32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    args.batch = args.batch or (256 if loaded.device.type == "cuda" else 32)
    args.device_name = (
        f"cuda ({torch.cuda.get_device_name(loaded.device)})" if loaded.device.type == "cuda" else loaded.device.type
    )
    print(f"device {loaded.device}, batch {args.batch}", file=sys.stderr)
    neutral_ids = loaded.tokenizer(" ", add_special_tokens=False).input_ids
    if len(neutral_ids) != 1:
        raise SystemExit("the tokenizer has no single-token space to use as the neutral replacement")
    neutral = neutral_ids[0]
    corpus = load_corpus(args.corpus, args.limit, args.every)
    rows: list[dict[str, Any]] | None = None
    situations: dict[str, list[dict[str, Any]]] = {}
    scored_here = 0
    complete = True
    if not args.only_external:
        per_snippet, rows, situations = score_corpus(loaded, corpus, args, neutral, "faithfulness")
        scored_here = len(per_snippet)
        complete = len(per_snippet) == len(corpus)
    external_situations = None
    if args.corpus_external:
        snippets, note = external_corpus(args.external_files, args.external_chars, args.limit)
        scored, _, external_situations = score_corpus(loaded, snippets, args, neutral, "faithfulness-external", note)
        complete = complete and len(scored) == len(snippets)
    default_run = args.out.resolve() == default_out(args.model).resolve() and args.corpus == BENCH_DIR / "corpus"
    if complete and default_run and not args.truncate:
        write_shipped(args, rows, scored_here, situations, external_situations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
