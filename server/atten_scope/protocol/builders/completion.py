"""The answer of ``attenScope/complete``: a completion at the cursor, kept as an analysis (``views.completion``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.generation import GeneratedToken, GenerationSettings
from atten_scope.engine.tokens import id_label, label
from atten_scope.protocol.builders.attribution import attribution_json
from atten_scope.protocol.encode import offset_at_position
from atten_scope.protocol.params import CompleteParams, Position
from atten_scope.protocol.request import ViewRequest, builds
from atten_scope.views.attribution import instant_attribution
from atten_scope.views.completion import Completion, complete
from atten_scope.views.units import Symbol, parse_symbols, parsed_symbols

DECIMALS = 6  # probabilities: a millionth is below what any reader compares
BITS_DECIMALS = 3  # entropies, as the surprise view's bits


@builds("complete", CompleteParams)
def complete_result(request: ViewRequest[CompleteParams]) -> dict[str, Any]:
    """``completion.complete`` at the request's position; the completion analysis is handed to the
    caller to keep (``ViewRequest.keep``), which names it by the ``completionUri`` of the answer."""
    if request.model is None:
        raise InvalidRequest("Completing runs the model: the request needs the loaded model.")
    params, analysis = request.params, request.analysis
    settings = GenerationSettings(
        max_new_tokens=params.max_new_tokens,
        temperature=params.temperature,
        seed=params.seed,
        alternatives=params.alternatives,
        forced=params.forced,
    )
    cursor = offset_at_position(analysis, params.position)
    done = complete(analysis, request.model, cursor, settings, params.without_lines, request.progress, request.budget)
    # The editor's definitions hold for the document's lines, not for the text without some of them.
    symbols = parse_symbols(request.symbols) if request.symbols is not None and not done.context.edited else None
    if not symbols and not done.context.edited:  # none from the editor: the parser's, where there is a grammar
        symbols = parsed_symbols(analysis.document, analysis.lines, request.language) or symbols
    out = completion_json(done, params.position, request.model.tokenizer, symbols)
    if request.keep is not None:
        out = {"completionUri": request.keep(done.generation), **out}
    return out


def completion_json(
    done: Completion, position: Position, tokenizer: Any, symbols: Sequence[Symbol] | None
) -> dict[str, Any]:
    """The answer of ``attenScope/complete`` (docs/PROTOCOL.md) without its ``completionUri``."""
    generation = done.generation
    completion: dict[str, Any] = {
        "text": generation.text,
        "stop": generation.stop,
        "tokens": [token_json(done, token, tokenizer) for token in generation.tokens],
    }
    if generation.seed is not None:
        completion["seed"] = generation.seed
    out: dict[str, Any] = {
        "position": {"line": position.line, "character": position.character},
        "completion": completion,
        "cost": {
            "seconds": round(generation.seconds, 3),
            "reusedTokens": generation.reused_tokens,
            "computedTokens": generation.computed_tokens,
            "generatedTokens": len(generation.tokens),
        },
    }
    if generation.tokens:
        analysis, start = generation.analysis, generation.start
        found = instant_attribution(analysis, start, analysis.token_count, done.before_line, symbols)
        out["attribution"] = _document_lines(done, attribution_json(found))
    if done.context.edited:
        out["withoutLines"] = [[first, last] for first, last in done.context.removed]
    return out


def token_json(done: Completion, token: GeneratedToken, tokenizer: Any) -> dict[str, Any]:
    """One completion token: its exact text, label, UTF-16 offset in the completion's text,
    probability, entropy (bits), whether it was forced and the alternatives the model weighed."""
    document, text = done.analysis.document, done.generation.text
    return {
        "index": token.index,
        "id": token.id,
        "text": text[token.start : token.end],
        "label": label(document, token.index),
        "offset": _utf16(text[: token.start]),
        "probability": round(token.probability, DECIMALS),
        "entropy": round(token.entropy, BITS_DECIMALS),
        "forced": token.forced,
        "alternatives": [
            {
                "id": alternative.id,
                "text": tokenizer.decode([alternative.id], clean_up_tokenization_spaces=False),
                "label": id_label(document, alternative.id),
                "probability": round(alternative.probability, DECIMALS),
            }
            for alternative in token.alternatives
        ],
    }


def _document_lines(done: Completion, attribution: dict[str, Any]) -> dict[str, Any]:
    """``attribution`` with its 1-based lines of the completion's context moved to the document's
    lines (they differ when lines were removed before completing)."""
    if not done.context.edited:
        return attribution

    def moved(line: int) -> int:
        return done.document_line(line - 1) + 1

    for entry in attribution["lines"]:
        entry["line"] = moved(entry["line"])
    for unit in attribution["units"]:
        unit["line"] = moved(unit["line"])
        unit["lines"] = [moved(unit["lines"][0]), moved(unit["lines"][1])]
    return attribution


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
