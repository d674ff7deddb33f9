"""Code completion at the cursor with attribution: its cost and the faithfulness of its attributions.

**Cost** (``completion_cost.py``): greedy generation of ``--cost-new-tokens`` (48) tokens after
``--cost-sizes`` (512 and 2,048) tokens of real code, plain ``model.generate`` against the
server's generation with capture (target: at most 1.2 x), the time to the first token, the
instant attribution's cost and the removal surrogate's at ``--cost-ablations`` (16, 32, 64).

**Faithfulness** (``completion_study.py``): completions of code from outside the repository
(``completion_corpus.py``: the Python standard library, JavaScript of the global node_modules, C
headers of /usr/include; seeded cut points after 300-700 tokens of context), ``--new-tokens`` (24)
greedy tokens each. A line attribution gives each context line l a score s_l, the estimated drop
of the completion's log-probability when l is removed. Its linear datamodeling score (LDS,
ContextCite, Cohen-Wang et al. 2024) on a completion: draw ``--held-out`` (32) random masks that
keep each context line with probability 1/2; actual_k = log p(completion | the kept lines), teacher
forced, from plain forward passes over the edited text (the ground truth; the cursor line's text
before the cursor is always kept); predicted_k = -sum of the scores of the lines mask k removes;
LDS = Spearman(predicted, actual). The held-out masks are drawn apart from every method's training
masks. Methods: the server's instant attribution, four attention alternatives (raw / norm x last
half of the layers / all layers, sinks dropped, summed over the completion's tokens and each line's
tokens), exact leave-one-line-out, the removal surrogate at ``--ablations`` training ablations and
the ``context-cite`` package as a peer (``completion_peer.py``; ``--peers DIR`` adds a folder where
it and its dependencies are installed). Means over completions with bootstrap 95 % intervals
(``--resamples``), overall and per language.

``--budget-minutes`` bounds the study: cases get the cheap methods first (tier 1; for at most
``--cheap-share`` of the budget), then, case by case, leave-one-out and the surrogate (tier 2)
and the peer (tier 3), as far as the budget goes; each table row says on how many completions it
was measured. ``--resume`` continues a partial run (its budget counts from the new start).

Writes ``completion.json`` and ``completion.md`` into ``--out`` (default ``bench/results``) and
regenerates RESULTS.md. ``--quick``: tiny sizes, under a minute on 2 cores. ``--device cuda`` runs
the model on a GPU (float32, as every benchmark table).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from completion_corpus import LANGUAGES, Case, select_cases
from completion_cost import measure
from completion_markdown import render, summarise
from completion_peer import import_context_cite
from completion_study import restore, tier_one, tier_three, tier_two
from report import DEFAULT_RESULTS, ensure_engine_importable, environment_line, write_section

ensure_engine_importable()

from atten_scope.engine.model import LoadedModel, load_model  # noqa: E402

MODEL = "embedded:smollm2-135m"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, under a minute")
    parser.add_argument("--only", choices=("cost", "study"), help="run one part (the other is kept from --out)")
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (the model runs in float32)")
    # One thread: on shared cores a second thread mostly waits for the first (measured: 2 threads
    # ran 2-8 x slower than 1 while other jobs held the cores).
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-language", type=int, default=10, help="completions per language")
    parser.add_argument("--min-tokens", type=int, default=300, help="fewest context tokens of a case")
    parser.add_argument("--max-tokens", type=int, default=700, help="most context tokens of a case")
    parser.add_argument("--new-tokens", type=int, default=24, help="tokens per completion")
    parser.add_argument("--held-out", type=int, default=32, help="held-out masks per completion")
    parser.add_argument("--ablations", default="16,32,64", help="training sizes of the removal surrogate")
    parser.add_argument("--peer-ablations", type=int, default=64, help="the context-cite package's ablations")
    parser.add_argument(
        "--peers", help=f"folders (separated by {os.pathsep!r}) holding context-cite and its dependencies"
    )
    parser.add_argument("--batch", type=int, default=None, help="sequences per forward pass (8 CPU, 64 GPU)")
    parser.add_argument("--budget-minutes", type=float, default=None, help="stop adding work after this long")
    parser.add_argument(
        "--cheap-share",
        type=float,
        default=1.0,
        help="share of the budget tier 1 may use before the costly tiers start (1: tier 1 for every case first)",
    )
    parser.add_argument("--resume", action="store_true", help="continue completion.partial.json")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--cost-sizes", default="512,2048", help="context tokens of the cost part")
    parser.add_argument("--cost-new-tokens", type=int, default=48)
    parser.add_argument("--cost-repeats", type=int, default=3)
    parser.add_argument("--cost-ablations", default="16,32,64", help="surrogate sizes timed (empty: none)")
    args = parser.parse_args(argv)
    if args.quick:
        args.per_language, args.min_tokens, args.max_tokens = 1, 40, 60
        args.new_tokens, args.held_out, args.ablations, args.peer_ablations = 4, 6, "3,6", 6
        args.cost_sizes, args.cost_new_tokens, args.cost_repeats, args.cost_ablations = "48", 4, 1, "3"
        args.resamples = 200
    args.ablations = [int(n) for n in args.ablations.split(",") if n]
    args.cost_ablations = [int(n) for n in args.cost_ablations.split(",") if n]
    args.cost_sizes = [int(n) for n in args.cost_sizes.split(",") if n]
    return args


def interleaved(cases: list[Case]) -> list[Case]:
    """The cases language by language in turn, so a run cut short keeps the languages balanced."""
    by_language = [[c for c in cases if c.language == lang] for lang in LANGUAGES]
    order = []
    for k in range(max((len(group) for group in by_language), default=0)):
        order += [group[k] for group in by_language if k < len(group)]
    return order


def budget_note(records: list[dict[str, Any]], planned: int) -> str:
    """A sentence on how far the study got: cases with the cheap methods, and with the costly ones."""
    costly = sum(1 for r in records if r.get("tier2"))
    peer = sum(1 for r in records if r.get("tier3"))
    if len(records) == planned and costly == planned:
        return f"All {planned} planned completions were scored by every method."
    return (
        f"Bounded by the time budget: {len(records)} of {planned} planned completions scored by the instant "
        f"attribution and the attention alternatives, {costly} also by leave-one-out and the surrogate, "
        f"{peer} by the context-cite package (`--resume` continues the run)."
    )


def run_study(loaded: LoadedModel, args: argparse.Namespace, began: float) -> dict[str, Any]:
    """Score the cases tier by tier within the budget; returns the study record."""
    partial = args.out / "completion.partial.json"
    done: dict[str, dict[str, Any]] = {}
    if args.resume and partial.is_file():
        done = {r["name"]: r for r in json.loads(partial.read_text(encoding="utf-8"))}
    spare = 3  # cases whose completion does not tokenize back are replaced by the next ones
    pool = select_cases(loaded.tokenizer, args.per_language + spare, args.seed, args.min_tokens, args.max_tokens)
    deadline = began + 60 * args.budget_minutes if args.budget_minutes else float("inf")
    records: dict[str, dict[str, Any]] = {}
    cases: list[Case] = []
    skipped = 0
    args.out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        partial.write_text(json.dumps(list(records.values())) + "\n", encoding="utf-8")

    cheap_deadline = began + args.cheap_share * (deadline - began) if args.budget_minutes else deadline
    for case in interleaved(pool):
        if sum(c.language == case.language for c in cases) >= args.per_language:
            continue
        if case.name not in done and time.time() > cheap_deadline:
            continue
        record = done.get(case.name)
        if record is not None:
            restore(case, record)
        else:
            record = tier_one(loaded, case, args)
            if record is None:
                skipped += 1
                continue
            print(f"{case.name}: {record['context_tokens']} tokens, {record['completion']!r}", file=sys.stderr)
        records[case.name] = record
        cases.append(case)
        save()
    peer = import_context_cite(args.peers)
    # The costly tiers case by case (leave-one-out and the surrogate, then the peer), so that the
    # methods they score are compared on the same completions however far the budget goes.
    tiers = [("tier2", lambda c, r: tier_two(loaded, c, r, args))]
    if peer is not None:
        tiers.append(("tier3", lambda c, r: tier_three(loaded, c, r, args, peer)))
    longest = 0.0  # the longest case so far: the next one starts only if one as long still fits
    for case in cases:
        record = records[case.name]
        if time.time() + 1.2 * longest > deadline:
            break
        case_began = time.time()
        for tier, step in tiers:
            if record.get(tier):
                continue
            step(case, record)
            record[tier] = True
            print(f"{case.name}: {tier} done, {time.time() - case_began:.0f} s", file=sys.stderr)
            save()
        longest = max(longest, time.time() - case_began)
    notes = [budget_note(list(records.values()), args.per_language * len(LANGUAGES))]
    if skipped:
        notes.append(f"{skipped} drawn cases were replaced: their completion did not tokenize back to its own ids.")
    if peer is None:
        notes.append("The context-cite package was not importable in this run: its row is absent.")
    summary = summarise(list(records.values()), args.resamples, args.seed)
    tokens = [r["context_tokens"] for r in records.values()]
    counts = ", ".join(f"{sum(r['language'] == lang for r in records.values())} {lang}" for lang in LANGUAGES)
    description = (
        f"{len(records)} completions ({counts}), "
        f"{min(tokens, default=0)}-{max(tokens, default=0)} context tokens, {args.new_tokens} greedy tokens each; "
        f"{args.held_out} held-out masks per completion (each line kept with probability 1/2); "
        f"surrogate at {', '.join(map(str, args.ablations))} ablations; context-cite at {args.peer_ablations}. "
        f"Cell: mean LDS [bootstrap 95 % interval, {args.resamples} resamples of completions] (n completions). "
        "Seconds: median per completion (LOO and the surrogates include their forward passes)."
    )
    finished = all(r.get("tier2") and (peer is None or r.get("tier3")) for r in records.values())
    if finished and len(cases) == args.per_language * len(LANGUAGES):
        partial.unlink(missing_ok=True)
    return {"description": description, "summary": summary, "notes": notes, "completions": list(records.values())}


def main(argv: list[str] | None = None) -> int:
    """Run the parts the flags name and write completion.json / completion.md."""
    args = parse_args(argv)
    began = time.time()
    torch.set_num_threads(args.threads)
    loaded = load_model(args.model, args.device, progress=lambda fraction, message: None)
    # float32 everywhere, TF32 off: the tables measure the same model on every device.
    loaded.model.to(dtype=torch.float32)
    torch.backends.cuda.matmul.allow_tf32 = False
    args.batch = args.batch or (64 if loaded.device.type == "cuda" else 8)
    path = args.out / "completion.json"
    load = [os.getloadavg()[0]]
    record: dict[str, Any] = {
        "machine": environment_line() + f"; model on {loaded.device.type} in float32",
        "settings": {"model": args.model, "quick": args.quick, "seed": args.seed},
    }
    if args.only != "study":
        record["cost"] = measure(
            loaded, args.cost_sizes, args.cost_new_tokens, args.cost_repeats, args.cost_ablations, args.seed, args.batch
        )
    if args.only != "cost":
        record["study"] = run_study(loaded, args, began)
    load.append(os.getloadavg()[0])
    record["load"] = load
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only and path.is_file():  # keep the part this run did not measure (read now: it may run beside)
        previous = json.loads(path.read_text(encoding="utf-8"))
        other = "study" if args.only == "cost" else "cost"
        if other in previous:
            record[other] = previous[other]
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    section = write_section(args.out, "completion.md", render(record))
    print(section.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
