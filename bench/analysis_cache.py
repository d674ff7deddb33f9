"""What the analysis cache saves: a fresh analysis of a long file against writing it to the cache
and restoring it (from the page cache, and with its pages dropped first: as after a reboot), and
the first cursor view of each. The server's own path: a memory budget (compact windows) and
the default window size.

    python bench/analysis_cache.py [--tokens 8000] [--model embedded:smollm2-135m] [--out results.json]

The text is standard-library Python (uuid.py, then further modules) cut at a line past ``--tokens``.
The cache is written to a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from atten_scope.engine.analysis import Analysis, run_analysis
from atten_scope.engine.analysis_cache import DATA, MANIFEST, AnalysisCache, cache_key
from atten_scope.engine.model import LoadedModel, load_model
from atten_scope.engine.storage import MemoryBudget
from atten_scope.limits import MAX_TOKENS, MEMORY_BUDGET_MB
from atten_scope.views.attention import attention_vector
from atten_scope.views.options import ViewOptions

MODULES = ("uuid.py", "textwrap.py", "shlex.py", "fractions.py", "difflib.py", "argparse.py")


def stdlib_text(loaded: LoadedModel, tokens: int) -> str:
    """Standard-library modules joined until ``tokens`` tokens, cut after the line that reaches it."""
    library = Path(sysconfig.get_paths()["stdlib"])
    text = ""
    for name in MODULES:
        text += (library / name).read_text(encoding="utf-8")
        if len(loaded.tokenizer(text)["input_ids"]) >= tokens:
            break
    lines = text.splitlines(keepends=True)
    low, high = 1, len(lines)
    while low < high:  # the fewest lines that hold ``tokens`` tokens
        middle = (low + high) // 2
        if len(loaded.tokenizer("".join(lines[:middle]))["input_ids"]) >= tokens:
            high = middle
        else:
            low = middle + 1
    return "".join(lines[:low])


def drop_pages(folder: Path) -> None:
    """Ask the kernel to forget the cached pages of an entry's files (as after a reboot)."""
    for name in (DATA, MANIFEST):
        descriptor = os.open(folder / name, os.O_RDONLY)
        try:
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)


def first_view(analysis: Analysis) -> float:
    began = time.perf_counter()
    attention_vector(analysis, analysis.token_count - 1, ViewOptions())
    return time.perf_counter() - began


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=8000)
    parser.add_argument("--model", default="embedded:smollm2-135m")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    loaded = load_model(args.model, "cpu")
    text = stdlib_text(loaded, args.tokens)
    folder = Path(tempfile.mkdtemp(prefix="atten-scope-bench-cache-"))
    results: dict[str, Any] = {"model": args.model, "threads": __import__("torch").get_num_threads()}
    try:
        budget = MemoryBudget(MEMORY_BUDGET_MB.default, folder / "windows")
        began = time.perf_counter()
        fresh = run_analysis(loaded, text, MAX_TOKENS.default, budget=budget)
        results["tokens"] = fresh.token_count
        results["windows"] = len(fresh.windows)
        results["analysis_s"] = time.perf_counter() - began
        results["fresh_first_view_s"] = first_view(fresh)

        cache = AnalysisCache(1 << 20, folder / "analyses")
        key = cache_key(loaded, text, MAX_TOKENS.default, compact=True)
        began = time.perf_counter()
        cache.save(key, fresh)
        results["save_s"] = time.perf_counter() - began
        results["entry_mb"] = cache.size() / 2**20
        del fresh

        for label in ("warm", "cold"):
            if label == "cold":
                drop_pages(folder / "analyses" / key.digest)
            before = rss_mb()
            began = time.perf_counter()
            restored = AnalysisCache(1 << 20, folder / "analyses").restore(
                key, loaded, text, budget=MemoryBudget(MEMORY_BUDGET_MB.default, folder / "windows")
            )
            results[f"restore_{label}_s"] = time.perf_counter() - began
            assert restored is not None and restored.restored
            results[f"restore_{label}_rss_mb"] = rss_mb() - before
            results[f"restored_{label}_first_view_s"] = first_view(restored)
            del restored
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    rounded = {k: round(v, 2) if isinstance(v, float) else v for k, v in results.items()}
    json.dump(rounded, sys.stdout, indent=2)
    print()
    if args.out is not None:
        args.out.write_text(json.dumps(rounded, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
