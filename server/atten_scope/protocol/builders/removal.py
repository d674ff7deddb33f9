"""The answer of ``attenScope/removeLines``: the model run again without some lines (``views.removal``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.analysis import Analysis
from atten_scope.protocol.encode import encode_prediction, flat_ranges, offset_at_position, token_json
from atten_scope.protocol.params import RemoveLinesParams
from atten_scope.protocol.request import ViewRequest, builds
from atten_scope.views.removal import RemovalEffect, removal_effect

HEAT_DECIMALS = 3  # bits are sent rounded to a thousandth of a bit, as the surprise view's


@builds("removeLines", RemoveLinesParams)
def remove_lines_result(request: ViewRequest[RemoveLinesParams]) -> dict[str, Any]:
    """``removal.removal_effect`` of the request's lines at its position; the edited analysis is
    dropped with the effect once the answer is built."""
    if request.model is None:
        raise InvalidRequest("Removing lines runs the model again: the request needs the loaded model.")
    params, analysis = request.params, request.analysis
    first, last = params.first_last
    offset = offset_at_position(analysis, params.position)
    effect = removal_effect(analysis, request.model, first, last, offset, params.heat, request.progress)
    return removal_json(analysis, effect, request.version)


def removal_json(analysis: Analysis, effect: RemovalEffect, version: int | None) -> dict[str, Any]:
    """The answer of ``attenScope/removeLines`` (docs/PROTOCOL.md); ``analysis`` is the document's
    (the heat's ranges are in the document, where it is painted)."""
    out: dict[str, Any] = {
        "version": version,
        "lines": {"first": effect.removal.first, "last": effect.removal.last},
        "removedCharacters": effect.removal.removed_chars,
        "token": token_json(analysis, effect.token),
        "editedToken": effect.edited_token,
        "before": encode_prediction(analysis, effect.token, effect.before),
        "after": encode_prediction(effect.edited, effect.edited_token, effect.after),
        "tokens": effect.tokens,
        "reusedTokens": effect.reused,
        "recomputedTokens": effect.recomputed,
        "elapsedMs": round(effect.elapsed_ms, 1),
        "heat": None,
    }
    if effect.heat is not None:
        ranges = flat_ranges(analysis, (j for j, _, _ in effect.heat))
        delta = np.array([after - before for _, before, after in effect.heat], dtype=np.float64)
        out["heat"] = {
            "unit": "bits",
            "indices": [j for j, _, _ in effect.heat],
            "delta": [round(float(d), HEAT_DECIMALS) for d in delta],
            "ranges": ranges,
            "totalDelta": round(float(delta.sum()), HEAT_DECIMALS) if len(delta) else 0.0,
        }
    return out
