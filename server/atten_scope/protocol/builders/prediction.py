"""The answers that explain the prediction after a token: its logit lens, and why it and not an alternative."""

from __future__ import annotations

import time
from typing import Any

from atten_scope.engine.analysis import Analysis
from atten_scope.protocol.encode import predicted_text, token_json
from atten_scope.protocol.params import ContrastParams, LogitLensParams
from atten_scope.protocol.request import ViewRequest, builds
from atten_scope.views.contrast import Choice, Contrast, contrast
from atten_scope.views.lens import LogitLens, logit_lens


def lens_json(analysis: Analysis, lens: LogitLens) -> dict[str, Any]:
    """``logitLens`` (per layer, 0-based, its first choices) and ``settledAt`` of a logit lens."""
    return {
        "logitLens": [
            {
                "layer": layer,
                "top": [
                    {"id": i, "text": predicted_text(analysis, lens.token, i), "probability": p}
                    for i, p in zip(top.ids, top.probabilities, strict=True)
                ],
            }
            for layer, top in enumerate(lens.layers)
        ],
        "settledAt": lens.settled_at,
    }


@builds("logitLens", LogitLensParams)
def logit_lens_result(request: ViewRequest[LogitLensParams]) -> dict[str, Any]:
    """``lens.logit_lens`` of the token at ``position`` (docs/PROTOCOL.md)."""
    began = time.perf_counter()
    analysis, params = request.analysis, request.params
    token = request.token(params.position)
    model = request.model.model if request.model is not None else None
    lens = logit_lens(analysis, token, params.top_k, model=model)
    return {
        "version": request.version,
        "token": token_json(analysis, token),
        "layers": len(lens.layers),
        **lens_json(analysis, lens),
        "recomputedTokens": lens.recomputed,
        "elapsedMs": round((time.perf_counter() - began) * 1000, 1),
    }


def _choice_json(analysis: Analysis, token: int, choice: Choice) -> dict[str, Any]:
    return {
        "id": choice.id,
        "text": predicted_text(analysis, token, choice.id),
        "logit": choice.logit,
        "probability": choice.probability,
    }


def contrast_json(analysis: Analysis, found: Contrast, top_k: int) -> dict[str, Any]:
    """A contrast as the protocol writes it: the ``top_k`` sources with the largest contributions
    (either sign), and ``otherSources`` so that sources + otherSources = attention."""
    token = found.token
    order = sorted(range(len(found.sources)), key=lambda j: (-abs(found.sources[j]), j))[:top_k]
    listed = [j for j in order if found.sources[j] != 0.0]
    return {
        "token": token_json(analysis, token),
        "predicted": _choice_json(analysis, token, found.predicted),
        "alternative": _choice_json(analysis, token, found.alternative),
        "difference": found.difference,
        "sources": [
            {"token": token_json(analysis, found.first_source + j), "contribution": found.sources[j]} for j in listed
        ],
        "otherSources": found.attention - sum(found.sources[j] for j in listed),
        "attention": found.attention,
        "mlp": found.mlp,
        "residual": found.residual,
        "remainder": found.remainder,
        "layers": [{"layer": layer, "attention": a, "mlp": m} for layer, (a, m) in enumerate(found.layers)],
    }


@builds("contrast", ContrastParams)
def contrast_result(request: ViewRequest[ContrastParams]) -> dict[str, Any]:
    """``contrast.contrast`` of the token at ``position`` and ``alternative`` (docs/PROTOCOL.md)."""
    began = time.perf_counter()
    analysis, params = request.analysis, request.params
    token = request.token(params.position)
    loaded = request.model
    found = contrast(
        analysis,
        token,
        params.alternative,
        model=loaded.model if loaded is not None else None,
        tokenizer=loaded.tokenizer if loaded is not None else None,
    )
    return {
        "version": request.version,
        **contrast_json(analysis, found, params.top_k),
        "recomputedTokens": found.recomputed,
        "elapsedMs": round((time.perf_counter() - began) * 1000, 1),
    }
