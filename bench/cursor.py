"""The cursor's request as the editor sends it: ``attenScope/attention`` with ``prediction: false``
(the tints' request on every cursor move), answered by a real server process over JSON-RPC (stdio)
to a separate client, the way the extension talks to it.

The standard library's http/client.py, cut after the last whole line within ``--tokens`` tokens
(2,048 by default), is opened and analysed once with the server's default settings (the default
view, memory budget and window), then ``--requests`` positions drawn uniformly over its lines and
characters (seeded) are asked in turn; ``--warmup`` requests before them are not counted. Latency
is from writing the request to reading its answer, JSON included. Reported: p50, p95 and max per
size, the server's own share (the answer's build, timed in process on the same positions and
document) beside it.

Writes ``cursor.json`` and ``cursor.md`` into ``--out`` (default ``bench/results``) and regenerates
RESULTS.md. Run it on a quiet machine: the tail is what other work on the cores moves first.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import torch

from removal import SOURCE, source_text
from report import DEFAULT_RESULTS, ensure_engine_importable, environment_line, percentile, table, write_section
from soak import Server, open_doc, uri_of

ensure_engine_importable()

from atten_scope.engine.model import LoadedModel, load_model  # noqa: E402
from atten_scope.lsp.settings import Settings  # noqa: E402


def positions(text: str, count: int, seed: int) -> list[dict[str, int]]:
    """``count`` cursor positions, uniform over the lines and then the characters of each (UTF-16)."""
    lines = text.split("\n")
    chooser = random.Random(seed)
    found = []
    for _ in range(count):
        line = chooser.randrange(len(lines))
        found.append({"line": line, "character": chooser.randrange(len(lines[line].encode("utf-16-le")) // 2 + 1)})
    return found


def over_rpc(text: str, asked: list[dict[str, int]], warmup: int) -> dict[str, Any]:
    """Latencies in ms of the requests at ``asked`` from a client of a real server process."""
    server = Server({})
    try:
        uri = uri_of("client.py")
        open_doc(server, uri, text)
        response, analysed = server.request("attenScope/analyze", {"textDocument": {"uri": uri}})
        if "error" in response:
            raise SystemExit(f"the analysis failed: {response['error']}")
        latencies = []
        for index, position in enumerate(asked[:warmup] + asked):
            params = {"textDocument": {"uri": uri}, "position": position, "prediction": False}
            response, seconds = server.request("attenScope/attention", params)
            if "error" in response:
                raise SystemExit(f"the request at {position} failed: {response['error']}")
            if index >= warmup:
                latencies.append(seconds * 1000)
    finally:
        server.close()
    return {"analyse_s": analysed, "ms": latencies}


def in_process(loaded: LoadedModel, text: str, asked: list[dict[str, int]], warmup: int) -> tuple[list[float], int]:
    """The same answers built in process (no JSON-RPC): the server's own share, in ms, and the
    analysed token count."""
    from atten_scope.engine.analysis import run_analysis
    from atten_scope.engine.storage import MemoryBudget
    from atten_scope.protocol.builders import view_result

    settings = Settings()
    analysis = run_analysis(loaded, text, settings.max_tokens, budget=MemoryBudget(settings.memory_budget_mb))
    latencies = []
    for index, position in enumerate(asked[:warmup] + asked):
        began = time.perf_counter()
        view_result(
            "attention", analysis, {"position": position, "prediction": False}, version=1, defaults=settings.view
        )
        if index >= warmup:
            latencies.append((time.perf_counter() - began) * 1000)
    return latencies, analysis.token_count


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "max": max(values)}


def render(results: dict[str, Any]) -> str:
    rows = []
    for row in results["sizes"]:
        rpc, own = row["rpc"], row["in_process"]
        rows.append(
            [
                f"{row['tokens']:,}",
                f"{rpc['p50']:.1f}",
                f"{rpc['p95']:.1f}",
                f"{rpc['max']:.1f}",
                f"{own['p50']:.1f}",
                f"{own['p95']:.1f}",
            ]
        )
    return "\n".join(
        [
            "## The cursor's request over JSON-RPC (embedded SmolLM2-135M, default view)",
            "",
            f"Machine: {results['environment']}; load average {results['load'][0]:.1f} at the start, "
            f"{results['load'][1]:.1f} at the end.",
            "",
            f"`bench/cursor.py`: `attenScope/attention` with `prediction: false` (the tints' request on every cursor "
            f"move) from a separate client to a real server process over stdio, {results['requests']} positions "
            f"drawn uniformly over the lines of {SOURCE} cut to the size (seed {results['seed']}, "
            f"{results['warmup']} uncounted first), after one analysis with the default settings; the same answers "
            "built in process beside it (the server's own share). Target: p95 under 20 ms at 2,048 tokens.",
            "",
            table(["tokens", "p50 (ms)", "p95 (ms)", "max (ms)", "in process p50 (ms)", "in process p95 (ms)"], rows),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", default="2048", help="comma-separated file sizes in tokens")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(1)
    loaded = load_model(Settings().model, "cpu")  # cuts the file and builds the in-process answers
    load_start = os.getloadavg()[0]
    sizes = []
    for tokens in (int(t) for t in args.tokens.split(",")):
        text = source_text(loaded, tokens)
        asked = positions(text, args.requests, args.seed)
        rpc = over_rpc(text, asked, args.warmup)
        own, count = in_process(loaded, text, asked, args.warmup)
        sizes.append(
            {"tokens": count, "rpc": summary(rpc["ms"]), "in_process": summary(own), "analyse_s": rpc["analyse_s"]}
        )
        print(json.dumps(sizes[-1]), flush=True)
    results = {
        "environment": environment_line(),
        "load": [load_start, os.getloadavg()[0]],
        "requests": args.requests,
        "warmup": args.warmup,
        "seed": args.seed,
        "sizes": sizes,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cursor.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text_md = render(results)
    print(text_md)
    write_section(args.out, "cursor.md", text_md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
