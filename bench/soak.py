"""Memory soak of the language server: does its memory stay bounded over hours of real use?

Two runs, each against a real server process (``python -m atten_scope serve`` over stdio):

- ``--long TOKENS``: one file of TOKENS tokens (Python standard-library sources joined), analysed
  end to end under the default memory budget, then hovered at its first, middle and last token.
  Reports the analysis time, the hovers and the server's peak RSS.
- the soak (default): CYCLES cycles of open / analyse / cursor and heatmap requests / edit /
  re-analyse / close over standard-library files of 500-12,000 tokens. Reports the server's RSS
  every ``--every`` cycles, request latencies (p50, p95), deaths (the server exited; it is
  restarted) and hangs (a request got no answer within its time limit; the server is restarted).

Not part of ``make test``: it takes minutes to hours. Results go to ``--out`` (JSON and Markdown).
"""

from __future__ import annotations

import argparse
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

TIME_LIMITS = {"attenScope/analyze": 3600.0, "attenScope/heatmap": 300.0}
DEFAULT_LIMIT = 60.0


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
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.next_id = 0
        self.responses: dict[int, queue.Queue[dict[str, Any]]] = {}
        self.lock = threading.Lock()
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
        while True:
            length = 0
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            message = json.loads(stream.read(length))
            if "id" in message and "method" not in message:
                with self.lock:
                    waiting = self.responses.get(message["id"])
                if waiting is not None:
                    waiting.put(message)
            elif "id" in message:  # a server -> client request (progress tokens, configuration)
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
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
                    raise ServerDied(f"exit status {self.process.returncode}") from None
                if time.perf_counter() - began > limit:
                    raise RequestHung(f"{method} gave no answer in {limit:.0f} s") from None
        with self.lock:
            del self.responses[number]
        return response, time.perf_counter() - began

    def memory(self) -> dict[str, int]:
        """The server's VmRSS, VmHWM, RssAnon and RssFile in bytes (Linux)."""
        found: dict[str, int] = {}
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    found[key] = int(value.split()[0]) * 1024
        except OSError:
            pass
        return found

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.process.wait(timeout=20)
        except (ServerDied, RequestHung, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


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
        result["rss_end"] = server.memory()
    finally:
        server.close()
    return result


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
    tok = tokenizer()
    files = library_files(tok, 500, args.largest)
    chooser = random.Random(args.seed)
    server = Server({"maxTokens": args.max_tokens})
    latencies: dict[str, list[float]] = {}
    samples: list[dict[str, Any]] = []
    deaths = hangs = errors = 0
    failures: list[str] = []
    began = time.perf_counter()
    cycle = 0
    where = ""

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
        path, text, tokens = files[(cycle - 1) * 7 % len(files)]
        uri = uri_of(f"{cycle}-{path.name}")
        where = f"cycle {cycle} {path.name} ({tokens} tokens)"
        try:
            open_doc(server, uri, text)
            timed("attenScope/analyze", {"textDocument": {"uri": uri}})
            lines = text.split("\n")
            for _ in range(args.cursor):
                line = chooser.randrange(len(lines))
                position = {"line": line, "character": chooser.randrange(len(lines[line]) + 1)}
                timed("attenScope/attention", {"textDocument": {"uri": uri}, "position": position})
                timed("textDocument/hover", {"textDocument": {"uri": uri}, "position": position})
            timed("attenScope/heatmap", {"textDocument": {"uri": uri}, "layer": "all", "head": "all"})
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
        except (ServerDied, RequestHung) as error:
            if isinstance(error, ServerDied):
                deaths += 1
            else:
                hangs += 1
            failures.append(f"cycle {cycle} {path.name}: {error}")
            server.close()
            server = Server({"maxTokens": args.max_tokens})
        if cycle % args.every == 0 or cycle == 1:
            memory = settled_memory(server)
            samples.append({"cycle": cycle, "tokens": tokens, "elapsed_s": time.perf_counter() - began} | memory)
            print(json.dumps(samples[-1]), flush=True)
    server.close()
    return {
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
        "failures": failures[:50],
        "minutes": (time.perf_counter() - began) / 60,
    }


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
    parser.add_argument("--largest", type=int, default=12_000, help="largest file in tokens (files start at 500)")
    parser.add_argument("--minutes", type=float, default=240.0, help="stop after this long even if cycles remain")
    parser.add_argument("--every", type=int, default=20, help="RSS sample interval in cycles")
    parser.add_argument("--cursor", type=int, default=4, help="cursor requests (attention + hover) per cycle")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    result = long_run(args) if args.long else soak(args)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "long" if args.long else "soak"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    if not args.long:
        write_section(args.out, "soak.md", soak_markdown(result, args))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
