"""Where one token's attention falls in the context files read before the document (``engine/context.py``).

For the weights w of one row (or column) over every token, context file f and its line l weigh

    W(f) = sum of w[k] over the tokens k of f (its header's included),
    W(f, l) = sum of w[k] over the tokens k of f's text that start on line l,

and everything read before the document (the files and the header that names the document)
weighs W(prefix), so that W(prefix) and the document's own tokens' weights add up to sum(w). A
line is named by what it reads as: the innermost definition that holds it in a parse of the file
(``def parse``, by the language of the file's name), else its text.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from atten_scope.engine.analysis import Analysis
from atten_scope.engine.context import ContextTokens
from atten_scope.views.languages import language_of_path
from atten_scope.views.syntax import SyntaxUnits, parse_units
from atten_scope.views.units import line_label


@dataclass(frozen=True)
class ContextLine:
    """One line of a context file and its weight W(f, l)."""

    file: int
    line: int  # 0-based, in the file
    weight: float
    text: str  # the line, trimmed (``units.line_label``)
    definition: str | None  # the innermost definition holding it (``def parse``), where the file parses


@dataclass(frozen=True)
class ContextSources:
    """A weight row's share in the context files."""

    weight: float  # W(prefix): on every token read before the document
    files: list[float]  # W(f) of each context file, in the request's order
    tokens: list[int]  # the heaviest tokens of the context files (weight above 0), heaviest first
    lines: list[ContextLine]  # the heaviest lines of the context files, heaviest first


@dataclass(frozen=True)
class _Layout:
    """Which file and line each prefix token belongs to (-1: none), and each file's parse."""

    files: np.ndarray  # (prefix tokens,) context file, -1 for the document's own header
    lines: np.ndarray  # (prefix tokens,) line in the file, -1 for a header's token
    parses: dict[int, SyntaxUnits | None]


_LAYOUTS: dict[int, _Layout] = {}


def _layout(context: ContextTokens) -> _Layout:
    """The ``_Layout`` of ``context``, made on first use and dropped with it."""
    key = id(context)
    found = _LAYOUTS.get(key)
    if found is None:
        indices = range(context.first, context.end)
        files = [context.file_of(i) for i in indices]
        lines = [context.line(i) for i in indices]
        found = _Layout(
            np.array([-1 if f is None else f for f in files], dtype=np.int64),
            np.array([-1 if line is None else line for line in lines], dtype=np.int64),
            {},
        )
        _LAYOUTS[key] = found
        weakref.finalize(context, _LAYOUTS.pop, key, None)
    return found


def definition_at(context: ContextTokens, file: int, line: int) -> str | None:
    """The label of the innermost definition of context file ``file`` that holds the start of ``line``,
    in a parse of the file as the language its name says (None: no grammar, or no definition)."""
    layout = _layout(context)
    if file not in layout.parses:
        text = context.prefix.files[file].text
        layout.parses[file] = parse_units(text, language_of_path(context.prefix.names[file]))
    parsed = layout.parses[file]
    if parsed is None:
        return None
    lines = context.lines(file)
    at, end = lines.offset(line, 0), lines.offset(line, 1 << 30)
    holding = [unit for unit in parsed.definitions if unit.start <= max(at, end - 1) and at < unit.end]
    # Definitions come outer before inner: the last that holds the line is the innermost.
    return holding[-1].label if holding else None


def context_sources(analysis: Analysis, weights: np.ndarray, top: int) -> ContextSources | None:
    """``weights`` (one token's row or column over every token) summed over the context files and
    their lines (module doc), with the ``top`` heaviest tokens and lines; None without context files."""
    context = analysis.document.context
    if context is None:
        return None
    count = len(context.prefix.files)
    first, end = context.first, min(context.end, len(weights))
    if first >= end:
        return ContextSources(0.0, [0.0] * count, [], [])
    layout = _layout(context)
    part = np.asarray(weights[first:end], dtype=np.float64)
    files, lines = layout.files[: end - first], layout.lines[: end - first]
    in_file = files >= 0
    per_file = np.bincount(files[in_file], weights=part[in_file], minlength=count)
    order = np.argsort(-part, kind="stable")[:top]
    tokens = [first + int(k) for k in order if part[k] > 0 and files[k] >= 0]
    on_line = lines >= 0
    # One bin per (file, line): lines of a file are at most its length in characters apart.
    stride = max((len(f.text) for f in context.prefix.files), default=0) + 1
    keys = files[on_line] * stride + lines[on_line]
    found, inverse = np.unique(keys, return_inverse=True)
    sums = np.bincount(inverse.reshape(-1), weights=part[on_line], minlength=len(found))
    heaviest = [int(i) for i in np.argsort(-sums, kind="stable")[:top] if sums[i] > 0]
    chosen = []
    for i in heaviest:
        file, line = divmod(int(found[i]), stride)
        chosen.append(
            ContextLine(
                file, line, float(sums[i]), line_label(context.lines(file), line), definition_at(context, file, line)
            )
        )
    return ContextSources(float(part.sum()), [float(w) for w in per_file], tokens, chosen)
