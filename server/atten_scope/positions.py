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
