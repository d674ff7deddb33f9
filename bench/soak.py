"""Memory soak of the language server: does its memory stay bounded over hours of real use?

Two runs, each against a real server process (``python -m atten_scope serve`` over stdio):

- ``--long TOKENS``: one file of TOKENS tokens (Python standard-library sources joined), analysed
  end to end under the default memory budget, then hovered at its first, middle and last token.
  Reports the analysis time, the hovers and the server's peak RSS.
- the soak (default): CYCLES cycles of open / analyse / cursor and heatmap requests / edit /
  re-analyse / close over standard-library files of 500-12,000 tokens. Reports the server's RSS
  every ``--every`` cycles, request latencies (p50, p95), deaths (the server exited; it is
  restarted) and hangs (a request got no answer within its time limit; the server is restarted).
- ``--mixed``: the soak's cycles also run the flow, ALTI, removal, completion and explanation
  requests, switch to the second embedded model and back every ``--switch-every`` cycles, and
  visit a second server (``serve --tcp``) with three short-lived TCP clients each
  (``soak_mixed.py``, ``soak_tcp.py``). Reports deaths, hangs and errors per cycle and both
  processes' RSS and threads; written as ``soak-mixed.json`` and ``soak-mixed.md``.

Not part of ``make test``: it takes minutes to hours. Results go to ``--out`` (JSON and Markdown).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import queue
import random
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from report import environment_line, table, write_section  # noqa: E402
from soak_mixed import (  # noqa: E402
    DEFAULT_MODEL,
    OTHER_MODEL,
    extra_requests,
    mixed_markdown,
    on_other_model,
    switch_model,
)
from soak_tcp import TcpError, TcpHung, TcpServer, Visits, frame, read_message  # noqa: E402

# The requests that run the model get minutes: on two shared cores one can wait behind another's analysis.
TIME_LIMITS = {
    "attenScope/analyze": 3600.0,
    "attenScope/heatmap": 300.0,
    "attenScope/flow": 300.0,
    "attenScope/altiRollout": 300.0,
    "attenScope/removeLines": 600.0,
    "attenScope/complete": 600.0,
    "attenScope/explainCompletion": 600.0,
}
DEFAULT_LIMIT = 60.0
LOG_TAIL = 20


class ServerDied(Exception):
    pass


class RequestHung(Exception):
    pass


class Server:
    """A language server child process and a minimal JSON-RPC client for it."""

    def __init__(self, settings: dict[str, Any]) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "server"), env.get("PYTHONPATH", "")) if p)
        env.setdefault("HF_HUB_OFFLINE", "1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "atten_scope", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.log_tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL)  # why it died, if it does
        threading.Thread(target=self._drain_log, daemon=True).start()
        self.next_id = 0
        self.responses: dict[int, queue.Queue[dict[str, Any]]] = {}
        self.lock = threading.Lock()
        self.notices: list[str] = []  # errors the server told the client of, unasked
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.request(
            "initialize",
            {"processId": os.getpid(), "capabilities": {}, "initializationOptions": {"settings": settings}},
        )
        self.notify("initialized", {})

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while (message := read_message(stream)) is not None:
            if "id" in message and "method" not in message:
                with self.lock:
                    waiting = self.responses.get(message["id"])
                if waiting is not None:
                    waiting.put(message)
            elif "id" in message:  # a server -> client request (progress tokens, configuration)
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            else:
                notice = notified_error(message)
                if notice is not None:
                    with self.lock:
                        self.notices.append(notice)

    def _drain_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log_tail.append(line.decode(errors="replace").rstrip())

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(frame(message))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise ServerDied(str(error)) from error

    def notify(self, method: str, params: Any) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any) -> tuple[dict[str, Any], float]:
        """(response, seconds); raises ServerDied or RequestHung."""
        with self.lock:
            self.next_id += 1
            number = self.next_id
            waiting: queue.Queue[dict[str, Any]] = queue.Queue()
            self.responses[number] = waiting
        began = time.perf_counter()
        self._send({"jsonrpc": "2.0", "id": number, "method": method, "params": params})
        limit = TIME_LIMITS.get(method, DEFAULT_LIMIT)
        while True:
            try:
                response = waiting.get(timeout=1.0)
                break
            except queue.Empty:
                if self.process.poll() is not None:
                    time.sleep(0.5)  # the log's last lines
                    last = " | ".join(list(self.log_tail)[-3:])
                    raise ServerDied(f"exit status {self.process.returncode}; its log ended: {last}") from None
                if time.perf_counter() - began > limit:
                    raise RequestHung(f"{method} gave no answer in {limit:.0f} s") from None
        with self.lock:
            del self.responses[number]
        return response, time.perf_counter() - began

    def memory(self) -> dict[str, int]:
        """The server's VmRSS, VmHWM, RssAnon and RssFile in bytes and its Threads (Linux)."""
        return process_memory(self.process.pid)

    def take_notices(self) -> list[str]:
        with self.lock:
            taken, self.notices = self.notices, []
        return taken

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.process.wait(timeout=20)
        except (ServerDied, RequestHung, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


def process_memory(pid: int) -> dict[str, int]:
    """Process ``pid``'s VmRSS, VmHWM, RssAnon and RssFile in bytes and its Threads (Linux; empty elsewhere)."""
    found: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                found[key] = int(value.split()[0]) * 1024
            elif key == "Threads":
                found[key] = int(value)
    except OSError:
        pass
    return found


def notified_error(message: dict[str, Any]) -> str | None:
    """The error a server notification reports (``attenScope/status`` in state error, an error
    ``window/showMessage``), else None."""
    params = message.get("params") or {}
    if message.get("method") == "attenScope/status" and params.get("state") == "error":
        return f"status error: {params.get('message')}"
    if message.get("method") == "window/showMessage" and params.get("type") == 1:
        return f"error message: {params.get('message')}"
    return None


def tokenizer() -> Any:
    """The embedded model's tokenizer, from the converted-weights cache (analyse a file once first)."""
    from tokenizers import Tokenizer

    from atten_scope.engine.embedded import converted_dir, embedded_gguf_path

    found = converted_dir(embedded_gguf_path()) / "tokenizer.json"  # the default model's, as the server uses
    if not found.is_file():
        raise SystemExit("No converted embedded model in the cache: run `make demo` or analyse a file first.")
    return Tokenizer.from_file(str(found))


def library_files(tok: Any, low: int, high: int) -> list[tuple[Path, str, int]]:
    """Standard-library sources of low..high tokens: (path, text, tokens), smallest first."""
    found = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        count = len(tok.encode(text).ids)
        if low <= count <= high:
            found.append((path, text, count))
    return sorted(found, key=lambda item: item[2])


def end_position(text: str) -> dict[str, int]:
    lines = text.split("\n")
    return {"line": len(lines) - 1, "character": len(lines[-1].encode("utf-16-le")) // 2}


def uri_of(name: str) -> str:
    return f"file:///soak/{name}"


def open_doc(server: Server, uri: str, text: str, version: int = 1) -> None:
    server.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": text}},
    )


def ok(response: dict[str, Any], what: str) -> dict[str, Any]:
    if "error" in response:
        raise RuntimeError(f"{what}: {response['error'].get('code')} {response['error'].get('message')}")
    return response["result"]  # type: ignore[no-any-return]


def long_run(args: argparse.Namespace) -> dict[str, Any]:
    tok = tokenizer()
    parts, count = [], 0
    for _, text, tokens in reversed(library_files(tok, 500, 200_000)):
        parts.append(text)
        count += tokens
        if count >= args.long:
            break
    text = "\n".join(parts)
    ids = tok.encode(text)
    cut = ids.offsets[args.long - 1][1] if len(ids.ids) > args.long else len(text)
    text = text[:cut]
    server = Server({"maxTokens": args.max_tokens} | ({"memoryBudgetMB": args.budget} if args.budget else {}))
    result: dict[str, Any] = {"tokens_asked": args.long, "characters": len(text)}
    try:
        uri = uri_of("long.py")
        open_doc(server, uri, text)
        result["rss_after_open"] = server.memory()
        samples: list[dict[str, Any]] = []
        done = threading.Event()
        began = time.perf_counter()

        def sample() -> None:  # the server's memory through the analysis, every 10 s
            while not done.wait(10.0):
                samples.append({"elapsed_s": round(time.perf_counter() - began)} | server.memory())
                print(json.dumps(samples[-1]), flush=True)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            response, seconds = server.request("attenScope/analyze", {"textDocument": {"uri": uri}})
        finally:
            done.set()
            result["rss_during_analyze"] = samples
        analysed = ok(response, "analyze")
        result["analyze_s"] = seconds
        result["tokens"] = analysed["tokens"]
        result["windows"] = len(analysed["windows"])
        result["truncated"] = analysed["truncated"]
        result["rss_after_analyze"] = server.memory()
        middle = {"line": text.count("\n") // 2, "character": 0}
        hovers = {}
        for name, position in (
            ("first", {"line": 0, "character": 0}),
            ("middle", middle),
            ("last", end_position(text)),
        ):
            response, seconds = server.request(
                "textDocument/hover", {"textDocument": {"uri": uri}, "position": position}
            )
            hover = ok(response, f"hover {name}")
            contents = hover["contents"]["value"] if hover else ""
            hovers[name] = {
                "seconds": seconds,
                "answered": bool(hover),
                "heading": contents.splitlines()[0] if contents else "",
            }
        result["hovers"] = hovers
        # Every kind of view: at the middle token the tints both ways, the heatmap overview, the
        # information flow, the logit lens and the surprise heat of the 1,024 tokens around it; a
        # line near the end removed (the removal recomputes from the line to the end of the file).
        document = {"uri": uri}
        last_line = text.count("\n")
        tokens = int(analysed["tokens"])
        views = {}
        for name, method, params in (
            ("attendsTo", "attenScope/attention", {"position": middle}),
            ("attendedBy", "attenScope/attention", {"position": middle, "direction": "attendedBy"}),
            ("heatmap", "attenScope/heatmap", {"layer": "all", "head": "all"}),
            ("flow", "attenScope/flow", {"position": middle}),
            ("logitLens", "attenScope/logitLens", {"position": middle}),
            ("surprise", "attenScope/surprise", {"rows": [max(0, tokens // 2 - 512), min(tokens, tokens // 2 + 512)]}),
            (
                "removeLines",
                "attenScope/removeLines",
                {"lines": {"first": last_line - 3, "last": last_line - 3}, "position": end_position(text)},
            ),
        ):
            try:
                response, seconds = server.request(method, {"textDocument": document, **params})
            except RequestHung as hung:
                views[name] = {"seconds": None, "answered": False, "error": str(hung)}
                continue
            views[name] = {"seconds": seconds, "answered": "result" in response and response["result"] is not None}
            if not views[name]["answered"]:
                views[name]["error"] = str(response.get("error", {}).get("message", ""))[:200]
        result["views"] = views
        result["rss_end"] = server.memory()
    finally:
        server.close()
    return result


def long_markdown(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The long file's section: its analysis under the default budget, the server's memory during it
    and after the views (heap and mapped files apart), the hovers and the views."""
    mb = 1024 * 1024
    after, end = result["rss_after_analyze"], result["rss_end"]
    peak = max([after["VmHWM"], *(s["VmHWM"] for s in result.get("rss_during_analyze", []))])
    rate = result["tokens"] / result["analyze_s"]
    hovers = ", ".join(
        f"{name} {h['seconds'] * 1000:,.0f} ms" + ("" if h["answered"] else " (no card)")
        for name, h in result["hovers"].items()
    )
    budget = f"{args.budget} MB" if args.budget else "the default"
    views = ", ".join(
        f"{name} {v['seconds']:,.1f} s" if v["answered"] else f"{name}: {v.get('error') or 'no answer'}"
        for name, v in result.get("views", {}).items()
    )
    return "\n".join(
        [
            f"## One file of {result['tokens']:,} tokens (target: peak RSS <= 6 GB, time linear in tokens)",
            "",
            f"Machine: {environment_line()}",
            "",
            f"`bench/soak.py --long {args.long}`: Python standard-library sources joined into one file of "
            f"{result['characters']:,} characters, opened in one real server over stdio and analysed with "
            f"{budget} memory budget and {args.max_tokens}-token windows ({result['windows']} windows; windows "
            "beyond the budget are kept on disk and mapped back when read), then hovered at its first, middle "
            "and last token; then each kind of view asked at the middle token (seconds to the answer). Peak RSS: "
            "the kernel's high-water mark up to the end of the analysis. After the views, the RSS is given as the "
            "heap (anonymous memory) and the mapped files (the converted weights and the spilled windows the views "
            "read, pages the system reclaims under pressure).",
            "",
            table(
                [
                    "tokens",
                    "analysis (s)",
                    "tokens / s",
                    "peak RSS, analysis (MB)",
                    "after the views: heap / mapped files (MB)",
                    "hovers",
                    "views",
                ],
                [
                    [
                        f"{result['tokens']:,}",
                        f"{result['analyze_s']:,.0f}",
                        f"{rate:,.1f}",
                        f"{peak / mb:,.0f}",
                        f"{end['RssAnon'] / mb:,.0f} / {end['RssFile'] / mb:,.0f}",
                        hovers,
                        views,
                    ]
                ],
            ),
        ]
    )


def settled_memory(server: Server, limit_s: float = 5.0) -> dict[str, int]:
    """The server's memory once the close's release has run: it waits for the engine's threads to
    finish what they were doing, so RSS is read until two readings half a second apart agree to 1 %."""
    time.sleep(1.0)
    memory = server.memory()
    waited = 1.0
    while waited < limit_s:
        time.sleep(0.5)
        waited += 0.5
        again = server.memory()
        if abs(again["VmRSS"] - memory["VmRSS"]) <= 0.01 * memory["VmRSS"]:
            return again
        memory = again
    return memory


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def soak(args: argparse.Namespace) -> dict[str, Any]:
    """The soak's cycles (the module docstring); with ``args.mixed`` the mixed cycles and the TCP server."""
    tok = tokenizer()
    files = library_files(tok, args.smallest, args.largest)
    chooser = random.Random(args.seed)
    settings = {"maxTokens": args.max_tokens}
    server = Server(settings)
    tcp = TcpServer(ROOT, settings) if args.mixed else None
    latencies: dict[str, list[float]] = {}
    samples: list[dict[str, Any]] = []
    per_cycle: list[dict[str, Any]] = []
    deaths = hangs = errors = notified = switches = 0
    tcp_counts = {"visits": 0, "busy": 0, "deaths": 0, "hangs": 0, "errors": 0}
    failures: list[str] = []
    began = time.perf_counter()
    cycle = 0
    where = ""
    model = DEFAULT_MODEL

    def timed(method: str, params: Any) -> dict[str, Any] | None:
        nonlocal errors
        response, seconds = server.request(method, params)
        latencies.setdefault(method, []).append(seconds)
        if "error" in response:
            errors += 1
            failures.append(f"{where} {method}: {response['error'].get('message')}")
            return None
        return response.get("result")

    while cycle < args.cycles and time.perf_counter() - began < args.minutes * 60:
        cycle += 1
        before = (deaths, hangs, errors, time.perf_counter())
        path, text, tokens = files[(cycle - 1) * 7 % len(files)]
        uri = uri_of(f"{cycle}-{path.name}")
        cycle_model = OTHER_MODEL if args.mixed and on_other_model(cycle, args.switch_every) else DEFAULT_MODEL
        where = f"cycle {cycle} {path.name} ({tokens} tokens, {cycle_model})"
        try:
            if cycle_model != model:
                switch_model(server.notify, settings, cycle_model)
                model, switches = cycle_model, switches + 1
            open_doc(server, uri, text)
            timed("attenScope/analyze", {"textDocument": {"uri": uri}})
            lines = text.split("\n")
            for _ in range(args.cursor):
                line = chooser.randrange(len(lines))
                position = {"line": line, "character": chooser.randrange(len(lines[line]) + 1)}
                timed("attenScope/attention", {"textDocument": {"uri": uri}, "position": position})
                timed("textDocument/hover", {"textDocument": {"uri": uri}, "position": position})
            timed("attenScope/heatmap", {"textDocument": {"uri": uri}, "layer": "all", "head": "all"})
            if args.mixed:
                extra_requests(timed, uri, lines, chooser)
            at = chooser.randrange(len(lines) // 2, len(lines))
            edit = {
                "range": {"start": {"line": at, "character": 0}, "end": {"line": at, "character": 0}},
                "text": "x = 1\n",
            }
            server.notify(
                "textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [edit]}
            )
            timed("attenScope/analyze", {"textDocument": {"uri": uri}})
            position = {"line": at, "character": 0}
            timed("attenScope/attention", {"textDocument": {"uri": uri}, "position": position})
            timed(
                "attenScope/attention", {"textDocument": {"uri": uri}, "position": position, "direction": "attendedBy"}
            )
            server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            if model != DEFAULT_MODEL:
                switch_model(server.notify, settings, DEFAULT_MODEL)
                model, switches = DEFAULT_MODEL, switches + 1
        except (ServerDied, RequestHung) as error:
            if isinstance(error, ServerDied):
                deaths += 1
            else:
                hangs += 1
            failures.append(f"{where}: {error}")
            server.close()
            server = Server(settings)
            model = DEFAULT_MODEL
        notices = server.take_notices()
        notified += len(notices)
        failures += [f"{where}: {notice}" for notice in notices]
        record: dict[str, Any] = {
            "cycle": cycle,
            "file": path.name,
            "tokens": tokens,
            "model": cycle_model,
            "seconds": round(time.perf_counter() - before[3], 1),
            "deaths": deaths - before[0],
            "hangs": hangs - before[1],
            "errors": errors - before[2],
            "notified": len(notices),
        }
        if tcp is not None:
            record["tcp"], tcp = tcp_cycle(tcp, settings, tcp_counts, failures, f"cycle {cycle}")
        per_cycle.append(record)
        print(json.dumps(record), flush=True)
        if cycle % args.every == 0 or cycle in (1, 5):
            memory = settled_memory(server)
            sample: dict[str, Any] = {"cycle": cycle, "tokens": tokens, "elapsed_s": time.perf_counter() - began}
            if tcp is None:
                sample |= memory
            else:
                sample |= {"model": model, "server": memory, "tcp": process_memory(tcp.process.pid)}
            samples.append(sample)
            print(json.dumps(samples[-1]), flush=True)
    server.close()
    if tcp is not None:
        tcp.close()
    result = {
        "cycles": cycle,
        "files": len(files),
        "token_range": [files[0][2], files[-1][2]],
        "samples": samples,
        "latency": {
            method: {"count": len(v), "p50_s": percentile(v, 0.5), "p95_s": percentile(v, 0.95), "max_s": max(v)}
            for method, v in latencies.items()
        },
        "deaths": deaths,
        "hangs": hangs,
        "errors": errors,
        "notified": notified,
        "failures": failures[:50],
        "minutes": (time.perf_counter() - began) / 60,
        "per_cycle": per_cycle,
    }
    if args.mixed:
        result |= {"tcp": tcp_counts, "model_switches": switches}
    return result


def tcp_cycle(
    tcp: TcpServer, settings: dict[str, Any], counts: dict[str, int], failures: list[str], where: str
) -> tuple[dict[str, int], TcpServer]:
    """One cycle's TCP clients (``TcpServer.visits``), then whether the server still runs; a server
    that died or hung is counted in ``counts`` and replaced. Returns the cycle's counts and the
    server to use next."""
    found = {"visits": 0, "busy": 0, "deaths": 0, "hangs": 0, "errors": 0}
    visits = Visits()
    try:
        tcp.visits(visits)
        if not tcp.alive():
            raise TcpError(f"the TCP server exited (status {tcp.process.returncode}) after its clients")
    except TcpHung as error:
        found["hangs"] += 1
        failures.append(f"{where}: {error}")
    except TcpError as error:
        found["errors" if tcp.alive() else "deaths"] += 1
        failures.append(f"{where}: {error}")
    found["visits"], found["busy"] = visits.made, visits.busy
    found["errors"] += len(visits.failures)
    failures += [f"{where}: {failure}" for failure in visits.failures]
    for key, value in found.items():
        counts[key] += value
    if found["hangs"] or found["deaths"]:
        tcp.close()
        tcp = TcpServer(ROOT, settings)
    return found, tcp


def soak_markdown(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The soak as a RESULTS.md section: RSS per sample against the sample after cycle 5."""
    samples = result["samples"]
    base = next((s for s in samples if s["cycle"] == 5), None)
    rows = []
    for s in samples:
        change = f"{100 * (s['VmRSS'] / base['VmRSS'] - 1):+.1f} %" if base else "-"
        rows.append(
            [s["cycle"], f"{s['tokens']:,}", f"{s['VmRSS'] / 2**20:,.0f}", f"{s['VmHWM'] / 2**20:,.0f}", change]
        )
    latency = [
        [method, v["count"], f"{1000 * v['p50_s']:,.0f}", f"{1000 * v['p95_s']:,.0f}", f"{1000 * v['max_s']:,.0f}"]
        for method, v in result["latency"].items()
    ]
    low, high = result["token_range"]
    return "\n".join(
        [
            "## Memory soak of the language server (target: RSS after 50 cycles within 10 % of RSS after 5)",
            "",
            f"Machine: {environment_line()}",
            "",
            f"`bench/soak.py --cycles {args.cycles} --largest {args.largest}`: one real server process over stdio, "
            f"{result['cycles']} cycles of open / analyse / {args.cursor} cursor and hover requests / heatmap / "
            "one-line edit / re-analyse / attendedBy / close, over "
            f"{result['files']} standard-library files of {low:,}-{high:,} tokens (default settings: memory "
            f"budget, {args.max_tokens}-token windows, 8 cached documents), {result['minutes']:.0f} minutes. "
            "RSS is read after the cycle's close once it has settled (two readings 0.5 s apart within 1 %, "
            "at most 5 s). "
            f"Deaths: {result['deaths']}, hangs: {result['hangs']}, request errors: {result['errors']}.",
            "",
            table(["cycle", "file tokens", "RSS (MB)", "peak RSS so far (MB)", "RSS vs cycle 5"], rows),
            "",
            table(["request", "count", "p50 (ms)", "p95 (ms)", "max (ms)"], latency),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--long", type=int, default=0, help="analyse one file of this many tokens instead of the soak")
    parser.add_argument("--budget", type=int, default=0, help="attenScope.memoryBudgetMB (default: the server's)")
    parser.add_argument("--max-tokens", type=int, default=4096)
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--largest", type=int, default=12_000, help="largest file in tokens")
    parser.add_argument("--smallest", type=int, default=500, help="smallest file in tokens")
    parser.add_argument("--minutes", type=float, default=240.0, help="stop after this long even if cycles remain")
    parser.add_argument("--every", type=int, default=20, help="RSS sample interval in cycles")
    parser.add_argument("--cursor", type=int, default=4, help="cursor requests (attention + hover) per cycle")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--mixed", action="store_true", help="add flow, ALTI, removals, completions, model switches and TCP clients"
    )
    parser.add_argument(
        "--switch-every", type=int, default=10, help=f"with --mixed: run every N-th cycle on {OTHER_MODEL} (0: never)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    result = long_run(args) if args.long else soak(args)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "long" if args.long else "soak-mixed" if args.mixed else "soak"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.mixed:
        write_section(args.out, "soak-mixed.md", mixed_markdown(result, args))
    elif args.long:
        write_section(args.out, "long.md", long_markdown(result, args))
    else:
        write_section(args.out, "soak.md", soak_markdown(result, args))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
