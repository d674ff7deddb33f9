"""The mixed soak's extra steps (``soak.py --mixed``) and its section of RESULTS.md.

Besides the plain soak's cycle (open / analyse / cursor and hover / heatmap / edit / re-analyse /
attendedBy / close), a mixed cycle asks the requests that run the model again outside an analysis:
the information flow and the ALTI rollout at a token near the start of the file (both recompute the
window up to that token), "what if these lines were removed?" with its surprisal heat, a short
completion and its explanation by removals; on some cycles it runs on the second embedded model,
switched in and out through ``workspace/didChangeConfiguration`` as the editor's settings do.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

from report import environment_line, table

DEFAULT_MODEL = "embedded:smollm2-135m"
OTHER_MODEL = "embedded:gemma3-270m"
COMPLETION_TOKENS = 8
ABLATIONS = 8  # the fewest explainCompletion takes: the soak is about memory, not the explanation

Timed = Callable[[str, Any], "dict[str, Any] | None"]


def on_other_model(cycle: int, every: int) -> bool:
    """Whether ``cycle`` runs on ``OTHER_MODEL``: every ``every``-th cycle from cycle 3 (3, 13, 23, ...
    for 10), so that the RSS samples (cycle 5 and multiples of 5) are read with the default model
    loaded again, one cycle or more after the switch back; never when ``every`` is 0."""
    return every > 0 and cycle % every == 3 % every


def switch_model(notify: Callable[[str, Any], None], settings: dict[str, Any], model: str) -> None:
    """Change the model setting as the editor does: the server reloads in the background."""
    notify("workspace/didChangeConfiguration", {"settings": {"attenScope": settings | {"model": model}}})


def extra_requests(timed: Timed, uri: str, lines: list[str], chooser: random.Random) -> None:
    """The mixed cycle's model-running requests on the analysed, unedited document ``uri``.

    ``lines`` is its text split at line breaks (a file of 500 tokens or more has dozens); every
    position is chosen so that the request is valid: flow and ALTI within the first eight lines
    (ALTI covers at most 512 tokens of context), lines removed in the first third with the position
    on a later line that is not the last, the completion at the end of a line in the second half."""
    document = {"uri": uri}
    early = chooser.randrange(1, min(8, len(lines)))
    near_start = {"line": early, "character": chooser.randrange(len(lines[early]) + 1)}
    timed("attenScope/flow", {"textDocument": document, "position": near_start})
    timed("attenScope/altiRollout", {"textDocument": document, "position": near_start, "topK": 10})
    first = chooser.randrange(1, max(2, len(lines) // 3))
    last = first + chooser.randrange(2)
    after = chooser.randrange(last + 1, len(lines) - 1)
    timed(
        "attenScope/removeLines",
        {
            "textDocument": document,
            "lines": {"first": first, "last": last},
            "position": {"line": after, "character": 0},
            "heat": True,
        },
    )
    cursor = chooser.randrange(len(lines) // 2, len(lines) - 1)
    completed = timed(
        "attenScope/complete",
        {
            "textDocument": document,
            "position": {"line": cursor, "character": len(lines[cursor])},
            "maxNewTokens": COMPLETION_TOKENS,
        },
    )
    if completed and completed["completion"]["tokens"]:
        timed(
            "attenScope/explainCompletion",
            {"textDocument": document, "completionUri": completed["completionUri"], "ablations": ABLATIONS},
        )


def command_line(args: Any) -> str:
    """How the run was started, with the thread count and niceness it ran under."""
    parts = []
    if os.environ.get("OMP_NUM_THREADS"):
        parts.append(f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    if hasattr(os, "nice") and os.nice(0) > 0:
        parts.append(f"nice -n {os.nice(0)}")
    parts.append(
        f"python bench/soak.py --mixed --cycles {args.cycles} --smallest {args.smallest} --largest {args.largest} "
        f"--every {args.every} "
        f"--switch-every {args.switch_every} --cursor {args.cursor}"
    )
    return " ".join(parts)


def anonymous_trend(samples: list[dict[str, Any]]) -> list[str]:
    """A sentence on the stdio server's heap over the later half of the samples (where warm-up is
    over): its range and the last sample against the first of them; none with too few samples."""
    later = [s for s in samples[len(samples) // 2 :] if "RssAnon" in s["server"]]
    if len(later) < 3:
        return []
    values = [s["server"]["RssAnon"] / 2**20 for s in later]
    return [
        "",
        f"The stdio server's anonymous memory over the samples from cycle {later[0]['cycle']} on: "
        f"{min(values):,.0f}-{max(values):,.0f} MB, the last {100 * (values[-1] / values[0] - 1):+.1f} % against "
        f"cycle {later[0]['cycle']}.",
    ]


def mixed_markdown(result: dict[str, Any], args: Any) -> str:
    """The mixed soak as a subsection of the soak's section: both processes' RSS per sample against
    the sample after cycle 5, and what went wrong, counted per kind."""
    samples = result["samples"]
    base = next((s for s in samples if s["cycle"] == 5), None)

    def change(sample: dict[str, Any], key: str) -> str:
        if base is None or not base.get(key, {}).get("VmRSS") or not sample[key].get("VmRSS"):
            return "-"
        return f"{100 * (sample[key]['VmRSS'] / base[key]['VmRSS'] - 1):+.1f} %"

    def mb(memory: dict[str, int], key: str) -> str:
        return f"{memory[key] / 2**20:,.0f}" if key in memory else "-"

    rows = [
        [
            s["cycle"],
            f"{s['tokens']:,}",
            mb(s["server"], "VmRSS"),
            mb(s["server"], "RssAnon"),
            mb(s["server"], "RssFile"),
            mb(s["server"], "VmHWM"),
            change(s, "server"),
            s["server"].get("Threads", "-"),
            mb(s["tcp"], "VmRSS"),
            change(s, "tcp"),
            s["tcp"].get("Threads", "-"),
        ]
        for s in samples
    ]
    latency = [
        [method, v["count"], f"{1000 * v['p50_s']:,.0f}", f"{1000 * v['p95_s']:,.0f}", f"{1000 * v['max_s']:,.0f}"]
        for method, v in result["latency"].items()
    ]
    low, high = result["token_range"]
    tcp = result["tcp"]
    failures = result["failures"]
    default_only = all(s.get("model", DEFAULT_MODEL) == DEFAULT_MODEL for s in samples)
    first = [str(c) for c in range(1, 4 * args.switch_every + 1) if on_other_model(c, args.switch_every)]
    switches = (
        f"Cycles {', '.join(first)}, ... (one in {args.switch_every}) run on `{OTHER_MODEL}` (switched in through "
        "`workspace/didChangeConfiguration` before the open, back to the default after the close), "
        f"{result['model_switches']} switches in all"
        + (", so each sample below is read with the default model loaded. " if default_only else ". ")
        if args.switch_every
        else "No model switches. "
    )
    lines = [
        f"### Mixed use: model switches, flow, ALTI, removals, completions, TCP clients ({result['cycles']} cycles)",
        "",
        f"Machine: {environment_line()}",
        "",
        f"`{command_line(args)}`: one real server process over stdio and one `serve --tcp` process, "
        f"{result['cycles']} cycles over {result['files']} standard-library files of {low:,}-{high:,} tokens, "
        f"{result['minutes']:.0f} minutes. A cycle: open / analyse / {args.cursor} cursor and hover requests / "
        "heatmap / `attenScope/flow` and `attenScope/altiRollout` at a token in the first eight lines / "
        "`attenScope/removeLines` of one or two lines in the first third, with `heat` / `attenScope/complete` "
        f"of {COMPLETION_TOKENS} tokens at the end of a line in the second half, then "
        f"`attenScope/explainCompletion` of it ({ABLATIONS} ablations; both answers carry the instant "
        "attribution) / one-line edit / re-analyse / attention and attendedBy / close; then three TCP "
        "clients, one after the other: one that connects and closes without a byte, one that sends "
        "`initialize` and closes, one that sends `initialize`, `shutdown` and `exit` and waits for the "
        "server to close (each `initialize` names this process as `processId`). "
        + switches
        + "RSS is read after the cycle once it has settled (as above); threads are the process's. Anonymous "
        "memory is the heap (what a leak grows); file-backed pages are mapped files (the converted weights, "
        "analysis-cache entries), which the system reclaims under pressure.",
        "",
        f"Server over stdio: deaths {result['deaths']}, hangs {result['hangs']}, request errors "
        f"{result['errors']}, errors the server notified (`attenScope/status` error, error messages) "
        f"{result['notified']}. TCP server: {tcp['visits']} clients, deaths {tcp['deaths']}, hangs "
        f"{tcp['hangs']}, errors {tcp['errors']}; {tcp['busy']} connections refused as busy because the "
        "previous client's close had not yet been read, each served on a retry.",
        "",
        table(
            [
                "cycle",
                "file tokens",
                "server RSS (MB)",
                "of which anonymous (MB)",
                "file-backed (MB)",
                "server peak so far (MB)",
                "server RSS vs cycle 5",
                "server threads",
                "TCP server RSS (MB)",
                "TCP RSS vs cycle 5",
                "TCP server threads",
            ],
            rows,
        ),
        *anonymous_trend(samples),
        "",
        table(["request", "count", "p50 (ms)", "p95 (ms)", "max (ms)"], latency),
    ]
    if failures:
        lines += ["", "What went wrong (first 10):", ""] + [f"- {failure}" for failure in failures[:10]]
    return "\n".join(lines)
