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

Writes ``faithfulness.md`` (and ``faithfulness.json``) into ``--out`` and regenerates RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
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
from atten_scope.analysis import run_analysis, tokenize_text  # noqa: E402
from atten_scope.flow import alti_rollout  # noqa: E402
from atten_scope.model import LoadedModel, load_model  # noqa: E402
from atten_scope.options import ViewOptions  # noqa: E402
from atten_scope.registry import REFINEMENTS  # noqa: E402
from atten_scope.views import attention_vector, drop_sinks  # noqa: E402

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


class sdpa:
    """Temporarily run the model with plain SDPA attention (no capture)."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.model = loaded.model

    def __enter__(self) -> None:
        self.model.set_attn_implementation("sdpa")

    def __exit__(self, *_: object) -> None:
        self.model.set_attn_implementation(ATTENTION)


def last_logprobs(loaded: LoadedModel, batch: torch.Tensor, cache: Any = None, start: int = 0) -> torch.Tensor:
    """log p(. | sequence) at the last position for each row of ``batch``: (B, vocab).

    With ``cache`` (keys and values of the first ``start`` tokens), ``batch`` holds only tokens start.. .
    """
    kwargs: dict[str, Any] = {"logits_to_keep": 1, "use_cache": cache is not None}
    if cache is not None:
        kwargs["past_key_values"] = cache
        kwargs["position_ids"] = torch.arange(start, start + batch.shape[1])[None].expand(batch.shape[0], -1)
    with torch.inference_mode(), sdpa(loaded):
        logits = loaded.model(input_ids=batch, **kwargs).logits[:, -1]
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


def ablation_effects(loaded: LoadedModel, ids: list[int], neutral: int, batch_size: int) -> tuple[int, np.ndarray]:
    """(greedy next token y, e_j = log p(y | x) - log p(y | x with x_j := neutral) for j < n - 1).

    A causal model's states before j do not depend on x_j, so each batch of ablations j in [a, b)
    reuses the unablated keys and values of tokens < a and runs only tokens a.. (about half the work).
    """
    base = torch.tensor([ids], dtype=torch.long)
    from transformers import DynamicCache

    cache = DynamicCache()
    with torch.inference_mode(), sdpa(loaded):
        out = loaded.model(input_ids=base, logits_to_keep=1, use_cache=True, past_key_values=cache)
    logp = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    layers = [(layer.keys, layer.values) for layer in cache.layers]
    target = int(torch.argmax(logp))
    sources = len(ids) - 1
    effects = np.zeros(sources, dtype=np.float64)
    for first in range(0, sources, batch_size):
        rows = list(range(first, min(first + batch_size, sources)))
        batch = base[:, first:].repeat(len(rows), 1)
        batch[torch.arange(len(rows)), torch.tensor(rows) - first] = neutral
        past = prefix_cache(layers, first, len(rows)) if first > 0 else None
        ablated = last_logprobs(loaded, batch, past, first)[:, target]
        effects[rows] = (logp[target] - ablated).double().numpy()
    return target, effects


def ablation_effects_reference(loaded: LoadedModel, ids: list[int], neutral: int) -> np.ndarray:
    """The same effects from full forward passes, one per ablation (for checking the cached version)."""
    base = torch.tensor([ids], dtype=torch.long)
    logp = last_logprobs(loaded, base)[0]
    target = int(torch.argmax(logp))
    batch = base.repeat(len(ids) - 1, 1)
    batch[torch.arange(len(ids) - 1), torch.arange(len(ids) - 1)] = neutral
    return (logp[target] - last_logprobs(loaded, batch)[:, target]).double().numpy()


def gradient_x_input(loaded: LoadedModel, ids: list[int], target: int) -> np.ndarray:
    """g_j = || grad_{E_j} log p(y) * E_j ||_2 for every token j (input embeddings E)."""
    model = loaded.model
    embeddings = model.get_input_embeddings()(torch.tensor([ids], dtype=torch.long)).detach().requires_grad_(True)
    with sdpa(loaded):
        logits = model(inputs_embeds=embeddings, logits_to_keep=1, use_cache=False).logits[0, -1]
    torch.log_softmax(logits.float(), dim=-1)[target].backward()
    assert embeddings.grad is not None
    return (embeddings.grad[0] * embeddings[0]).norm(dim=-1).detach().double().numpy()


def with_residual(model_id: str) -> bool:
    """The residual-aware references (bench/residual.py) follow the Llama block layout of the default model."""
    return model_id == MODEL


def method_names(model_id: str = MODEL) -> list[str]:
    engine = [f"{r} / {a}" for r in REFINEMENTS for a in AGGREGATES]
    late = [f"{r} / {LATE_ROLLOUT}" for r in ("raw", "norm")]
    return engine + late + [ALTI] + (residual.method_names() if with_residual(model_id) else []) + [GRADIENT]


def method_weights(
    loaded: LoadedModel, analysis: Any, query: int, target: int, wanted: set[str] | None = None
) -> dict[str, np.ndarray]:
    """The weights over tokens 0..query for the query token (the query itself included) of every
    method, or of the ``wanted`` ones (a rescored snippet computes only the methods it lacks)."""

    def want(*names: str) -> bool:
        return wanted is None or any(name in wanted for name in names)

    weights: dict[str, np.ndarray] = {}
    for refinement in REFINEMENTS:
        for aggregate in AGGREGATES:
            if want(f"{refinement} / {aggregate}"):
                options = ViewOptions(refinement=refinement, aggregate=aggregate, drop_sink=False)
                weights[f"{refinement} / {aggregate}"] = attention_vector(analysis, query, options)
    layers = analysis.info.layers
    for refinement in ("raw", "norm"):
        if want(f"{refinement} / {LATE_ROLLOUT}"):
            options = ViewOptions(
                refinement=refinement, aggregate="rollout", drop_sink=False, layers=tuple(range(layers // 2, layers))
            )
            weights[f"{refinement} / {LATE_ROLLOUT}"] = attention_vector(analysis, query, options)
    if want(ALTI):
        weights[ALTI] = alti_rollout(analysis, query)[0]
    ids = analysis.document.ids
    if with_residual(loaded.info.id) and want(*residual.method_names()):
        for name, row in residual.attributions(loaded, ids, query).items():
            weights[name] = row.double().numpy()
    if want(GRADIENT):
        weights[GRADIENT] = gradient_x_input(loaded, ids, target)
    return weights


def rho(weights: np.ndarray, effects: np.ndarray) -> float:
    """Spearman correlation; NaN when either side is constant."""
    if np.ptp(weights) == 0 or np.ptp(effects) == 0:
        return float("nan")
    return float(spearmanr(weights, effects).statistic)


def score_snippet(
    loaded: LoadedModel,
    snippet: Snippet,
    neutral: int,
    batch: int,
    cached: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Per-method Spearman rho of one snippet for each source set and effect sign.

    ``cached``: an earlier record of the same snippet; its ablation effects (the costly part) are
    reused when the token ids match, and so are its methods' scores: adding a method computes only it.
    """
    began = time.perf_counter()
    analysis = run_analysis(loaded, snippet.text)
    ids = analysis.document.ids
    query = len(ids) - 1
    known: dict[str, dict[str, float]] = {}
    if cached is not None and cached.get("ids") == ids and "effects" in cached:
        target, effects = int(cached["target_id"]), np.array(cached["effects"], dtype=np.float64)
        # The methods are deterministic: a snippet rescored with the same tokens keeps its scores.
        known = {
            name: score for name, score in cached.get("scores", {}).items() if name in method_names(loaded.info.id)
        }
    else:
        target, effects = ablation_effects(loaded, ids, neutral, batch)
    ablated = time.perf_counter()
    sinks = analysis.sinks(analysis.windows[0])
    weights = method_weights(loaded, analysis, query, target, set(method_names(loaded.info.id)) - set(known))
    print(f"  ablation {ablated - began:.1f} s, views {time.perf_counter() - ablated:.1f} s", file=sys.stderr)
    scores: dict[str, dict[str, float]] = dict(known)
    for name, row in weights.items():
        row = row[:query]  # sources j < i
        on = drop_sinks(row, sinks)[1:]  # the engine's dropSink view, token 0 excluded
        scores[name] = {
            "on": rho(on, np.abs(effects[1:])),
            "off": rho(row, np.abs(effects)),
            "signed": rho(on, effects[1:]),
        }
    return {
        "name": snippet.name,
        "tokens": len(ids),
        "target": loaded.tokenizer.decode([target]),
        "target_id": target,
        "ids": ids,
        "effects": [round(float(e), 6) for e in effects],
        "scores": scores,
    }


def bootstrap(values: np.ndarray, resamples: np.ndarray) -> tuple[float, float, float]:
    """(mean, 2.5 %, 97.5 %) of the mean over snippets; ``resamples`` are (R, S) index arrays."""
    means = np.nanmean(values[resamples], axis=1)
    return float(np.nanmean(values)), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


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


def paired(per_snippet: list[dict[str, Any]], a: str, b: str, draws: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95 % bootstrap interval of rho(a) - rho(b) (dropSink on), paired by snippet."""
    values = np.array([s["scores"][a]["on"] - s["scores"][b]["on"] for s in per_snippet])
    return bootstrap(values, draws)


def shipped_table(rows: list[dict[str, Any]], snippets: int, model_id: str) -> dict[str, Any]:
    """One model's summary in the table the server ships (atten_scope/data/faithfulness.json)."""
    return {
        "model": model_id,
        "snippets": snippets,
        "source": "bench/RESULTS.md",
        "methods": [
            {"method": r["method"], "on": [round(v, 4) for v in r["on"]], "off": [round(v, 4) for v in r["off"]]}
            for r in rows
        ],
    }


def ci(value: tuple[float, float, float]) -> str:
    mean, low, high = value
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"


def render(
    rows: list[dict[str, Any]], per_snippet: list[dict[str, Any]], args: argparse.Namespace, neutral: str
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
    names = {MODEL: "embedded SmolLM2-135M", "embedded:gemma3-270m": "embedded Gemma 3 270M"}
    out = [
        f"## Faithfulness ({names.get(args.model, args.model)}, last token of each snippet)",
        "",
        f"Machine: {environment_line()}. Corpus: {len(per_snippet)} snippets in `bench/corpus`"
        f"{f' (one in every {args.every} by name)' if args.every > 1 else ''} "
        f"({len({s['name'].split('_')[0] for s in per_snippet})} languages), {min(tokens)}-{max(tokens)} tokens "
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
    return "\n".join(out)


def write_results(
    per_snippet: list[dict[str, Any]], args: argparse.Namespace, loaded: LoadedModel, neutral: int, total: int
) -> Path:
    """Summarise, render and write faithfulness.md / .json (``total``: snippets planned, for partial tables)."""
    rows = summarise(per_snippet, args.resamples, args.seed, args.model)
    text = render(rows, per_snippet, args, repr(loaded.tokenizer.decode([neutral])))
    if len(per_snippet) < total:
        text += f"\n\n**Partial:** {len(per_snippet)} of {total} snippets so far (run with `--resume` to finish)."
    print(text)
    # The JSON first: writing the section regenerates RESULTS.md, whose summary reads it.
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "faithfulness.json").write_text(
        json.dumps({"summary": rows, "snippets": per_snippet}, indent=1) + "\n", encoding="utf-8"
    )
    path = write_section(args.out, "faithfulness.md", text)
    if len(per_snippet) == total and args.out.resolve() == default_out(args.model).resolve() and not args.truncate:
        # The shipped table holds one entry per model: replace this model's, keep the others.
        shipped = json.loads(SHIPPED_TABLE.read_text(encoding="utf-8")) if SHIPPED_TABLE.is_file() else {}
        tables = [t for t in shipped.get("tables", []) if t.get("model") != args.model]
        tables.append(shipped_table(rows, total, args.model))
        tables.sort(key=lambda t: (t["model"] != MODEL, t["model"]))
        SHIPPED_TABLE.write_text(json.dumps({"tables": tables}, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {SHIPPED_TABLE}", file=sys.stderr)
    return path


def default_out(model_id: str) -> Path:
    """bench/results for the default model, bench/results/<name> for another (its own RESULTS section)."""
    return DEFAULT_RESULTS if model_id == MODEL else DEFAULT_RESULTS / model_id.removeprefix("embedded:")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=BENCH_DIR / "corpus", help="folder of snippets")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N snippets")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 snippets cut to 40 tokens, 200 resamples")
    parser.add_argument(
        "--every", type=int, default=1, help="use every N-th snippet in name order (a smaller sample of each language)"
    )
    parser.add_argument("--truncate", type=int, default=None, help="cut each snippet to its first N tokens")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--batch", type=int, default=32, help="ablated sequences per forward pass")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
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
    if args.quick:
        args.limit, args.resamples = args.limit or 3, min(args.resamples, 200)
        args.truncate = args.truncate or 40
    torch.set_num_threads(args.threads)

    loaded = load_model(args.model, "cpu", progress=lambda fraction, message: None)
    neutral_ids = loaded.tokenizer(" ", add_special_tokens=False).input_ids
    if len(neutral_ids) != 1:
        raise SystemExit("the tokenizer has no single-token space to use as the neutral replacement")
    neutral = neutral_ids[0]
    corpus = load_corpus(args.corpus, args.limit, args.every)
    partial = args.out / "faithfulness.partial.json"
    done: dict[str, dict[str, Any]] = {}
    final = args.out / "faithfulness.json"
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
        if cached is not None and set(cached["scores"]) == set(method_names(args.model)):
            per_snippet.append(cached)
            continue
        began = time.perf_counter()
        result = score_snippet(loaded, snippet, neutral, args.batch, cached)
        per_snippet.append(result)
        partial.write_text(json.dumps(per_snippet, indent=1) + "\n", encoding="utf-8")
        print(
            f"{snippet.name}: {result['tokens']} tokens, next {result['target']!r}, "
            f"raw {result['scores'][REFERENCE]['on']:+.2f}, {time.perf_counter() - began:.1f} s",
            file=sys.stderr,
        )
        if args.write_partial and len(per_snippet) >= 2:
            write_results(per_snippet, args, loaded, neutral, len(corpus))
    path = write_results(per_snippet, args, loaded, neutral, len(corpus))
    partial.unlink(missing_ok=True)
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
