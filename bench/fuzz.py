"""Long fuzzing of the language server: the strategies of ``tests/lsp/test_fuzz.py``, for minutes.

Plays random programs (``tests/lsp/fuzz_strategies.py``: requests of every view, analyze and
hover, document sync, settings and cancellations, interleaved) against one real server over
JSON-RPC, with the checks of ``tests/lsp/fuzz_driver.py``: every answer a result or a documented
error, never an internal error, no hang, no death, no error logged for a notification. The long
tier (the default) sets every model setting, opens longer documents, plays longer programs and
asks for costlier in-range values than the test's short tier.

Each distinct finding is printed once, when first seen, with the smallest program that showed
it (hypothesis shrinks a failing program for up to ``--shrink-minutes``); at the end, a summary of
the programs, the answers by code and the findings. A hang or a death restarts the server.

    python bench/fuzz.py --minutes 10 [--tier long|short] [--seed N] [--out DIR] [--server-log FILE]

Not part of the test run; ``--out`` writes ``fuzz.json`` there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "server")]

from tests.lsp.fuzz_driver import BASELINE, Finding, Player, fuzz_config, server_running, still_answers  # noqa: E402
from tests.lsp.fuzz_strategies import LONG, SHORT, Step, programs  # noqa: E402
from tests.lsp.support import start  # noqa: E402

HANG_S = 300.0  # long programs queue several model-running requests on one thread


@dataclass
class Seen:
    """One distinct finding: how often it came, and the shortest program that showed it."""

    finding: Finding
    program: str
    count: int = 1


@dataclass
class Run:
    """The fuzzing session's state across rounds and server restarts."""

    end: float
    shrink_s: float
    began: float = field(default_factory=time.monotonic)
    programs: int = 0
    restarts: int = 0
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)  # (method, result or error code)
    refusals: Counter[str] = field(default_factory=Counter)  # error answers by method and message
    seen: dict[str, Seen] = field(default_factory=dict)

    def clock(self) -> str:
        elapsed = int(time.monotonic() - self.began)
        return f"{elapsed // 60:02d}:{elapsed % 60:02d}"

    def record(self, findings: list[Finding], program: list[Step]) -> list[str]:
        """Count the findings, keeping the shortest program of each; returns the signatures first seen."""
        text = "\n".join(f"    {step!r}" for step in program)
        new = []
        for finding in findings:
            known = self.seen.get(finding.signature)
            if known is None:
                self.seen[finding.signature] = Seen(finding, text)
                new.append(finding.signature)
                print(f"[{self.clock()}] NEW {finding}\n  program ({len(program)} steps):\n{text}", flush=True)
            else:
                known.count += 1
                if len(text) < len(known.program):
                    known.finding, known.program = finding, text
        return new


async def new_server() -> Any:
    client: Any = await fuzz_config().start()
    await start(client, BASELINE)
    return client


async def close(client: Any) -> None:
    try:
        await asyncio.wait_for(client.shutdown_session(), timeout=30)
    except Exception:  # hung or dead: end it
        process = getattr(client, "_server", None)
        if process is not None and process.returncode is None:
            process.kill()
    await asyncio.wait_for(client.stop(), timeout=30)


def tally(run: Run, player: Player) -> None:
    for sent in player.sent:
        if not sent.answer.done() or sent.answer.cancelled():
            run.answers[sent.method, "none"] += 1
            continue
        error = sent.answer.exception()
        run.answers[sent.method, "result" if error is None else str(getattr(error, "code", type(error).__name__))] += 1
        if error is not None:
            run.refusals[f"{sent.method}: {re.sub(r'[0-9]+', 'N', str(error))[:80]}"] += 1


@dataclass
class Fuzzer:
    """One server and its player, replaced after a hang or a death."""

    run: Run
    loop: asyncio.AbstractEventLoop
    client: Any = None
    player: Player | None = None
    shrink_until: float | None = None  # set at a round's first new finding
    shrinking: str | None = None  # its signature: the programs that show it fail, the others pass

    def restart(self) -> Player:
        if self.client is not None:
            self.loop.run_until_complete(close(self.client))
        self.client = self.loop.run_until_complete(new_server())
        self.player = Player(self.client, HANG_S, logs=True)
        return self.player

    def play(self, program: list[Step]) -> None:
        """One hypothesis example: the program played and its findings recorded. A finding not seen
        before fails the example, and so do the smaller programs that show it again while hypothesis
        shrinks it; a known one passes, so that it is shrunk once."""
        now = time.monotonic()
        player = self.player
        if player is None or not player.healthy or now > self.run.end:
            return  # out of time, or the server must be replaced first: the rest pass unplayed
        if self.shrink_until is not None and now > self.shrink_until:
            return
        findings = self.loop.run_until_complete(player.play(program))
        self.run.programs += 1
        tally(self.run, player)
        new = self.run.record(findings, program)
        if new and self.shrinking is None:
            self.shrinking, self.shrink_until = new[0], now + self.run.shrink_s
        if any(finding.signature == self.shrinking for finding in findings):
            raise AssertionError(self.shrinking)

    def still_answers(self) -> bool:
        """The round's last check: a real analysis and attention request answered."""
        if self.player is None or not self.player.healthy:
            return False
        try:
            self.loop.run_until_complete(still_answers(self.client))
        except Exception as error:
            kind = "death" if not server_running(self.client) else "hang"
            self.run.record([Finding(kind, "(final check)", None, repr(error))], [])
            return False
        return True


def fuzz(args: argparse.Namespace) -> Run:
    tier = LONG if args.tier == "long" else SHORT
    run = Run(end=time.monotonic() + args.minutes * 60, shrink_s=args.shrink_minutes * 60)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    fuzzer = Fuzzer(run, loop)
    fuzzer.restart()
    rng = random.Random(args.seed)
    options = settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate, Phase.shrink),
        print_blob=False,
    )

    def example(program: list[Step]) -> None:
        fuzzer.play(program)

    while time.monotonic() < run.end:
        fuzzer.shrink_until = fuzzer.shrinking = None
        round_of = options(seed(rng.getrandbits(64))(given(program=programs(tier))(example)))
        try:
            round_of()
        except Exception:  # the round's failure (or hypothesis' doubt about it): recorded by play
            pass
        if fuzzer.still_answers():
            answered = sum(run.answers.values())
            results = sum(count for (_, outcome), count in run.answers.items() if outcome == "result")
            print(f"[{run.clock()}] {run.programs} programs, {answered} answers, {results} results", flush=True)
        else:
            print(f"[{run.clock()}] restarting the server", flush=True)
            fuzzer.restart()
            run.restarts += 1
    loop.run_until_complete(close(fuzzer.client))
    loop.close()
    return run


def answers_by_method(run: Run) -> dict[str, dict[str, int]]:
    """{method: {"result" or an error code: answers}}, methods by their number of answers."""
    table: dict[str, dict[str, int]] = {}
    for (method, outcome), count in sorted(run.answers.items(), key=lambda item: -item[1]):
        table.setdefault(method, {})[outcome] = count
    return dict(sorted(table.items(), key=lambda item: -sum(item[1].values())))


def summary(run: Run, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "tier": args.tier,
        "minutes": args.minutes,
        "seed": args.seed,
        "programs": run.programs,
        "restarts": run.restarts,
        "answers": answers_by_method(run),
        "refusals": dict(run.refusals.most_common(40)),
        "findings": [
            {
                "kind": seen.finding.kind,
                "method": seen.finding.method,
                "detail": seen.finding.detail,
                "count": seen.count,
                "program": seen.program,
            }
            for seen in run.seen.values()
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to fuzz (default 10)")
    parser.add_argument("--tier", choices=("long", "short"), default="long", help="how far the strategies reach")
    parser.add_argument("--seed", type=int, default=0, help="seeds the rounds (default 0)")
    parser.add_argument("--examples", type=int, default=25, help="programs per hypothesis round (default 25)")
    parser.add_argument("--shrink-minutes", type=float, default=2.0, help="time to shrink a failing program")
    parser.add_argument("--refusals", type=int, default=15, help="error answers to list by message (default 15)")
    parser.add_argument("--out", type=Path, help="write fuzz.json into this folder")
    parser.add_argument("--server-log", type=Path, help="the server's stderr (tracebacks) go here, else nowhere")
    args = parser.parse_args()

    # pytest-lsp forwards the server's stderr to ours, and the client logs every logMessage: keep
    # this script's output to its findings.
    sys.stderr = open(args.server_log or os.devnull, "w", encoding="utf-8")
    run = fuzz(args)
    result = summary(run, args)
    print(f"\n{result['programs']} programs in {args.minutes:g} min ({args.tier} tier), {run.restarts} restarts")
    print("answers (result, or the error code):")
    for method, outcomes in result["answers"].items():
        print(f"  {method}: " + ", ".join(f"{outcome} {count}" for outcome, count in outcomes.items()))
    print("most frequent error answers:")
    for refusal, count in run.refusals.most_common(args.refusals):
        print(f"  {count:6d}  {refusal}")
    print(f"{len(result['findings'])} distinct findings")
    for item in result["findings"]:
        print(f"- {item['kind']} x{item['count']}: {item['method']}: {item['detail'][:300]}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "fuzz.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
