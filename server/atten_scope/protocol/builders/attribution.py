"""The answer of ``attenScope/explainCompletion`` and the Attribution object (``views.attribution``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from atten_scope.common.errors import InvalidRequest
from atten_scope.common.quoting import shorten
from atten_scope.engine.positions import LineIndex
from atten_scope.engine.tokens import id_label
from atten_scope.protocol.encode import offset_at_position, token_json
from atten_scope.protocol.params import ExplainParams
from atten_scope.protocol.request import ViewRequest, builds
from atten_scope.views.attribution import Attribution, Explanation, explain_generation, explain_prediction
from atten_scope.views.units import parse_symbols, parsed_symbols

SCORE_DECIMALS = 4  # nats: a ten-thousandth is below any drop a reader compares


@builds("explainCompletion", ExplainParams)
def explain_result(request: ViewRequest[ExplainParams]) -> dict[str, Any]:
    """``attribution.explain_generation`` of the kept completion ``completionUri`` (looked up through
    ``request.completions``), else ``explain_prediction`` of the model's first choice after the
    token that ends at ``position``."""
    if request.model is None:
        raise InvalidRequest("Explaining a completion runs the model: the request needs the loaded model.")
    params, analysis = request.params, request.analysis
    raw = params.symbols if params.symbols is not None else request.symbols
    symbols = None if raw is None else parse_symbols(raw)
    if not symbols:  # none from the editor: the parser's definitions, where the language has a grammar
        symbols = parsed_symbols(analysis.document, analysis.lines, request.language) or symbols
    if params.completion_uri is not None:
        generation = _completion(request, params.completion_uri)
        explanation = explain_generation(
            request.model, generation, symbols, params.ablations, params.seed, request.progress
        )
        return explanation_json(explanation)
    assert params.position is not None  # check() saw one of the two
    if analysis.document.context is not None:
        # Its removals re-read the document alone, so they would not measure what the analysis read.
        raise InvalidRequest(
            "Explaining the prediction at the cursor reads the document alone: analyse it without context files "
            "(Atten-Scope: Analyze File) to explain it."
        )
    offset = offset_at_position(analysis, params.position)
    if offset == 0:
        raise InvalidRequest("The cursor is at the start of the file: no code before it makes a prediction.")
    # The prediction at the cursor is made after the token that ends there (or holds the cursor).
    token = analysis.document.token_at(offset - 1)
    analysis.check_token(token)
    predicted, explanation = explain_prediction(
        request.model, analysis, token, symbols, params.ablations, params.seed, request.progress
    )
    out = explanation_json(explanation)
    out["prediction"] = {
        "id": predicted,
        "label": id_label(analysis.document, predicted),
        "after": token_json(analysis, token),
    }
    return out


def _completion(request: ViewRequest[ExplainParams], uri: str) -> Any:
    found = request.completions.get(uri)
    if found is None:
        raise InvalidRequest(
            f"The completion {shorten(uri)} is no longer kept (a newer completion or an edit replaced it): "
            "complete again."
        )
    return found


def explanation_json(explanation: Explanation) -> dict[str, Any]:
    """The result of ``attenScope/explainCompletion`` (docs/PROTOCOL.md)."""
    return {
        "attribution": attribution_json(explanation.attribution),
        "instant": attribution_json(explanation.instant),
        "cost": {
            "seconds": round(explanation.seconds, 3),
            "ablations": len(explanation.actual),
            "forwardTokens": explanation.forward_tokens,
        },
    }


def attribution_json(attribution: Attribution) -> dict[str, Any]:
    """The Attribution object (docs/PROTOCOL.md): lines 1-based, scores in nats."""
    return {
        "method": attribution.method,
        "label": attribution.label,
        "lds": None if attribution.lds is None else round(attribution.lds, SCORE_DECIMALS),
        "ldsSource": attribution.lds_source,
        "total": round(attribution.total, SCORE_DECIMALS),
        "lines": [
            {"line": line + 1, "score": round(float(score), SCORE_DECIMALS)}
            for line, score in enumerate(attribution.line_scores)
        ],
        "units": [
            {
                "kind": unit.kind,
                "name": unit.name,
                "line": unit.first + 1,
                "lines": [unit.first + 1, unit.last + 1],
                "score": round(unit.score, SCORE_DECIMALS),
            }
            for unit in attribution.units
        ],
    }


def attribution_table(attributions: Sequence[Attribution], lines: LineIndex, top: int) -> str:
    """Each attribution's ``top`` lines by |score| (nats) with its total and LDS, as text (the CLI's ``--explain``)."""
    out = []
    for attribution in attributions:
        lds = "not measured" if attribution.lds is None else f"{attribution.lds:+.2f} ({attribution.lds_source})"
        out.append(f"\n{attribution.method}: {attribution.label}\n  total {attribution.total:+.3f} nats, LDS {lds}")
        order = np.argsort(-np.abs(attribution.line_scores), kind="stable")[:top]
        for line in order:
            text = lines.text[lines.offset(int(line), 0) : lines.offset(int(line), 1 << 30)].strip()
            out.append(f"  {attribution.line_scores[line]:+8.3f}  line {line + 1:>4}  {text[:70]}")
    return "\n".join(out)
