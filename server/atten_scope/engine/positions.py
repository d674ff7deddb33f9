"""Text offsets <-> LSP positions.

Python strings index code points; LSP positions count UTF-16 code units per line, so a character
outside the Basic Multilingual Plane (most emoji) is one code point but two UTF-16 units. Lines end
at ``\\n``, ``\\r\\n`` or a lone ``\\r`` as in the LSP specification.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Position:
    line: int
    character: int  # UTF-16 code units

    def to_lsp(self) -> dict[str, int]:
        return {"line": self.line, "character": self.character}


@dataclass(frozen=True)
class Range:
    start: Position
    end: Position

    def to_lsp(self) -> dict[str, dict[str, int]]:
        return {"start": self.start.to_lsp(), "end": self.end.to_lsp()}


def _utf16_len(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


class LineIndex:
    """Maps code-point offsets of one text to (line, UTF-16 column) and back."""

    def __init__(self, text: str) -> None:
        self.text = text
        starts = [0]
        content_ends = []
        for match in _LINE_BREAK.finditer(text):
            content_ends.append(match.start())
            starts.append(match.end())
        content_ends.append(len(text))
        self._starts = starts
        self._content_ends = content_ends
        # Lines made of BMP characters only (nearly all code) map columns 1:1.
        self._astral = [any(ord(ch) > 0xFFFF for ch in text[s:e]) for s, e in zip(starts, content_ends, strict=True)]

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset) - 1

    def position(self, offset: int) -> Position:
        """The LSP position of a code-point offset (clamped to the text)."""
        offset = max(0, min(offset, len(self.text)))
        line = self.line_of(offset)
        start = self._starts[line]
        offset = min(offset, self._content_ends[line])  # inside a CRLF pair: the end of the line
        if not self._astral[line]:
            return Position(line, offset - start)
        return Position(line, _utf16_len(self.text[start:offset]))

    def range(self, start: int, end: int) -> Range:
        return Range(self.position(start), self.position(end))

    def offset(self, line: int, character: int) -> int:
        """The code-point offset of an LSP position.

        Raises ``ValueError`` for a line past the end; a column past the end of its line is
        clamped to the line end, as the LSP specification asks; a column inside a surrogate pair
        resolves to the character it splits.
        """
        if line < 0 or character < 0:
            raise ValueError(f"position {line}:{character} is negative")
        if line >= len(self._starts):
            raise ValueError(f"line {line + 1} is past the end of the document ({len(self._starts)} lines)")
        start, end = self._starts[line], self._content_ends[line]
        if not self._astral[line]:
            return min(start + character, end)
        units = 0
        for index in range(start, end):
            width = 2 if ord(self.text[index]) > 0xFFFF else 1
            if units + width > character:
                return index
            units += width
        return end


DEFAULT_TAB_SIZE = 4  # VS Code's default editor.tabSize


def editor_column(line_text: str, index: int, tab_size: int = DEFAULT_TAB_SIZE) -> int:
    """The 1-based column an editor's status bar shows for a cursor before ``line_text[index]``.

    VS Code's "Col" (``CursorColumns.toStatusbarColumn``): every code point counts one, so an emoji
    is one column (LSP counts it as two UTF-16 units), and a tab moves to the next tab stop,
    c <- c + t - c mod t with t = ``tab_size``.
    """
    column = 0
    for ch in line_text[:index]:
        column = column + tab_size - column % tab_size if ch == "\t" else column + 1
    return column + 1


def column_index(line_text: str, column: int, tab_size: int = DEFAULT_TAB_SIZE) -> int:
    """The index in ``line_text`` where an editor's 1-based status-bar ``column`` puts the cursor
    (the inverse of ``editor_column``); a column inside a tab's width resolves to that tab.

    Raises ``ValueError`` for a column past the end of the line (its last column is the one after
    its last character).
    """
    if column < 1:
        raise ValueError(f"column {column} is before the start of the line")
    at = 1  # the column before line_text[index]
    for index, ch in enumerate(line_text):
        width = tab_size - (at - 1) % tab_size if ch == "\t" else 1
        if column < at + width:
            return index
        at += width
    if column == at:
        return len(line_text)
    raise ValueError(f"column {column} is past the end of the line (its last column is {at})")
