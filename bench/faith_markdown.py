"""The Markdown sections of the faithfulness benchmark: the last-token table and the situations.

``faithfulness.md`` (``bench/corpus``) and ``faithfulness-external.md`` (the standard library) are
rendered here from the bootstrap summaries; ``faithfulness.py`` writes them and regenerates RESULTS.md.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import residual
from faith_bootstrap import paired
from faith_lds import LDS_MASKS
from faith_names import (
    ALL_SITUATIONS,
    BASELINES,
    ENGINE_VIEWS,
    LDS_SITUATIONS,
    MIN_CONTEXT,
    MIN_LINES,
    POSITIONS,
    REFERENCE,
    UNITS,
)
from report import MODEL_NAMES, environment_line, table


def ci(value: tuple[float, float, float]) -> str:
    """A mean and its interval as a table cell; "-" where there is no value."""
    mean, low, high = value
    if not np.isfinite(mean):
        return "-"
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]"


def render(
    rows: list[dict[str, Any]],
    per_snippet: list[dict[str, Any]],
    args: argparse.Namespace,
    neutral: str,
    situations: dict[str, list[dict[str, Any]]] | None = None,
    corpus_note: str | None = None,
) -> str:
    """One corpus's section: the last-token table, its verdicts and, where measured, the situations
    (``corpus_note`` set: the external corpus, with its own title)."""
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
    if any(r["snippets"] for key in LDS_SITUATIONS for r in situations.get(key, [])):
        counts = {key: max((r["snippets"] for r in situations[key]), default=0) for key in LDS_SITUATIONS}
        headers = ["method"] + [f"{k.split('/')[0]}, {k.split('/')[1]} (n={counts[k]})" for k in LDS_SITUATIONS]
        out += [
            "",
            "**Linear datamodeling score (LDS).** How well the weights predict removing many sources at once "
            f"(`faith_lds.py`): {LDS_MASKS} random removals per snippet and unit, each eligible source token "
            "(*token*) or each line (*line*) removed with probability 1/2 (replaced by the space token; sinks and "
            "the query tokens are never removed); Spearman's rho between the summed dropSink-on weights of the "
            "removed sources before the query and the drop in log p(y). Mean over snippets, 95 % bootstrap CI.",
            "",
            table(headers, [[name] + [ci(by_key[key][name]["on"]) for key in LDS_SITUATIONS] for name in order]),
        ]
    best = []
    for key in ALL_SITUATIONS:
        engine = [r for r in situations.get(key, []) if r["method"] in ENGINE_VIEWS and np.isfinite(r["on"][0])]
        if engine:
            best.append(f"{key.replace('/', ', ')}: {engine[0]['method']} ({engine[0]['on'][0]:+.3f})")
    if best:
        out += ["", "Best engine view per situation: " + "; ".join(best) + "."]
    return out
