"""The cost of "What if these lines were removed?" (``removal.removal_effect``) against a full analysis.

A real file, the standard library's http/client.py read at run time, cut to ``--tokens`` tokens
at a line end, is analysed once; then one line is removed at about the middle and at 90 % of
its tokens (the first non-blank line from there on), the prediction at the end of the file's last
line compared, back to back with a full analysis of the same text (``--repeats`` rounds;
medians). Each removal is timed without and with the heat (every later token's surprisal before
and after: the LM head over the edited document's rows). Before the rounds the document's own
surprisal is computed once, as the language server does while the editor is idle after an
analysis, so the heat's time is the edited document's only.

Writes ``removal.md`` into ``--out`` (default ``bench/results``) and regenerates RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sysconfig
import time
from pathlib import Path
from typing import Any

import torch

from report import DEFAULT_RESULTS, ensure_engine_importable, environment_line, table, write_section

ensure_engine_importable()

from atten_scope.engine.analysis import Analysis, run_analysis  # noqa: E402
from atten_scope.engine.model import LoadedModel, load_model  # noqa: E402
from atten_scope.engine.tokens import tokenize  # noqa: E402
from atten_scope.views.removal import removal_effect  # noqa: E402

MODEL = "embedded:smollm2-135m"
WINDOW = 4096  # the default window: the file is one window, as in the editor
SOURCE = "http/client.py"


def source_text(loaded: LoadedModel, tokens: int) -> str:
    """The standard library's http/client.py, cut after the last whole line within ``tokens`` tokens."""
    text = (Path(sysconfig.get_paths()["stdlib"]) / SOURCE).read_text(encoding="utf-8")
    doc = tokenize(loaded.tokenizer, text[: tokens * 8])
    if len(doc) < tokens:
        raise ValueError(f"{SOURCE} is shorter than {tokens} tokens")
    end = doc.ends[tokens - 1]
    return text[: text.rfind("\n", 0, end) + 1]


def line_at(analysis: Analysis, fraction: float) -> int:
    """The first non-blank line at or after the token at ``fraction`` of the document's tokens."""
    lines = analysis.document.text.split("\n")
    line = int(analysis.token_lines[int(fraction * analysis.token_count)])
    while not lines[line].strip():
        line += 1
    return line


def last_position(text: str) -> dict[str, int]:
    """The last non-blank character of the last non-blank line (where the extension compares by default)."""
    lines = text.split("\n")
    line = max(i for i, t in enumerate(lines) if t.strip())
    return {"line": line, "character": len(lines[line].rstrip()) - 1}


def measure(loaded: LoadedModel, text: str, repeats: int) -> dict[str, Any]:
    analysis = run_analysis(loaded, text, WINDOW)
    analysis.next_logprobs()  # the language server does this while the editor is idle
    position = last_position(text)
    cursor = analysis.lines.offset(position["line"], position["character"])
    places = {"middle": line_at(analysis, 0.5), "90 %": line_at(analysis, 0.9)}
    full_s: list[float] = []
    timings: dict[str, dict[str, list[float]]] = {p: {"plain": [], "heat": []} for p in places}
    counts: dict[str, dict[str, int]] = {}
    for _ in range(repeats):
        gc.collect()
        began = time.perf_counter()
        run_analysis(loaded, text, WINDOW)
        full_s.append(time.perf_counter() - began)
        for place, line in places.items():
            for kind in ("plain", "heat"):
                gc.collect()
                began = time.perf_counter()
                effect = removal_effect(analysis, loaded, line, line, cursor, heat=kind == "heat")
                timings[place][kind].append(time.perf_counter() - began)
                counts[place] = {"line": line, "tokens": effect.tokens, "reused": effect.reused}
    return {
        "tokens": analysis.token_count,
        "full_s": statistics.median(full_s),
        "places": {
            place: {
                **counts[place],
                "recomputed": counts[place]["tokens"] - counts[place]["reused"],
                "removal_s": statistics.median(timings[place]["plain"]),
                "heat_s": statistics.median(timings[place]["heat"]),
            }
            for place in places
        },
    }


def render(results: dict[str, Any], note: str) -> str:
    full = results["full_s"]
    rows = [
        [
            place,
            r["line"] + 1,
            f"{r['recomputed']:,}",
            f"{r['reused']:,}",
            f"{r['removal_s']:.2f}",
            f"{r['heat_s']:.2f}",
            f"{full:.2f}",
            f"{r['removal_s'] / full:.2f}",
            f"{r['heat_s'] / full:.2f}",
        ]
        for place, r in results["places"].items()
    ]
    lines = [
        '## "What if these lines were removed?": cost vs a full analysis',
        "",
        f"Machine: {results['environment']}",
        "",
        f"`bench/removal.py --tokens {results['requested']} --repeats {results['repeats']} --threads "
        f"{results['threads']}`: the standard library's `{SOURCE}` cut to {results['tokens']:,} tokens at a line end "
        f"(one {WINDOW}-token window), one line removed, the prediction at the end of the file's last line compared "
        "(`removal.removal_effect`); medians of back-to-back rounds with a full analysis of the same text. "
        "Time: tokenizing the edited text, the model over the recomputed tokens (the state before the removed "
        "line is copied), the two predictions; with the heat also the LM head over the edited document's "
        "rows (the document's own surprisal was computed beforehand, as the server does while the editor is idle).",
    ]
    if note:
        lines += ["", note]
    lines += [
        "",
        table(
            [
                "removed line at",
                "line",
                "tokens recomputed",
                "tokens reused",
                "removal (s)",
                "with heat (s)",
                "full analysis (s)",
                "removal / full",
                "with heat / full",
            ],
            rows,
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2048, help="tokens of the file (cut at a line end)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of full analysis and removals")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS, help="results folder (default bench/results)")
    parser.add_argument("--note", default="", help="a caveat printed under the header")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    loaded = load_model(MODEL, "cpu")
    text = source_text(loaded, args.tokens)
    results = measure(loaded, text, args.repeats)
    results.update(environment=environment_line(), requested=args.tokens, repeats=args.repeats, threads=args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "removal.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text_md = render(results, args.note)
    print(text_md)
    write_section(args.out, "removal.md", text_md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
