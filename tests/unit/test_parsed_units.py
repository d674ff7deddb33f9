"""Parsed definitions where the editor sends no symbols: as symbols for the attribution's units."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from atten_scope.engine.positions import LineIndex
from atten_scope.engine.tokens import TokenizedDocument
from atten_scope.views.attribution import line_units
from atten_scope.views.units import parsed_symbols, symbol_label

TEXT = (
    "import os\n"  # 0
    "\n"  # 1
    "class Reader:\n"  # 2
    "    @property\n"  # 3
    "    def size(self):\n"  # 4
    "        return os.stat(self.path).st_size\n"  # 5
    "\n"  # 6
    "    def read(self):\n"  # 7
    "        global _cache\n"  # 8
    "        return open(self.path).read()\n"  # 9
)


def _document(text: str) -> TokenizedDocument:
    return TokenizedDocument(text=text, ids=[0], starts=[0], ends=[len(text)], special=[False])


def test_parsed_definitions_as_symbols_keep_their_labels_and_ranges() -> None:
    lines = LineIndex(TEXT)
    symbols = parsed_symbols(_document(TEXT), lines, "python")
    assert symbols is not None
    assert [(symbol_label(lines, s), s.kind) for s in symbols] == [
        ("class Reader", "class"),
        ("def size", "method"),
        ("def read", "method"),
    ]
    # The decorated method starts at its decorator, which a label read off that line would name.
    size = symbols[1]
    assert (size.start, size.end) == ((3, 4), (5, len(TEXT.splitlines()[5])))
    assert parsed_symbols(_document("just some notes\n"), LineIndex("just some notes\n"), "plaintext") is None


def test_the_attribution_units_are_the_parsed_definitions_and_the_blocks_outside_them() -> None:
    lines = LineIndex(TEXT)
    symbols = parsed_symbols(_document(TEXT), lines, "python")
    scores = np.arange(1.0, lines.line_count + 1.0)[:10]  # line l scores l + 1
    units = {(unit.kind, unit.name): unit for unit in line_units(SimpleNamespace(lines=lines), scores, symbols)}
    assert set(units) == {
        ("definition", "class Reader"),
        ("definition", "def size"),
        ("definition", "def read"),
        ("import", "import os"),
    }
    assert units[("definition", "def size")].score == scores[3:6].sum()
    assert units[("definition", "def read")].score == scores[7:10].sum()
    assert (units[("import", "import os")].first, units[("import", "import os")].last) == (0, 0)
