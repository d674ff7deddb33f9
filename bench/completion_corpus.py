"""The completions the attribution study scores: code from outside the repository, cut at seeded points.

Three languages, each read at run time from this machine's own files, never from the repository:
Python (the running interpreter's standard library), JavaScript (the packages of the global
``node_modules`` folder, npm's own code; the repository's ``node_modules`` as a fallback) and C
(the headers of ``/usr/include``). For each case a seeded generator picks a file (large enough,
no line over 240 characters: minified or generated code is skipped), a first line in its last
three quarters and a context length of ``300..700`` tokens; the context is whole lines from that
line on until the length is reached. The cursor is then placed in the next non-blank line, after
one of its words (a seeded choice that leaves at least one word after it), so the model completes
a statement it has started. The selection depends only on the files, the tokenizer and the seed.
"""

from __future__ import annotations

import re
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from report import REPO_ROOT

LANGUAGES = ("python", "javascript", "c")
MAX_LINE = 240  # longer lines mark minified or generated code


@dataclass
class Case:
    """One place to complete: the context's whole lines (each with its newline) and the cursor line's
    text before the cursor. Masks keep or drop ``lines``; ``prefix`` is always kept."""

    name: str
    language: str
    lines: list[str]
    prefix: str
    completion_ids: list[int] = field(default_factory=list)
    completion_text: str = ""
    source: str = ""  # the file, as ``source_label`` names it

    @property
    def text(self) -> str:
        """The context as the model reads it: every line, then the cursor line's prefix."""
        return "".join(self.lines) + self.prefix

    def kept_text(self, keep: np.ndarray) -> str:
        """The context with the lines where ``keep`` is False removed (newline included)."""
        return "".join(line for line, kept in zip(self.lines, keep, strict=True) if kept) + self.prefix


def source_files(language: str) -> list[Path]:
    """Candidate files of one language in name order (see the module docstring for the folders)."""
    if language == "python":
        root = Path(sysconfig.get_paths()["stdlib"])
        files = [p for p in root.glob("*.py")]
    elif language == "javascript":
        roots = [Path("/usr/lib/node_modules"), Path("/usr/local/lib/node_modules"), REPO_ROOT / "node_modules"]
        found = [r for r in roots if r.is_dir()]
        files = [p for p in found[0].rglob("*.js") if not p.name.endswith(".min.js")] if found else []
    elif language == "c":
        files = list(Path("/usr/include").glob("*.h"))
    else:
        raise ValueError(f"unknown language {language!r}")
    return sorted(p for p in files if p.is_file() and p.stat().st_size >= 8_000)


def source_label(path: Path) -> str:
    """``path`` named by the folder it was read from and its place there ("stdlib/json/decoder.py",
    "site-packages/click/core.py"), never by this machine's own paths: corpus manifests compare these."""
    import torch  # the virtual environment's packages: where torch is installed

    roots = {
        "stdlib": Path(sysconfig.get_paths()["stdlib"]),
        "site-packages": Path(torch.__file__).resolve().parent.parent,
        "global node_modules": Path("/usr/lib/node_modules"),
        "local node_modules": Path("/usr/local/lib/node_modules"),
        "repository node_modules": REPO_ROOT / "node_modules",
        "include": Path("/usr/include"),
    }
    resolved = path.resolve()
    for label, root in sorted(roots.items(), key=lambda item: -len(str(item[1]))):  # the deepest root first
        if resolved.is_relative_to(root.resolve()):
            return f"{label}/{resolved.relative_to(root.resolve())}"
    return path.name


def _cursor_prefix(line: str, rng: np.random.Generator) -> str | None:
    """The line cut after one of its words, leaving at least one word after the cut (None: no such word)."""
    ends = [m.end() for m in re.finditer(r"\w+", line)]
    return line[: ends[int(rng.integers(0, len(ends) - 1))]] if len(ends) >= 2 else None


def cut_case(
    tokenizer: Any, path: Path, language: str, rng: np.random.Generator, min_tokens: int, max_tokens: int
) -> Case | None:
    """One case from ``path`` (None where the file does not allow one: too short, or minified)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    if len(lines) < 40 or max(len(line) for line in lines) > MAX_LINE:
        return None
    target = int(rng.integers(min_tokens, max_tokens + 1))
    first = int(rng.integers(len(lines) // 4, len(lines) - 10))
    taken: list[str] = []
    size = 0
    k = first
    while k < len(lines) and size < target:
        taken.append(lines[k])
        # Counting per line overestimates slightly (no merges across lines): close enough for a range.
        size += len(tokenizer(lines[k], add_special_tokens=False).input_ids)
        k += 1
    while k < len(lines) and not lines[k].strip():
        taken.append(lines[k])
        k += 1
    if size < min_tokens or k >= len(lines):
        return None
    prefix = _cursor_prefix(lines[k].rstrip("\n"), rng)
    if prefix is None:
        return None
    return Case(f"{language}:{path.name}:{k + 1}", language, taken, prefix, source=source_label(path))


def select_cases(
    tokenizer: Any, per_language: int, seed: int, min_tokens: int = 300, max_tokens: int = 700
) -> list[Case]:
    """``per_language`` cases of each language, each from a different file, drawn with ``seed``."""
    cases: list[Case] = []
    for index, language in enumerate(LANGUAGES):
        rng = np.random.default_rng([seed, index])
        files = source_files(language)
        order = rng.permutation(len(files))
        found = 0
        for k in order:
            if found == per_language:
                break
            case = cut_case(tokenizer, files[int(k)], language, rng, min_tokens, max_tokens)
            if case is not None:
                cases.append(case)
                found += 1
    return cases
