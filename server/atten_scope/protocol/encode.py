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
from atten_scope.engine.tokens import id_label, label
from atten_scope.protocol.fields import parse_params
from atten_scope.protocol.params import Position


def token_json(analysis: Analysis, index: int) -> dict[str, Any]:
    """A token reference: ``text`` is its exact source span, ``label`` what a reader is shown
    (``tokens.label``: whitespace as symbols, ``折 (part)`` for a piece of a character)."""
    doc = analysis.document
    return {
        "index": index,
        "range": analysis.lines.range(doc.starts[index], doc.ends[index]).to_lsp(),
        "text": doc.token_text(index),
        "label": label(doc, index),
    }


def stale_from(analysis: Analysis, fresh_tokens: int) -> dict[str, int]:
    """The LSP position where the edited part of a document begins: the start of its first token
    that differs from ``analysis`` (the text before it is the same in both versions)."""
    doc = analysis.document
    offset = doc.starts[fresh_tokens] if fresh_tokens < len(doc) else len(doc.text)
    start = analysis.lines.range(offset, offset).to_lsp()["start"]
    return {"line": int(start["line"]), "character": int(start["character"])}


def check_fresh(analysis: Analysis, token: int, fresh_tokens: int | None, what: str = "token") -> None:
    """Refuse ``token`` when it was edited after ``analysis`` (``fresh_tokens``: see ``ViewRequest``)."""
    if fresh_tokens is not None and token >= fresh_tokens:
        where = stale_from(analysis, fresh_tokens)
        raise ChangedSinceAnalysis(
            f"This {what} changed after the analysis (the document is unchanged up to line {where['line'] + 1}): "
            "analyse it again.",
            fresh_tokens,
            where,
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
    }


def _id_text(analysis: Analysis, token_id: int, following: int | None) -> str:
    """The label of a predicted id: the document's label of the next token when it is that token
    (a piece of a character shows the character), else the vocabulary's (``tokens.Vocabulary``)."""
    doc = analysis.document
    if following is not None and following < len(doc) and doc.ids[following] == token_id:
        return label(doc, following)
    return id_label(doc, token_id)


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
    tokens above 0, heaviest first (ties in token order), and every line's summed weight above 0."""
    order = np.argsort(-weights, kind="stable")
    targets = [{**token_json(analysis, int(i)), "weight": float(weights[i])} for i in order[:top_k] if weights[i] > 0]
    per_line = analysis.line_weights(weights)
    lines = [{"line": int(line), "weight": float(per_line[line])} for line in np.nonzero(per_line > 0)[0]]
    return targets, lines


def flat_ranges(analysis: Analysis, tokens: Iterable[int]) -> list[int]:
    """The ranges of ``tokens``, four numbers each (start line, start character, end line, end
    character), flat: the compact form of the per-token answers (docs/PROTOCOL.md)."""
    doc, lines = analysis.document, analysis.lines
    ranges: list[int] = []
    for index in tokens:
        span = lines.range(doc.starts[index], doc.ends[index])
        ranges += [span.start.line, span.start.character, span.end.line, span.end.character]
    return ranges
