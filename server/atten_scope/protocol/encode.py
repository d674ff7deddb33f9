"""How the protocol writes what an analysis holds: tokens, ranges, positions, predictions (docs/PROTOCOL.md).

Shared by every builder, the hover, the CLI and the report; a view's own JSON is built in ``builders``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from atten_scope.common.errors import ChangedSinceAnalysis, InvalidRequest
from atten_scope.engine.analysis import Analysis, Prediction
from atten_scope.engine.tokens import id_label, label, source_text
from atten_scope.protocol.fields import parse_params
from atten_scope.protocol.params import Position
from atten_scope.views.context import context_sources


def token_json(analysis: Analysis, index: int) -> dict[str, Any]:
    """A token reference: ``text`` is its exact source span, ``label`` what a reader is shown
    (``tokens.label``: whitespace as symbols, ``折 (part)`` for a piece of a character). A token of a
    context file read before the document (``engine/context.py``) has that file's ``uri`` and
    ``name`` (as its header says it), and ``range`` is in that file (for a token of its header,
    ``header`` is true and the range is empty at the file's start); every other token's ``range``
    is in the document."""
    doc = analysis.document
    found = {
        "index": index,
        "range": analysis.lines.range(doc.starts[index], doc.ends[index]).to_lsp(),
        "text": source_text(doc, index),
        "label": label(doc, index),
    }
    context = doc.context
    located = context.location(index) if context is not None and context.holds(index) else None
    if context is not None and located is not None:
        file, span = located
        found.update(range=span.to_lsp(), uri=context.prefix.files[file].uri, name=context.prefix.names[file])
        if context.piece(index).header:
            found["header"] = True  # of the line that names the file, not of its text
    return found


def stale_from(analysis: Analysis, fresh_tokens: int) -> dict[str, int]:
    """The LSP position where the edited part of a document begins: the start of its first token
    that differs from ``analysis`` (the text before it is the same in both versions)."""
    doc = analysis.document
    offset = doc.starts[fresh_tokens] if fresh_tokens < len(doc) else len(doc.text)
    start = analysis.lines.range(offset, offset).to_lsp()["start"]
    return {"line": int(start["line"]), "character": int(start["character"])}


def unchanged_before(analysis: Analysis, fresh_tokens: int) -> str:
    """Where the tokens that still show their attention after an edit end, as a person reads it:
    "line 3" or "line 3, column 9" (1-based), the position ``stale_from`` names. When only the line
    break and the indentation of its line follow that position, the next line: a tokenizer joins
    them to the next line's first token, so typing at the start of line 3 changes a token that
    starts at the end of line 2, while every token a person sees on line 2 is unchanged."""
    where = stale_from(analysis, fresh_tokens)
    line, character = where["line"], where["character"]
    text = analysis.document.text
    offset = analysis.document.starts[fresh_tokens] if fresh_tokens < len(analysis.document) else len(text)
    line_end = text.find("\n", offset)
    rest = text[offset:] if line_end < 0 else text[offset:line_end]
    if character == 0:
        return f"line {line + 1}"
    return f"line {line + 2}" if not rest.strip() else f"line {line + 1}, column {character + 1}"


def check_fresh(analysis: Analysis, token: int, fresh_tokens: int | None, what: str = "token") -> None:
    """Refuse ``token`` when it was edited after ``analysis`` (``fresh_tokens``: see ``ViewRequest``)."""
    if fresh_tokens is not None and token >= fresh_tokens:
        raise ChangedSinceAnalysis(
            f"This {what} changed after the analysis (the tokens before "
            f"{unchanged_before(analysis, fresh_tokens)} are unchanged): analyse it again.",
            fresh_tokens,
            stale_from(analysis, fresh_tokens),
        )


def offset_at_position(analysis: Analysis, position: Position | Any) -> int:
    """The code-point offset of an LSP position (a ``Position``, or its JSON ``{line, character}``) in
    the analysed document."""
    if not isinstance(position, Position):
        position = parse_params(Position, position, prefix="position.")
    try:
        return analysis.lines.offset(position.line, position.character)
    except ValueError as error:
        raise InvalidRequest(f"The position is outside the document: {error}.") from error


def token_at_position(analysis: Analysis, position: Position | Any, fresh_tokens: int | None = None) -> int:
    """The token covering an LSP position ``{line, character}``; with ``fresh_tokens``, one that is
    still exact after an edit (else ``ChangedSinceAnalysis``)."""
    token = analysis.document.token_at(offset_at_position(analysis, position))
    if token >= analysis.token_count:
        raise InvalidRequest("That position is past the analysed part of the file (it was too long to analyse whole).")
    check_fresh(analysis, token, fresh_tokens)
    return token


def analyze_json(analysis: Analysis, uri: str, version: int | None) -> dict[str, Any]:
    return {
        "uri": uri,
        "version": version,
        "model": analysis.info.to_json(),
        "tokens": analysis.token_count,
        "windows": [{"start": w.start, "end": w.start + w.n} for w in analysis.windows],
        "truncated": analysis.truncated,
        "reusedTokens": analysis.reused_tokens,
        "elapsedMs": round(analysis.elapsed_ms, 1),
        "restored": analysis.restored,
        **context_files_json(analysis),
    }


def context_files_json(analysis: Analysis) -> dict[str, Any]:
    """``contextFiles`` of an analysis with context files: each file's ``uri``, ``name`` and the
    token indices [start, end) of its header and text; nothing for an analysis without."""
    context = analysis.document.context
    if context is None:
        return {}
    spans: dict[int, list[int]] = {}
    for index in range(context.first, context.end):
        file = context.file_of(index)
        if file is not None:
            spans.setdefault(file, [index, index + 1])[1] = index + 1
    return {
        "contextFiles": [
            {"uri": file.uri, "name": name, "tokens": spans.get(number, [context.first, context.first])}
            for number, (file, name) in enumerate(zip(context.prefix.files, context.prefix.names, strict=True))
        ]
    }


def _id_text(analysis: Analysis, token_id: int, following: int | None) -> str:
    """The label of a predicted id: the document's label of the next token when it is that token
    (a piece of a character shows the character), else the vocabulary's (``tokens.Vocabulary``)."""
    doc = analysis.document
    if following is not None and following < len(doc) and doc.ids[following] == token_id:
        return label(doc, following)
    return id_label(doc, token_id)


def predicted_text(analysis: Analysis, token: int, token_id: int) -> str:
    """The label of an id predicted after ``token``, as ``prediction_json`` shows it."""
    return _id_text(analysis, token_id, token + 1)


def prediction_json(analysis: Analysis, token: int) -> dict[str, Any] | None:
    """What the model predicted after ``token`` (docs/PROTOCOL.md): ``top``, its first choices with
    their probabilities p_i(v), and ``actual``, the token that follows with p_i(x_{i+1}) and its
    rank (null after the document's last token); null when the model keeps no predictions."""
    return encode_prediction(analysis, token, analysis.prediction(token))


def encode_prediction(analysis: Analysis, token: int, predicted: Prediction | None) -> dict[str, Any] | None:
    """``prediction_json`` of a prediction already read (``Analysis.prediction(token)``)."""
    if predicted is None:
        return None
    following = token + 1
    top = [
        {"id": token_id, "text": _id_text(analysis, token_id, following), "probability": probability}
        for token_id, probability in predicted.top
    ]
    actual = None
    if predicted.next_id is not None and math.isfinite(predicted.next_logprob):
        actual = {
            "id": predicted.next_id,
            "text": _id_text(analysis, predicted.next_id, following),
            "probability": math.exp(predicted.next_logprob),
            "rank": predicted.next_rank,
        }
    return {"top": top, "actual": actual}


def surprisal_json(analysis: Analysis, token: int) -> dict[str, Any] | None:
    """How much ``token`` surprised the model given the text before it: s = -log2 p(x_i | x_<i) bits
    and p; null for the first token and where no prediction was kept."""
    bits = analysis.surprisal(token)
    if not math.isfinite(bits):
        return None
    return {"bits": bits, "probability": 2.0**-bits}


def targets_and_lines(
    analysis: Analysis, weights: np.ndarray, top_k: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A weight vector over the document's tokens as the protocol shows it: the ``top_k`` heaviest
    tokens above 0, heaviest first (ties in token order), and every line's summed weight above 0.
    Both hold the document's own tokens only: the context files' are in ``context``
    (``context_json``)."""
    weights = analysis.own_weights(weights)
    order = np.argsort(-weights, kind="stable")
    targets = [{**token_json(analysis, int(i)), "weight": float(weights[i])} for i in order[:top_k] if weights[i] > 0]
    per_line = analysis.line_weights(weights)
    lines = [{"line": int(line), "weight": float(per_line[line])} for line in np.nonzero(per_line > 0)[0]]
    return targets, lines


def flat_ranges(analysis: Analysis, tokens: Iterable[int]) -> list[int]:
    """The ranges of ``tokens``, four numbers each (start line, start character, end line, end
    character), flat: the compact form of the per-token answers (docs/PROTOCOL.md). A token of the
    context files read before the document stands at the document's start, with an empty range."""
    doc, lines = analysis.document, analysis.lines
    ranges: list[int] = []
    for index in tokens:
        span = lines.range(doc.starts[index], doc.ends[index])
        ranges += [span.start.line, span.start.character, span.end.line, span.end.character]
    return ranges


def context_json(analysis: Analysis, weights: np.ndarray, top_k: int) -> dict[str, Any]:
    """``context``: the share of ``weights`` in the context files read before the document
    (``views.context.context_sources``): on everything read before the document (``weight``: the
    files and the headers that name them and the document), per file, the ``top_k`` heaviest tokens
    (``targets``, each with its file's ``uri``, ``name`` and ``range`` in it) and lines (``lines``:
    ``uri``, ``name``, 0-based ``line``, ``weight``, its ``text`` and the ``definition`` holding it);
    nothing for an analysis without context files."""
    found = context_sources(analysis, weights, top_k)
    context = analysis.document.context
    if found is None or context is None:
        return {}
    files, names = context.prefix.files, context.prefix.names
    return {
        "context": {
            "weight": found.weight,
            "files": [
                {"uri": files[f].uri, "name": names[f], "weight": weight} for f, weight in enumerate(found.files)
            ],
            "targets": [{**token_json(analysis, i), "weight": float(weights[i])} for i in found.tokens],
            "lines": [
                {
                    "uri": files[line.file].uri,
                    "name": names[line.file],
                    "line": line.line,
                    "weight": line.weight,
                    "text": line.text,
                    "definition": line.definition,
                }
                for line in found.lines
            ],
        }
    }
