"""Code units: a token row's weights summed over identifiers and definitions.

For the weights w (n,) of one row (or column) of the attention, a unit U (a set of tokens) weighs

    W(U) = sum of w[k] over the tokens k in U

so a unit's share is exactly what its tokens hold, never more. The units:

- **identifiers**: a name is a maximal run of identifier characters (a letter or ``_``, then
  letters, digits or ``_``; Unicode letters included). Every occurrence of the same name is one
  unit; a token belongs to every name whose text it overlaps, so a name split over several tokens
  gathers all of them. A token touching two names (``a.b`` as one token) counts in both: these
  units do not partition the tokens. Keywords are names too: no grammar is assumed.
- **definitions**: the editor's document symbols (functions, classes, methods, ...; any language
  with a language server). Each token belongs to the innermost symbol whose range holds its start,
  or to none ("outside"): these units partition the tokens, so their weights and ``outside`` add
  up to sum(w).
- **parsed definitions**, when the editor has no symbols for the document and its language has a
  grammar (``syntax.py``): functions, classes, methods, structs, ... from a parse of the text,
  nested, named by what they define (``def uuid1``, ``int main(...)``). Each token belongs to the
  innermost one that holds its start, as with the editor's symbols.
- **blocks**, when there are neither: runs of non-blank lines separated by blank lines, named by
  their first line (``import re``). A token belongs to the block of the line it starts on; tokens
  on blank lines are "outside". They also partition the tokens.
- **statements**, whenever the language has a grammar: the statements at the top level of the
  file and of each definition's body, imports among them, a control statement (``for``, ``if``,
  ...) as one unit named by its head. Each token belongs to the innermost statement that holds
  its start, or to none (a definition's own header, a comment between statements).

Lines are the other statements: the per-line sums are the attention result's ``lines``.

Everything that depends on the text alone (names, their tokens, line blocks, the parse and which
unit holds each token) is computed once per document; a row then costs a few ``np.bincount``
calls, fast enough for every cursor move.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.positions import LineIndex
from atten_scope.engine.tokens import TokenizedDocument
from atten_scope.views.syntax import SyntaxUnit, SyntaxUnits, parse_units

NAME = re.compile(r"[^\W\d]\w*")  # a letter or _ (any script), then letters, digits or _
MAX_RANGES = 64  # occurrences of one identifier listed in an answer (``count`` has them all)
MAX_SYMBOLS = 10_000  # document symbols kept per document
MAX_LABEL = 60  # characters of a definition's or block's label


@dataclass(frozen=True)
class Symbol:
    """A definition from the editor's document symbols, its range in LSP positions."""

    name: str
    kind: str  # lower-case SymbolKind name: "function", "class", "method", ...
    start: tuple[int, int]  # (line, UTF-16 character)
    end: tuple[int, int]
    label: str | None = None  # how it reads (a parsed definition's); None: ``symbol_label`` reads it off the line


@dataclass(frozen=True)
class IdentifierIndex:
    """The names of one document and which tokens each one's occurrences touch."""

    names: list[str]
    occurrences: np.ndarray  # (m, 2) [start, end) code-point offsets, in text order
    occurrence_name: np.ndarray  # (m,) index into ``names``
    pair_token: np.ndarray  # (p,) token of each distinct (token, name) pair
    pair_name: np.ndarray  # (p,) its name
    counts: np.ndarray  # (len(names),) occurrences of each name
    by_name: np.ndarray  # (m,) occurrences grouped by name, in text order within each name
    first: np.ndarray  # (len(names),) where each name's occurrences begin in ``by_name``
    # name -> LSP ranges of its first MAX_RANGES occurrences, filled as names are asked about
    # (the same few names answer many cursor moves; converting positions is what costs).
    ranges: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def occurrence_ranges(self, name: int, lines: LineIndex) -> list[dict[str, Any]]:
        cached = self.ranges.get(name)
        if cached is None:
            start = int(self.first[name])
            chosen = self.occurrences[self.by_name[start : start + min(int(self.counts[name]), MAX_RANGES)]]
            cached = [lines.range(int(s), int(e)).to_lsp() for s, e in chosen]
            self.ranges[name] = cached
        return cached


@dataclass(frozen=True)
class Blocks:
    """The fallback definitions: line blocks, and the block of each line (-1: a blank line)."""

    first: list[int]  # first line of each block
    last: list[int]  # its last line
    of_line: np.ndarray  # (lines,)


def _token_spans(doc: TokenizedDocument) -> tuple[np.ndarray, np.ndarray]:
    """Each token's [start, end): a piece of a character stands for that whole character (its own
    span may be empty); other empty tokens (added special ones) stand for no text."""
    starts = np.asarray(doc.starts, dtype=np.int64)
    ends = np.asarray(doc.ends, dtype=np.int64)
    for index, (start, end) in doc.fragments.items():
        starts[index], ends[index] = min(starts[index], start), max(ends[index], end)
    return starts, ends


def identifier_index(doc: TokenizedDocument) -> IdentifierIndex:
    """Find every name in ``doc`` and the tokens overlapping each occurrence.

    Occurrences are disjoint and in order, so for a token spanning [s, e) the occurrences it
    overlaps are those with end > s and start < e: one ``searchsorted`` each side, for all tokens.
    """
    found = [(m.start(), m.end(), m.group()) for m in NAME.finditer(doc.text)]
    names, inverse = np.unique(np.array([f[2] for f in found], dtype=object), return_inverse=True)
    occurrences = np.array([(f[0], f[1]) for f in found], dtype=np.int64).reshape(-1, 2)
    occurrence_name = inverse.astype(np.int64).reshape(-1)
    starts, ends = _token_spans(doc)
    first = np.searchsorted(occurrences[:, 1], starts, side="right")
    after = np.searchsorted(occurrences[:, 0], ends, side="left")
    spans = np.where(ends > starts, np.maximum(after - first, 0), 0)
    tokens = np.repeat(np.arange(len(starts), dtype=np.int64), spans)
    # For each pair, its occurrence: the token's first one plus the pair's rank within the token.
    rank = np.arange(len(tokens), dtype=np.int64) - np.repeat(np.cumsum(spans) - spans, spans)
    pair_names = occurrence_name[np.repeat(first, spans) + rank] if len(tokens) else tokens
    # A token counts once per name, however many of that name's occurrences it touches.
    pairs = np.unique(np.stack([tokens, pair_names], axis=1), axis=0) if len(tokens) else np.zeros((0, 2), np.int64)
    counts = np.bincount(occurrence_name, minlength=len(names))
    return IdentifierIndex(
        names=[str(n) for n in names],
        occurrences=occurrences,
        occurrence_name=occurrence_name,
        pair_token=pairs[:, 0],
        pair_name=pairs[:, 1],
        counts=counts,
        by_name=np.argsort(occurrence_name, kind="stable"),
        first=np.cumsum(counts) - counts,
    )


def line_blocks(lines: LineIndex) -> Blocks:
    """Runs of non-blank lines, split at blank (whitespace-only) lines."""
    blank = np.array([not _line_text(lines, line).strip() for line in range(lines.line_count)], dtype=bool)
    starts = ~blank & np.concatenate([[True], blank[:-1]])
    block = np.cumsum(starts) - 1
    of_line = np.where(blank, -1, block).astype(np.int64)
    first = np.nonzero(starts)[0]
    ends = ~blank & np.concatenate([blank[1:], [True]])
    return Blocks(first=[int(x) for x in first], last=[int(x) for x in np.nonzero(ends)[0]], of_line=of_line)


def _line_text(lines: LineIndex, line: int) -> str:
    """Line ``line`` without its line break."""
    return lines.text[lines.offset(line, 0) : lines.offset(line, 1 << 30)]


def line_label(lines: LineIndex, line: int) -> str:
    """A line's text as a unit's name: trimmed, cut to MAX_LABEL characters."""
    text = _line_text(lines, line).strip()
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "\u2026"


@dataclass(frozen=True)
class ParsedUnits:
    """A document's parsed units and, for each token, the innermost definition and statement that
    hold its start (-1: none)."""

    units: SyntaxUnits
    definition_of: np.ndarray  # (tokens,) index into ``units.definitions``
    statement_of: np.ndarray  # (tokens,) index into ``units.statements``


@dataclass(frozen=True)
class DocumentUnits:
    """What the units of one document's rows are built from: none of it depends on the weights."""

    identifiers: IdentifierIndex
    blocks: Blocks
    starts: np.ndarray  # (tokens,) each token's start offset
    # language id -> its parse (None: no grammar, or the parse failed), filled as languages are asked about
    parsed: dict[str, ParsedUnits | None] = field(default_factory=dict)

    def parse(self, text: str, language: str | None) -> ParsedUnits | None:
        """The units of ``text`` (this document's) parsed as ``language`` (the editor's language id)."""
        if not language:
            return None
        if language not in self.parsed:
            units = parse_units(text, language)
            self.parsed[language] = None if units is None else parsed_units(units, self.starts)
        return self.parsed[language]


def parsed_symbols(doc: TokenizedDocument, lines: LineIndex, language: str | None) -> list[Symbol] | None:
    """The definitions of a parse of ``doc`` as ``language`` (the editor's language id), as symbols
    labelled as they read (``def uuid1``), for views that take the editor's symbols; None where the
    language has no grammar."""
    parsed = document_units(doc, lines).parse(doc.text, language)
    if parsed is None:
        return None
    symbols = []
    for unit in parsed.units.definitions:
        start, end = lines.position(unit.start), lines.position(unit.end)
        symbols.append(
            Symbol(unit.name, unit.kind, (start.line, start.character), (end.line, end.character), unit.label)
        )
    return symbols


def parsed_units(units: SyntaxUnits, token_starts: np.ndarray) -> ParsedUnits:
    """``units`` with the innermost definition and statement of each token (``innermost``)."""
    return ParsedUnits(
        units,
        innermost(token_starts, [(unit.start, unit.end) for unit in units.definitions]),
        innermost(token_starts, [(unit.start, unit.end) for unit in units.statements]),
    )


# Per document, computed on first use and dropped with the document (TokenizedDocument is frozen).
_INDEXES: dict[int, DocumentUnits] = {}


def document_units(doc: TokenizedDocument, lines: LineIndex) -> DocumentUnits:
    """``identifier_index`` and ``line_blocks`` of ``doc``, cached while ``doc`` lives."""
    key = id(doc)
    cached = _INDEXES.get(key)
    if cached is None:
        cached = DocumentUnits(identifier_index(doc), line_blocks(lines), np.asarray(doc.starts, dtype=np.int64))
        _INDEXES[key] = cached
        weakref.finalize(doc, _INDEXES.pop, key, None)
    return cached


def parse_symbols(value: Any) -> list[Symbol]:
    """The ``symbols`` of a request or notification: a list of ``{name, kind, range}`` (LSP range)."""
    if not isinstance(value, list):
        raise InvalidRequest("symbols must be a list of {name, kind, range}.")
    parsed = []
    for item in value[:MAX_SYMBOLS]:
        try:
            name, kind, span = item["name"], item.get("kind", "symbol"), item["range"]
            start = (span["start"]["line"], span["start"]["character"])
            end = (span["end"]["line"], span["end"]["character"])
        except (TypeError, KeyError) as error:
            raise InvalidRequest("Each symbol must be {name, kind, range: {start, end}}.") from error
        numbers = (*start, *end)
        if not isinstance(name, str) or not isinstance(kind, str):
            raise InvalidRequest("A symbol's name and kind must be strings.")
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in numbers):
            raise InvalidRequest("A symbol's range must hold whole, non-negative line and character numbers.")
        parsed.append(Symbol(name, kind, start, end))
    return parsed


def _offset(lines: LineIndex, position: tuple[int, int]) -> int:
    if position[0] >= lines.line_count:
        return len(lines.text)
    return lines.offset(*position)


def definition_of_tokens(token_starts: np.ndarray, lines: LineIndex, symbols: Sequence[Symbol]) -> np.ndarray:
    """For each token, the index of the innermost symbol whose range holds its start, or -1."""
    return innermost(token_starts, [(_offset(lines, s.start), _offset(lines, s.end)) for s in symbols])


def innermost(token_starts: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
    """For each token, the index of the innermost span [start, end) (code points) holding its
    start, or -1.

    Spans are painted over the tokens outermost first (by start, then longest first), so an inner
    span overwrites the one around it: with nested spans the last paint is the innermost.
    """
    owner = np.full(len(token_starts), -1, dtype=np.int64)
    for index in sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1])):
        start, end = spans[index]
        lo, hi = np.searchsorted(token_starts, [start, end], side="left")
        owner[lo:hi] = index
    return owner


def symbol_label(lines: LineIndex, symbol: Symbol) -> str:
    """How a definition reads in the source: its own ``label`` where it has one, else its first
    line up to its name (``def parse_header``, ``class Reader``), else its kind and name
    (``function parse_header``)."""
    if symbol.label is not None:
        return symbol.label
    line = _line_text(lines, symbol.start[0]) if symbol.start[0] < lines.line_count else ""
    at = line.find(symbol.name) if symbol.name else -1
    head = line[: at + len(symbol.name)].strip() if at >= 0 else ""
    text = head if head and len(head) <= MAX_LABEL else f"{symbol.kind} {symbol.name}".strip()
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "\u2026"


def units_json(
    doc: TokenizedDocument,
    lines: LineIndex,
    token_lines: np.ndarray,
    weights: np.ndarray,
    symbols: Sequence[Symbol] | None,
    top: int,
    language: str | None = None,
) -> dict[str, Any]:
    """The ``units`` of an attention answer (docs/PROTOCOL.md): the ``top`` identifiers,
    definitions and statements by weight, those with weight > 0 only, and the weight outside every
    definition. Definitions are the editor's ``symbols``, else those of a parse of the text as
    ``language`` (the editor's language id), else blocks of lines; statements come from the parse
    (none without a grammar). ``weights`` covers the analysed tokens (the first ``len(weights)``
    of ``doc``); ``token_lines`` is the line each token starts on (``Analysis.token_lines``)."""
    count = len(weights)
    known = document_units(doc, lines)
    index, blocks = known.identifiers, known.blocks
    parsed = known.parse(doc.text, language)

    in_range = index.pair_token < count
    per_name = np.bincount(
        index.pair_name[in_range], weights=weights[index.pair_token[in_range]], minlength=len(index.names)
    )
    identifiers = []
    for name in _top(per_name, top):
        identifiers.append(
            {
                "name": index.names[name],
                "count": int(index.counts[name]),
                "weight": float(per_name[name]),
                "ranges": index.occurrence_ranges(name, lines),
            }
        )

    token_starts = known.starts[:count]
    definitions = []
    if symbols:
        source = "symbols"
        owner = definition_of_tokens(token_starts, lines, symbols)
        per_unit = np.bincount(owner + 1, weights=weights, minlength=len(symbols) + 1)
        for unit in _top(per_unit[1:], top):
            symbol = symbols[unit]
            start, end = _offset(lines, symbol.start), _offset(lines, symbol.end)
            definitions.append(
                {
                    "name": symbol.name,
                    "kind": symbol.kind,
                    "label": symbol_label(lines, symbol),
                    "range": lines.range(start, max(start, end)).to_lsp(),
                    "weight": float(per_unit[unit + 1]),
                }
            )
    elif parsed is not None:
        source = "syntax"
        per_unit = np.bincount(
            parsed.definition_of[:count] + 1, weights=weights, minlength=len(parsed.units.definitions) + 1
        )
        definitions = _parsed_json(parsed.units.definitions, per_unit, lines, top)
    else:
        source = "blocks"
        owner = blocks.of_line[token_lines[:count]]
        per_unit = np.bincount(owner + 1, weights=weights, minlength=len(blocks.first) + 1)
        for unit in _top(per_unit[1:], top):
            first, last = blocks.first[unit], blocks.last[unit]
            start, end = lines.offset(first, 0), lines.offset(last, 1 << 30)
            definitions.append(
                {
                    "name": line_label(lines, first),
                    "kind": "block",
                    "label": line_label(lines, first),
                    "range": lines.range(start, end).to_lsp(),
                    "weight": float(per_unit[unit + 1]),
                }
            )
    statements = []
    if parsed is not None:
        per_statement = np.bincount(
            parsed.statement_of[:count] + 1, weights=weights, minlength=len(parsed.units.statements) + 1
        )
        statements = _parsed_json(parsed.units.statements, per_statement, lines, top)
    return {
        "source": source,
        "definitions": definitions,
        "outside": float(per_unit[0]),
        "statements": statements,
        "identifiers": identifiers,
    }


def _parsed_json(units: Sequence[SyntaxUnit], per_unit: np.ndarray, lines: LineIndex, top: int) -> list[dict[str, Any]]:
    """The ``top`` heaviest of parsed ``units`` (``per_unit[1:]`` their weights) as answered."""
    return [
        {
            "name": units[unit].name,
            "kind": units[unit].kind,
            "label": units[unit].label,
            "range": lines.range(units[unit].start, units[unit].end).to_lsp(),
            "weight": float(per_unit[unit + 1]),
        }
        for unit in _top(per_unit[1:], top)
    ]


def _top(values: np.ndarray, top: int) -> list[int]:
    """Indices of the ``top`` largest positive values, largest first (ties: first in the text)."""
    order = np.argsort(-values, kind="stable")[:top]
    return [int(i) for i in order if values[i] > 0]
