"""Why this and not that: the logit difference between the model's prediction at a token and an
alternative, split into the direct contributions of the source tokens (through the attention
heads), the MLPs, the token's own embedding and what the readout does beyond a linear map.

With the contributions of ``contributions.py`` at the target token i (one forward pass over the
window up to it), the residual after the last layer is

    y = x^0 + sum_l (sum_j z'^l_ij + b'^l_i + m^l_i)

(x^0 the token's embedding, z'^l_ij = sum_h a^h_ij v_j W_O^h the heads' output from source j,
after the sandwich norm linearised at the token where the model has one, b' the output bias,
m the MLP block's output). The logits are z = post(W_U N(y)) with N(y) = y r w the final
RMSNorm, r = 1 / sqrt(mean(y^2) + eps) the token's own scale and w the norm's gain, and post the
family's logit steps. With r held at its value, every part p of y adds

    c(p) = s (d . (p r w)),    d = W_U[predicted] - W_U[alternative]

to the pre-soft-cap difference, s the product of the linear steps before any soft-cap (Cohere's
scale, Granite's divisor; 1 for most models). So

    z[predicted] - z[alternative] = sum_j c(z'_j) + c(b') + c(m) + c(x^0) + remainder

where ``attention`` = sum_j c(sum_l z'^l_ij) + c(sum_l b'^l_i), ``mlp`` = sum_l c(m^l_i),
``residual`` = c(x^0), and ``remainder`` is what is left of the model's real difference: the
soft-cap's bend (Gemma), an LM-head bias and the rounding of the pass. An RMSNorm read at the
token's own scale is exact, so the norm itself adds no remainder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from atten_scope.common import cancellation
from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.analysis import Analysis
from atten_scope.engine.architecture import UnsupportedArchitecture
from atten_scope.engine.contributions import Contributions, rms_gain
from atten_scope.engine.families import family_of
from atten_scope.engine.lens import Readout
from atten_scope.engine.tokens import id_label
from atten_scope.views.flow import window_rows

# Predicted ids compared with a text alternative before the tokenizer is asked: the text a reader
# saw in a prediction list is the label of one of the model's first choices.
LABEL_CANDIDATES = 1000


@dataclass(frozen=True)
class Choice:
    """A token of the comparison: its id, logit z[id] and probability softmax(z)[id]."""

    id: int
    logit: float
    probability: float


@dataclass(frozen=True)
class Contrast:
    token: int
    predicted: Choice
    alternative: Choice
    difference: float  # z[predicted] - z[alternative]
    sources: list[float]  # c(z'_j) for the window's tokens parts.start .. token
    first_source: int  # the document index of sources[0]
    attention: float
    mlp: float
    residual: float
    remainder: float
    layers: list[tuple[float, float]]  # per layer (0-based): its attention and MLP parts
    recomputed: int

    @property
    def output_bias(self) -> float:
        """c(sum_l b'^l_i): the part of ``attention`` from no source."""
        return self.attention - sum(self.sources)


def _text_choice(analysis: Analysis, logits: torch.Tensor, text: str, tokenizer: Any) -> int:
    """The id a text alternative names: among the model's first choices at the token, the one shown
    as ``text`` or decoded as it; else the one token the tokenizer makes of it."""
    doc = analysis.document
    order = torch.topk(logits, min(LABEL_CANDIDATES, logits.shape[0])).indices.tolist()
    for token_id in order:
        if id_label(doc, int(token_id)) == text:
            return int(token_id)
    if tokenizer is not None:
        for token_id in order:
            if tokenizer.decode([int(token_id)], clean_up_tokenization_spaces=False) == text:
                return int(token_id)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) == 1:
            return int(ids[0])
        raise InvalidRequest(
            f"The alternative {text[:40]!r} is {len(ids)} tokens for this model: give one token, or its id."
        )
    raise InvalidRequest(f"The alternative {text[:40]!r} is not among the model's first choices: give its token id.")


def resolve_alternative(analysis: Analysis, logits: torch.Tensor, alternative: int | str, tokenizer: Any = None) -> int:
    """The vocabulary id of ``alternative`` (an id, or a token's text as shown or decoded)."""
    vocabulary = int(logits.shape[0])
    if isinstance(alternative, int):
        if not 0 <= alternative < vocabulary:
            raise InvalidRequest(f"alternative {alternative} is not in the model's vocabulary (0 to {vocabulary - 1}).")
        return alternative
    return _text_choice(analysis, logits, alternative, tokenizer)


def _linear_factor(post: Sequence[tuple[str, float]]) -> float:
    """s: the product of the logit steps before the first soft-cap (the steps that are linear)."""
    factor = 1.0
    for kind, c in post:
        if kind == "softcap":
            break
        factor = factor * c if kind == "scale" else factor / c
    return factor


def _source_parts(parts: Contributions, target: int, direction: torch.Tensor) -> tuple[torch.Tensor, list[float]]:
    """(sum_l c(z'^l_ij) for each source j <= target, per-layer c(sum_j z'^l_ij + b'^l_i)).

    The direction is carried back through each head's output projection, u_h = W_O^h d_l, so a
    source costs a^h_ij (v_j . u_h) per head: O(H S dv) a layer rather than the O(H S D) of its terms.
    """
    sources = torch.zeros(target + 1, dtype=torch.float32)
    per_layer: list[float] = []
    heads, kv_heads = parts.heads, int(parts.key.shape[1])
    for layer in range(1, parts.layers + 1):
        cancellation.check()
        index = layer - 1
        gain = parts.norm_gain[index]
        scaled = direction if gain is None else direction * parts.norm_scale_of(layer, target) * gain
        u = torch.matmul(parts.projection[index].float(), scaled)  # (H, dv)
        weights = parts.attention_weights(layer, target, 1)[:, 0]  # (H, S)
        values = parts.value[index, :, : target + 1].float().repeat_interleave(heads // kv_heads, dim=0)
        here = torch.einsum("hs,hs->s", weights, torch.einsum("hsd,hd->hs", values, u))
        sources += here.cpu()
        bias = float(parts.bias_term(layer, target, 1)[0] @ direction)
        per_layer.append(float(here.sum()) + bias)
    return sources, per_layer


def contrast(
    analysis: Analysis, token: int, alternative: int | str, model: Any = None, tokenizer: Any = None
) -> Contrast:
    """Why the model predicts its first choice after ``token`` and not ``alternative`` (see the
    module doc); ``model``: as ``flow.window_rows``; ``tokenizer``: reads a text alternative."""
    window, target = window_rows(analysis, token, model)
    parts = window.row(target)
    model = model if model is not None else analysis.model
    readout = Readout.of(model)
    width = int(parts.hidden.shape[-1])
    y = parts.state(parts.layers, target)
    with torch.inference_mode():
        logits = readout.logits(y[None])[0]
        probabilities = torch.softmax(logits, dim=-1)
    predicted = int(torch.argmax(logits))
    other = resolve_alternative(analysis, logits, alternative, tokenizer)
    if other == predicted:
        raise InvalidRequest("The alternative is the model's own first choice here: choose another token.")
    try:
        gain, eps = rms_gain(readout.norm, width, family_of(model))
    except UnsupportedArchitecture as error:
        raise UnsupportedArchitecture(
            f"The model's final norm ({type(readout.norm).__name__}) is not an RMSNorm, so it cannot be "
            "linearised at the token's scale: this model has no contrast view."
        ) from error
    y32 = y.float()
    scale = torch.rsqrt(y32.pow(2).mean() + eps)
    with torch.inference_mode():
        unembedding = model.get_output_embeddings().weight
        rows = unembedding[[predicted, other]].float().to(y32.device)
    direction = _linear_factor(readout.head.post) * (rows[0] - rows[1]) * scale * gain.to(y32.device)
    sources, per_layer = _source_parts(parts, target, direction)
    mlps = [float(parts.mlp_output(layer, target) @ direction) for layer in range(1, parts.layers + 1)]
    attention, mlp = sum(per_layer), sum(mlps)
    residual = float(parts.state(0, target) @ direction)
    difference = float(logits[predicted] - logits[other])
    return Contrast(
        token=token,
        predicted=Choice(predicted, float(logits[predicted]), float(probabilities[predicted])),
        alternative=Choice(other, float(logits[other]), float(probabilities[other])),
        difference=difference,
        sources=[float(v) for v in sources.tolist()],
        first_source=parts.start,
        attention=attention,
        mlp=mlp,
        residual=residual,
        remainder=difference - (attention + mlp + residual),
        layers=list(zip(per_layer, mlps, strict=True)),
        recomputed=parts.n,
    )
