"""The logit lens of the token at the cursor: what each layer would predict if it were the last.

For token i, layer l (0-based here, as the protocol counts) reads the residual stream after it,
x^(l+1), through the final norm and the LM head (``engine/lens.py``):

    p^l = softmax(post(W_U N(x^(l+1))))

The last layer's readout is the model's own prediction. It is read from the final hidden row the
analysis kept, through the same head as the hover's prediction (``Analysis.prediction``), so the
two agree exactly, also where the analysis stores its windows compactly (``storage.py``); the
other layers come from a one-token pass over the window's cached keys and values.

``settled_at`` is the first layer from which every layer's first choice is the final one: how
early the prediction was decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from atten_scope.common import cancellation
from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.analysis import Analysis
from atten_scope.engine.lens import LayerTop, Readout, settled_at, token_stream


@dataclass(frozen=True)
class LogitLens:
    token: int
    layers: list[LayerTop]  # one per decoder layer, in order
    settled_at: int
    recomputed: int  # tokens the pass ran (1 when it read the window's cache)


def _model_of(analysis: Analysis, model: Any) -> Any:
    chosen = model if model is not None else analysis.model
    if chosen is None:
        raise InvalidRequest("This view runs the model again, and the analysis holds none: analyse the file again.")
    return chosen


def logit_lens(analysis: Analysis, token: int, top_k: int, model: Any = None) -> LogitLens:
    """The ``top_k`` first choices of every layer's readout at ``token`` (see the module doc);
    ``model``: the torch model that analysed ``analysis`` (its own by default)."""
    model = _model_of(analysis, model)
    analysis.check_token(token)
    win, local = analysis.owner(token)
    readout = Readout.of(model)
    computed = token_stream(model, win, local, cancellation.check)
    stream = computed.residual
    tops: list[LayerTop] = []
    with torch.inference_mode():
        rows = readout.logits(stream[1:-1]) if stream.shape[0] > 2 else None
        final = win.hidden[local][None] if win.hidden is not None and analysis.predicts(win) else None
        last = readout.head.logits(final) if final is not None else readout.logits(stream[-1:])
        logits = last if rows is None else torch.cat([rows, last])
        probabilities = torch.softmax(logits, dim=-1)
        values, ids = torch.topk(probabilities, min(top_k, probabilities.shape[-1]), dim=-1)
    for row_ids, row_values in zip(ids.tolist(), values.tolist(), strict=True):
        tops.append(LayerTop([int(i) for i in row_ids], [float(v) for v in row_values]))
    return LogitLens(token, tops, settled_at([t.ids[0] for t in tops]), computed.computed)
