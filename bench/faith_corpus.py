"""The snippets the faithfulness benchmark scores: ``bench/corpus`` and the standard-library cut.

The cutting rule of the external corpus is in ``faithfulness.py``'s docstring; it depends only on
the file text, never on the model, so every model reads the same snippets.
"""

from __future__ import annotations

import platform
import re
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Snippet:
    """One scored text and the name it is reported under."""

    name: str
    text: str


def load_corpus(folder: Path, limit: int | None = None, every: int = 1) -> list[Snippet]:
    """The corpus files in name order, trailing whitespace stripped; with ``every`` > 1 only every
    every-th (names start with the language, so a stride keeps every language of a small sample)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))[::every]
    snippets = [Snippet(p.name, p.read_text(encoding="utf-8").rstrip()) for p in files]
    return snippets[:limit] if limit else snippets


def cut_snippet(text: str, chars: int) -> str | None:
    """One snippet of a source file (see the module docstring), or None where the file is too short."""
    lines = text.splitlines()
    third = len(lines) // 3
    start = next((k for k in range(third, len(lines)) if lines[k].startswith(("def ", "class "))), third)
    taken: list[str] = []
    size = 0
    k = start
    while k < len(lines) and size < chars:
        taken.append(lines[k])
        size += len(lines[k]) + 1
        k += 1
    while k < len(lines) and not lines[k].strip():
        k += 1
    if size < chars or k >= len(lines):
        return None
    last = lines[k]
    indent = len(last) - len(last.lstrip())
    words = [m.start() for m in re.finditer(r"\w+", last) if m.start() > indent]
    taken.append(last[: words[-1]] if words else last)
    return "\n".join(taken).rstrip()


def external_corpus(count: int, chars: int, limit: int | None = None) -> tuple[list[Snippet], str]:
    """``count`` snippets of the running interpreter's standard library and a sentence naming them."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.glob("*.py") if p.is_file() and p.stat().st_size >= 3 * chars)
    snippets: list[Snippet] = []
    for index in sorted({int(k) for k in np.linspace(0, len(files) - 1, num=min(count, len(files)))}):
        text = cut_snippet(files[index].read_text(encoding="utf-8", errors="replace"), chars)
        if text is not None:
            snippets.append(Snippet(f"stdlib_{files[index].name}", text))
    snippets = snippets[:limit] if limit else snippets
    note = (
        f"{len(snippets)} snippets of the Python {platform.python_version()} standard library "
        f"({', '.join(s.name.removeprefix('stdlib_') for s in snippets)})"
    )
    return snippets, note
