"""Code units: identifier, definition and block sums of a token row's weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.positions import LineIndex
from atten_scope.engine.tokens import TokenizedDocument, tokenize
from atten_scope.views.units import (
    Symbol,
    definition_of_tokens,
    identifier_index,
    parse_symbols,
    units_json,
)

SOURCE = (
    "import re\n"
    "\n"
    "class Reader:\n"
    "    def parse_header(self, data):\n"
    "        header = re.match(data)\n"
    "        return header\n"
    "\n"
    "    def größe(self, λ):\n"
    "        return λ * größe_factor\n"
    "\n"
    "größe_factor = 3\n"
)

# Document symbols as a Python language server reports them (0-based lines, end exclusive).
SYMBOLS = [
    {
        "name": "Reader",
        "kind": "class",
        "range": {"start": {"line": 2, "character": 0}, "end": {"line": 8, "character": 31}},
    },
    {
        "name": "parse_header",
        "kind": "method",
        "range": {"start": {"line": 3, "character": 4}, "end": {"line": 5, "character": 21}},
    },
    {
        "name": "größe",
        "kind": "method",
        "range": {"start": {"line": 7, "character": 4}, "end": {"line": 8, "character": 31}},
    },
]


@pytest.fixture(scope="module")
def tokenizer(embedded: Any) -> Any:
    return embedded.tokenizer


def _weights(count: int, seed: int = 0) -> np.ndarray:
    weights = np.random.default_rng(seed).random(count)
    return weights / weights.sum()


def _setup(tokenizer: Any, text: str) -> tuple[TokenizedDocument, LineIndex, np.ndarray, np.ndarray]:
    doc = tokenize(tokenizer, text)
    lines = LineIndex(text)
    token_lines = np.array([lines.line_of(s) for s in doc.starts], dtype=np.int64)
    return doc, lines, token_lines, _weights(len(doc))


def _overlapping(doc: TokenizedDocument, start: int, end: int) -> set[int]:
    """Tokens whose text (a character piece: its whole character) overlaps [start, end)."""
    found = set()
    for k in range(len(doc)):
        s, e = doc.fragments.get(k) or (doc.starts[k], doc.ends[k])
        if e > s and s < end and e > start:
            found.add(k)
    return found


def test_identifier_units_sum_their_tokens_over_every_occurrence(tokenizer: Any) -> None:
    doc, lines, token_lines, weights = _setup(tokenizer, SOURCE)
    answer = units_json(doc, lines, token_lines, weights, None, top=1000)
    by_name = {unit["name"]: unit for unit in answer["identifiers"]}
    for name, count in [("re", 2), ("header", 2), ("größe", 1), ("größe_factor", 2), ("λ", 2), ("data", 2)]:
        starts = [i for i in range(len(SOURCE)) if SOURCE.startswith(name, i)]
        # Whole-name occurrences only: größe inside größe_factor is another name.
        spans = [
            (s, s + len(name))
            for s in starts
            if (s == 0 or not (SOURCE[s - 1].isalnum() or SOURCE[s - 1] == "_"))
            and not (
                SOURCE[s + len(name) : s + len(name) + 1].isalnum() or SOURCE[s + len(name) : s + len(name) + 1] == "_"
            )
        ]
        assert len(spans) == count
        tokens = set().union(*(_overlapping(doc, s, e) for s, e in spans))
        unit = by_name[name]
        assert unit["count"] == count
        assert unit["weight"] == pytest.approx(weights[sorted(tokens)].sum())
        assert [lines.range(s, e).to_lsp() for s, e in spans] == unit["ranges"]


def test_a_name_split_over_several_tokens_gathers_them_all(tokenizer: Any) -> None:
    doc = tokenize(tokenizer, SOURCE)
    start = SOURCE.index("größe_factor")
    pieces = _overlapping(doc, start, start + len("größe_factor"))
    assert len(pieces) > 1  # the tokenizer splits this name
    index = identifier_index(doc)
    name = index.names.index("größe_factor")
    assert pieces <= set(index.pair_token[index.pair_name == name].tolist())


def test_identifiers_are_ranked_and_capped(tokenizer: Any) -> None:
    doc, lines, token_lines, weights = _setup(tokenizer, SOURCE)
    answer = units_json(doc, lines, token_lines, weights, None, top=3)
    shown = [unit["weight"] for unit in answer["identifiers"]]
    every = [unit["weight"] for unit in units_json(doc, lines, token_lines, weights, None, top=1000)["identifiers"]]
    assert len(shown) == 3 and shown == sorted(every, reverse=True)[:3]


def test_definitions_partition_the_tokens_by_innermost_symbol(tokenizer: Any) -> None:
    doc, lines, token_lines, weights = _setup(tokenizer, SOURCE)
    symbols = parse_symbols(SYMBOLS)
    answer = units_json(doc, lines, token_lines, weights, symbols, top=1000)
    assert answer["source"] == "symbols"
    total = sum(unit["weight"] for unit in answer["definitions"]) + answer["outside"]
    assert total == pytest.approx(weights.sum())
    owner = definition_of_tokens(np.asarray(doc.starts), lines, symbols)
    # A token of the method body belongs to the method, not to the class around it.
    assert owner[doc.token_at(SOURCE.index("header ="))] == 1
    assert owner[doc.token_at(SOURCE.index("größe(self"))] == 2
    assert owner[doc.token_at(SOURCE.index("class"))] == 0
    assert owner[doc.token_at(SOURCE.index("import"))] == -1
    by_name = {unit["name"]: unit for unit in answer["definitions"]}
    assert by_name["parse_header"]["weight"] == pytest.approx(weights[owner == 1].sum())
    assert by_name["parse_header"]["label"] == "def parse_header"
    assert by_name["Reader"]["label"] == "class Reader"
    assert answer["outside"] == pytest.approx(weights[owner == -1].sum())


def test_without_symbols_blocks_of_lines_stand_in(tokenizer: Any) -> None:
    text = "fn main() {\n  let x = 1;\n}\n\nfn other() {}\n"  # a language with no symbols sent
    doc, lines, token_lines, weights = _setup(tokenizer, text)
    answer = units_json(doc, lines, token_lines, weights, [], top=1000)
    assert answer["source"] == "blocks"
    by_label = {unit["label"]: unit for unit in answer["definitions"]}
    assert set(by_label) == {"fn main() {", "fn other() {}"}
    first = [k for k in range(len(doc)) if token_lines[k] <= 2]
    assert by_label["fn main() {"]["weight"] == pytest.approx(weights[first].sum())
    assert by_label["fn main() {"]["range"]["start"] == {"line": 0, "character": 0}
    assert by_label["fn main() {"]["range"]["end"]["line"] == 2
    total = sum(unit["weight"] for unit in answer["definitions"]) + answer["outside"]
    assert total == pytest.approx(weights.sum())


def test_without_symbols_a_grammar_gives_definitions_and_statements(tokenizer: Any) -> None:
    doc, lines, token_lines, weights = _setup(tokenizer, SOURCE)
    answer = units_json(doc, lines, token_lines, weights, None, top=1000, language="python")
    assert answer["source"] == "syntax"
    by_label = {unit["label"]: unit for unit in answer["definitions"]}
    assert set(by_label) == {"class Reader", "def parse_header", "def größe"}
    assert (by_label["def größe"]["name"], by_label["def größe"]["kind"]) == ("größe", "method")

    def starting_in(first: str, last: str) -> list[int]:
        start = SOURCE.index(first)
        end = SOURCE.index(last, start) + len(last)
        return [k for k in range(len(doc)) if start <= doc.starts[k] < end]

    # A method takes the tokens that start in it; the class keeps the rest of its own.
    method = starting_in("def parse_header", "return header")
    assert by_label["def parse_header"]["weight"] == pytest.approx(weights[method].sum())
    method_end = SOURCE.index("return header") + len("return header")
    assert by_label["def parse_header"]["range"] == lines.range(SOURCE.index("def parse_header"), method_end).to_lsp()
    reader = (
        set(starting_in("class Reader", "λ * größe_factor")) - set(method) - set(starting_in("def größe", "factor"))
    )
    assert by_label["class Reader"]["weight"] == pytest.approx(weights[sorted(reader)].sum())
    total = sum(unit["weight"] for unit in answer["definitions"]) + answer["outside"]
    assert total == pytest.approx(weights.sum())

    statements = {unit["label"]: unit for unit in answer["statements"]}
    assert statements["import re"]["kind"] == "import"
    assert statements["import re"]["weight"] == pytest.approx(weights[starting_in("import re", "re")].sum())
    assert statements["größe_factor = 3"]["weight"] == pytest.approx(
        weights[starting_in("größe_factor = 3", "3")].sum()
    )
    assert statements["header = re.match(data)"]["weight"] == pytest.approx(
        weights[starting_in("header = re", "(data)")].sum()
    )
    assert sum(unit["weight"] for unit in answer["statements"]) < weights.sum()  # headers are in no statement

    # The editor's symbols win for the definitions; the statements come from the parse still.
    with_symbols = units_json(doc, lines, token_lines, weights, parse_symbols(SYMBOLS), top=1000, language="python")
    assert with_symbols["source"] == "symbols" and with_symbols["statements"] == answer["statements"]
    # A language without a grammar: blocks of lines, and no statements.
    plain = units_json(doc, lines, token_lines, weights, None, top=1000, language="plaintext")
    assert plain["source"] == "blocks" and plain["statements"] == []


def test_only_the_analysed_tokens_count(tokenizer: Any) -> None:
    doc, lines, token_lines, weights = _setup(tokenizer, SOURCE)
    count = len(doc) // 2
    answer = units_json(doc, lines, token_lines, weights[:count], parse_symbols(SYMBOLS), top=1000)
    total = sum(unit["weight"] for unit in answer["definitions"]) + answer["outside"]
    assert total == pytest.approx(weights[:count].sum())
    assert all(unit["weight"] > 0 for unit in answer["identifiers"])


def test_hand_made_tokens_with_a_character_in_pieces() -> None:
    # "x变 = x变": 变 is split into a lead piece and an empty continuation piece standing for it.
    text = "x变 = x变"
    doc = TokenizedDocument(
        text=text,
        ids=list(range(7)),
        starts=[0, 1, 2, 2, 5, 6, 7],
        ends=[1, 2, 2, 5, 6, 7, 7],
        special=[False] * 7,
        fragments={1: (1, 2), 2: (1, 2), 5: (6, 7), 6: (6, 7)},
    )
    index = identifier_index(doc)
    assert index.names == ["x变"]
    assert sorted(index.pair_token.tolist()) == [0, 1, 2, 4, 5, 6]
    weights = np.arange(1.0, 8.0)
    lines = LineIndex(text)
    answer = units_json(doc, lines, np.zeros(7, dtype=np.int64), weights, None, top=5)
    assert answer["identifiers"][0]["weight"] == weights[[0, 1, 2, 4, 5, 6]].sum()
    assert answer["identifiers"][0]["count"] == 2


def test_bad_symbols_are_refused() -> None:
    with pytest.raises(InvalidRequest):
        parse_symbols({"name": "f"})
    with pytest.raises(InvalidRequest):
        parse_symbols([{"name": "f", "kind": "function"}])
    with pytest.raises(InvalidRequest):
        parse_symbols([{"name": "f", "kind": "function", "range": {"start": {"line": -1, "character": 0}, "end": {}}}])
    assert parse_symbols([]) == []
    parsed = parse_symbols(SYMBOLS[:1])
    assert parsed == [Symbol("Reader", "class", (2, 0), (8, 31))]


def test_hover_section_shows_units_as_code_spans_only() -> None:
    from atten_scope.lsp.hover import units_markdown

    evil = "def `f`<b>*x*</b>"  # file text must not become Markdown or HTML
    units = {
        "source": "symbols",
        "definitions": [{"name": "f", "kind": "function", "label": evil, "range": _lsp_range(39), "weight": 0.32}],
        "outside": 0.1,
        "identifiers": [{"name": "re", "count": 4, "weight": 0.1, "ranges": []}],
    }
    lines = [{"line": 2, "weight": 0.05}, {"line": 0, "weight": 0.2}]
    out = "\n".join(units_markdown(units, lines, {0: "import re", 2: "x = 1"}))
    assert "**Draws most on**" in out
    assert "- definitions: ``def `f`<b>*x*</b>`` (line 40) 32.0% \u00b7 outside them 10.0%" in out
    assert "- identifiers: `re` \u00d74 10.0%" in out
    assert "- lines: `import re` (line 1) 20.0% \u00b7 `x = 1` (line 3) 5.0%" in out
    blocks = "\n".join(units_markdown({**units, "source": "blocks", "outside": 0.0}, [], {}))
    assert "- blocks of lines: " in blocks and "outside" not in blocks and "- lines" not in blocks
    assert units_markdown(None, lines, {}) == []


def _lsp_range(line: int) -> dict[str, Any]:
    return {"start": {"line": line, "character": 0}, "end": {"line": line + 1, "character": 0}}
