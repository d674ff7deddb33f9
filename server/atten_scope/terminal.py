"""What the CLI's commands share: a file read as a document, positions as an editor's status bar
shows them, and progress on stderr."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from atten_scope.common.errors import DocumentError, InvalidRequest
from atten_scope.engine.embedded import EMBEDDED_ID
from atten_scope.engine.positions import LineIndex, column_index, editor_column

MAX_FILE_BYTES = 16 * 1024 * 1024


def default_model() -> str:
    """The model a command loads unless ``--model`` names one: ``ATTEN_SCOPE_MODEL``, else the embedded default."""
    return os.environ.get("ATTEN_SCOPE_MODEL", EMBEDDED_ID)


def read_document(path: Path) -> str:
    """The file's text, exactly (no newline translation), or a DocumentError a user understands."""
    if not path.exists():
        raise DocumentError(f"{path}: no such file.")
    if path.is_dir():
        raise DocumentError(f"{path} is a directory; give a file.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DocumentError(f"{path} is too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,}).")
    data = path.read_bytes()
    if b"\x00" in data[:65536]:
        raise DocumentError(f"{path} looks binary (it contains NUL bytes); give a text file.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DocumentError(f"{path} is not UTF-8 text (byte {error.start} is invalid).") from error


def parse_at(text: str | None) -> tuple[int, int] | None:
    """``LINE:COL`` (1-based, as an editor's status bar shows them) -> the same pair, checked."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise InvalidRequest(f"--at must be LINE:COL with 1-based numbers, e.g. 12:5; got {text!r}.")
    return int(match.group(1)), int(match.group(2))


def offset_at(lines: LineIndex, at: tuple[int, int], tab_size: int) -> int:
    """The text offset of status-bar position ``at`` (Ln, Col: tabs to tab stops, a code point one
    column each, see ``positions.editor_column``), or an error naming the valid range."""
    line, column = at
    if line > lines.line_count:
        raise InvalidRequest(f"--at {line}:{column}: the file has {lines.line_count} lines.")
    start, end = lines.offset(line - 1, 0), lines.offset(line - 1, 1 << 30)
    try:
        return start + column_index(lines.text[start:end], column, tab_size)
    except ValueError:
        last = editor_column(lines.text[start:end], end - start, tab_size)
        raise InvalidRequest(
            f"--at {line}:{column}: line {line} ends at column {last} (a tab counts up to {tab_size}; see --tab-size)."
        ) from None


def editor_position(lines: LineIndex, offset: int, tab_size: int) -> str:
    """``LN:COL`` of a text offset as an editor's status bar shows it."""
    line = lines.line_of(offset)
    start = lines.offset(line, 0)
    return f"{line + 1}:{editor_column(lines.text[start : max(start, offset)], offset - start, tab_size)}"


def show_progress(message: str) -> None:
    print(f"atten-scope: {message}", file=sys.stderr, flush=True)


def quoted(text: str) -> str:
    return f"'{text}'"


class StepProgress:
    """The report's progress on stderr: a line per quarter done, and every line in a terminal."""

    def __init__(self) -> None:
        self._quarter = -1
        self._terminal = sys.stderr.isatty()

    def update(self, fraction: float | None, message: str) -> None:
        if fraction is None or self._terminal or int(fraction * 4) > self._quarter:
            self._quarter = int((fraction or 0) * 4)
            show_progress(f"{message} ({fraction:.0%})" if fraction is not None else message)


class ProgressBar:
    """A progress bar on stderr while the model runs; without a terminal, a line per quarter done."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._quarter = -1  # last quarter logged without a terminal (progress comes per layer)
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=100, desc="Analysing", unit="%", file=sys.stderr, leave=False)

    def update(self, fraction: float | None, message: str) -> None:
        if fraction is None:
            show_progress(message)
        elif self._bar is not None:
            self._bar.set_description(message[:60])
            self._bar.n = int(fraction * 100)
            self._bar.refresh()
        elif int(fraction * 4) > self._quarter:
            self._quarter = int(fraction * 4)
            show_progress(f"{message} ({fraction:.0%})")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
