"""``atten-scope complete``: the model continues a file at a position, each token with its odds,
``--explain`` says which lines drove it (by removals, with the LDS), and ``--html`` writes the
attention report of the context and the completion, opened at the first generated token."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.positions import DEFAULT_TAB_SIZE, LineIndex
from atten_scope.limits import ABLATIONS, MAX_NEW_TOKENS, MAX_TOKENS, MEMORY_BUDGET_MB
from atten_scope.terminal import (
    ProgressBar,
    StepProgress,
    default_model,
    offset_at,
    parse_at,
    quoted,
    read_document,
    show_progress,
)


def add_complete_command(commands: Any) -> None:
    complete = commands.add_parser("complete", help="complete the code at a position and show each token's odds")
    complete.add_argument("file", type=Path)
    complete.add_argument("--at", metavar="LINE:COL", required=True, help="the cursor: the Ln and Col an editor shows")
    complete.add_argument("--max-new-tokens", type=int, default=MAX_NEW_TOKENS.default)
    complete.add_argument(
        "--temperature", type=float, default=0.0, help="0 (default): the most probable token each time"
    )
    complete.add_argument("--seed", type=int, help="with --temperature: the same seed gives the same completion")
    complete.add_argument("--alternatives", type=int, default=3, help="alternatives shown per token")
    complete.add_argument("--json", action="store_true", help="print the attenScope/complete result as JSON")
    complete.add_argument(
        "--html", type=Path, metavar="OUT", help="write the attention report of the context and the completion"
    )
    complete.add_argument("--model", default=default_model())
    complete.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    complete.add_argument("--trust-remote-code", action="store_true", help="allow the model's own code to run")
    complete.add_argument("--tab-size", type=int, default=DEFAULT_TAB_SIZE, help="columns a tab advances to, for --at")
    complete.add_argument("--max-tokens", type=int, default=MAX_TOKENS.default, help="window size for long files")
    complete.add_argument("--explain", action="store_true", help="explain the completion by removals, with LDS")
    complete.add_argument("--ablations", type=int, default=ABLATIONS.default, help="random ablations for --explain")


def run_complete(args: argparse.Namespace) -> int:
    """``atten-scope complete``: the completion at ``--at``, a table of its tokens then its text."""
    from atten_scope.engine.generation import GenerationSettings, check_settings, generate
    from atten_scope.engine.model import load_model
    from atten_scope.engine.storage import MemoryBudget
    from atten_scope.protocol.builders.attribution import attribution_table, explanation_json
    from atten_scope.protocol.builders.completion import completion_json
    from atten_scope.protocol.params import Position
    from atten_scope.views.completion import Completion, EditedContext

    text = read_document(args.file)
    at = parse_at(args.at)
    assert at is not None  # --at is required
    if not MAX_TOKENS.minimum <= args.max_tokens <= MAX_TOKENS.maximum:
        raise InvalidRequest(f"--max-tokens must be from {MAX_TOKENS.minimum} to {MAX_TOKENS.maximum}.")
    lines = LineIndex(text)
    offset = offset_at(lines, at, args.tab_size)
    if args.seed is not None and args.temperature == 0:
        raise InvalidRequest("--seed chooses among samples: give a --temperature above 0 with it.")
    settings = GenerationSettings(args.max_new_tokens, args.temperature, args.seed, args.alternatives)
    check_settings(settings)  # before the model loads: a typo costs no loading
    if offset == 0:
        raise InvalidRequest(f"--at {args.at} is the start of the file: there is no code before it to continue.")
    loaded = load_model(
        args.model, args.device, args.trust_remote_code, progress=lambda _, message: show_progress(message)
    )
    bar = ProgressBar()
    generation = generate(
        loaded,
        text,
        offset,
        settings,
        max_tokens=args.max_tokens,
        progress=bar.update,
        budget=MemoryBudget(MEMORY_BUDGET_MB.default),
    )
    bar.close()
    done = Completion(generation, EditedContext(text, offset, (), 0), lines.line_of(offset))
    place = lines.position(offset)
    result = completion_json(done, Position(line=place.line, character=place.character), loaded.tokenizer, None)
    explanation = explain_completion_cli(loaded, generation, args) if args.explain else None
    if args.html is not None:
        write_completion_report(args.html, loaded, generation, args.file.name)
    if args.json:
        if explanation is not None:
            result["explanation"] = explanation_json(explanation)
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(_completion_table(result, f"{at[0]}:{at[1]}"))
        if explanation is not None:
            print(attribution_table((explanation.attribution, explanation.instant), generation.analysis.lines, 10))
    return 0


def explain_completion_cli(loaded: Any, generation: Any, args: argparse.Namespace) -> Any:
    """``--explain``: ``attribution.explain_generation`` with a progress bar."""
    from atten_scope.views.attribution import explain_generation

    if not ABLATIONS.minimum <= args.ablations <= ABLATIONS.maximum:
        raise InvalidRequest(f"--ablations must be from {ABLATIONS.minimum} to {ABLATIONS.maximum}.")
    bar = ProgressBar()
    explanation = explain_generation(loaded, generation, None, args.ablations, progress=bar.update)
    bar.close()
    return explanation


def write_completion_report(path: Path, loaded: Any, generation: Any, title: str) -> None:
    """``--html``: ``analyze --html``'s report of the completion's analysis (the context, then the
    completion), in the model's default view, opened at the first generated token.

    The generation's analysis holds the completion's rows like any other token's, so every
    generated token answers a hover; opening at the first shows what the completion drew on.
    """
    from atten_scope.report import write_report
    from atten_scope.views.evidence import default_options
    from atten_scope.views.languages import language_of_path

    analysis = generation.analysis
    # A completion cut before its first token (an immediate stop) leaves nothing generated: open at
    # the last context token then, whose prediction is what was declined.
    focus = min(generation.start, analysis.token_count - 1)
    options = default_options(loaded.info.id)
    progress = StepProgress().update
    write_report(path, analysis, focus, options, title, progress=progress, language=language_of_path(title))
    show_progress(f"wrote {path}")


def _completion_table(result: dict[str, Any], at: str) -> str:
    """The completion for people: one row per token (probability, entropy, alternatives), then its text."""
    completion, cost = result["completion"], result["cost"]
    out = [
        f"Completion at {at}: {cost['generatedTokens']} tokens, stopped by {completion['stop']} "
        f"({cost['seconds']:.1f} s; {cost['reusedTokens']} context tokens reused, {cost['computedTokens']} computed)",
        f"{'#':>4}  {'token':<20} {'prob':>7} {'bits':>6}  alternatives",
    ]
    for number, token in enumerate(completion["tokens"], start=1):
        others = ", ".join(
            f"{quoted(a['label'])} {a['probability'] * 100:.1f}%"
            for a in token["alternatives"]
            if a["id"] != token["id"]
        )
        shown = quoted(token["label"]) + (" (forced)" if token["forced"] else "")
        out.append(f"{number:>4}  {shown:<20} {token['probability'] * 100:6.1f}% {token['entropy']:6.2f}  {others}")
    out += ["", completion["text"]]
    return "\n".join(out)
