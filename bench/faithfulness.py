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
  (``faith_ablation.query_ablations``). A snippet's interior score is the mean of its queries' rho, so the
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

LDS: beside rho against leave-one-out, each situation's linear datamodeling score (position x unit,
``faith_lds.py``): how well a method's summed weights predict the drop when half of the sources (tokens
or lines) are removed at once, Spearman over 32 random removals per snippet and unit.

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

This file is the command line; the parts live beside it: ``faith_names.py`` (the methods and
situations), ``faith_corpus.py`` (the snippets), ``faith_ablation.py`` (the ablated forward passes),
``faith_scoring.py`` (one snippet's rho per method and situation), ``faith_lds.py`` (the random removals
of the LDS), ``faith_bootstrap.py`` (means and
intervals over snippets), ``faith_markdown.py`` (the sections) and ``faith_shipped.py`` (the table
the server ships).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from faith_bootstrap import summarise, summarise_situations
from faith_corpus import Snippet, external_corpus, load_corpus
from faith_lds import compact
from faith_markdown import render
from faith_names import ALL_SITUATIONS, MODEL, REFERENCE, method_names
from faith_scoring import score_snippet
from faith_shipped import write_shipped
from report import BENCH_DIR, DEFAULT_RESULTS, ensure_engine_importable, write_section

ensure_engine_importable()

from atten_scope.engine.analysis import tokenize_text  # noqa: E402
from atten_scope.engine.model import LoadedModel, load_model  # noqa: E402
from atten_scope.views.languages import language_of_path  # noqa: E402


def corpus_languages(snippets: list[Snippet]) -> list[str]:
    """The language ids of ``snippets`` by the suffix of their names (``c_file_copy.c.txt``: ``c``;
    ``stdlib_cmd.py``: ``python``), in id order."""
    found = {language_of_path(snippet.name.removesuffix(".txt")) for snippet in snippets}
    return sorted(language for language in found if language)


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
            and set(cached.get("situations", {})) == set(ALL_SITUATIONS)
            and len(cached.get("queries", [])) >= 1
        ):
            if "lds" in cached:  # a record written with the masks as lists of positions
                cached["lds"] = compact(cached["lds"], max(int(q["index"]) for q in cached["queries"]) + 1)
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
    """Score the corpora named by the flags, write their sections and, after a complete default run,
    the shipped table."""
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
    languages = {"bench": corpus_languages(corpus)}
    if args.corpus_external:
        snippets, note = external_corpus(args.external_files, args.external_chars, args.limit)
        scored, _, external_situations = score_corpus(loaded, snippets, args, neutral, "faithfulness-external", note)
        languages["external"] = corpus_languages(snippets)
        complete = complete and len(scored) == len(snippets)
    default_run = args.out.resolve() == default_out(args.model).resolve() and args.corpus == BENCH_DIR / "corpus"
    if complete and default_run and not args.truncate:
        write_shipped(args, rows, scored_here, situations, external_situations, languages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
