"""The neuron view: how one head's query and key vectors produce one attention weight.

For head h of layer l, query token i and source token j of the window that owns i, with the
captured post-RoPE query q_i and key k_j (the key of h's KV group), scale s and the row's
log-sum-exp normaliser lse_i:

    p_t = q_i[t] k_j[t]                  the product per dimension t
    score = s * sum_t p_t                the attention logit
    a_ij = exp(score - lse_i)            the softmax weight (0 where the mask forbids j)

With rotary embeddings (rotate-half convention: dimension t rotates with t + R/2 for t < R/2, R
the rotated dimensions) each pair's sum p_t + p_{t+R/2} is the pair's share of the logit: it
depends on the tokens' distance through the pair's angle, at frequency theta^(-2t/R), so low
pairs carry position and high pairs mostly content. BertViz's neuron view shows the same
products for BERT and GPT-2 only; here it is read from the captured state of any model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.analysis import Analysis
from atten_scope.engine.refine import raw_rows, source_mask


@dataclass(frozen=True)
class NeuronPair:
    """The parts of the logit of (query, source) at one head, in float64 for display."""

    query: list[float]
    key: list[float]
    products: list[float]
    pairs: list[tuple[int, int]]  # rotate-half pairs (t, t + R/2); empty without RoPE
    pair_sums: list[float]
    wavelengths: list[float] | None  # tokens per full turn of each pair, when one base holds
    scale: float
    score: float
    lse: float
    weight: float
    allowed: bool


def check_head(analysis: Analysis, layer: int, head: int) -> None:
    info = analysis.info
    if not 0 <= layer < info.layers:
        raise InvalidRequest(f"layer {layer} does not exist: the model has {info.layers} (0 to {info.layers - 1}).")
    if not 0 <= head < info.heads:
        raise InvalidRequest(f"head {head} does not exist: the model has {info.heads} (0 to {info.heads - 1}).")


def neuron_pair(analysis: Analysis, layer: int, head: int, query: int, source: int) -> NeuronPair:
    """The neuron view of ``head`` of ``layer`` for token ``query`` attending to token ``source``."""
    info = analysis.info
    check_head(analysis, layer, head)
    analysis.check_token(query)
    win, local = analysis.owner(query)
    if not win.start <= source <= query:
        raise InvalidRequest(
            f"token {source} is not a source of token {query}: a causal model's token attends to itself and "
            f"the tokens before it in its window (from token {win.start})."
        )
    j = source - win.start
    kv_head = head // (info.heads // info.kv_heads)
    q = win.query[layer, head, local].double()
    k = win.key[layer, kv_head, j].double()
    products = q * k
    scale = float(win.scale[layer])
    score = scale * float(products.sum())
    lse = float(win.lse[layer, head, local])
    layers = torch.tensor([layer])
    allowed = bool(source_mask(win, layers, local, 1, j + 1)[0, 0, j])
    weight = math.exp(score - lse) if allowed else 0.0
    half = info.rotary_dims // 2
    pairs = [(t, t + half) for t in range(half)]
    pair_sums = [float(products[a] + products[b]) for a, b in pairs]
    wavelengths = None
    if half and info.rope_theta:
        wavelengths = [2 * math.pi * info.rope_theta ** (2 * t / info.rotary_dims) for t in range(half)]
    # Keyword arguments of the record (alike in shape with other records' constructors only).
    return NeuronPair(
        query=q.tolist(),
        key=k.tolist(),
        products=products.tolist(),
        pairs=pairs,
        pair_sums=pair_sums,
        wavelengths=wavelengths,
        scale=scale,
        score=score,
        lse=lse,
        weight=weight,
        allowed=allowed,
    )


def top_source(analysis: Analysis, layer: int, head: int, query: int, drop_sink: bool = True) -> int:
    """The source ``head`` of ``layer`` weighs most for ``query`` (the window's sinks skipped when
    ``drop_sink`` and another source exists): the pair the neuron view opens on by default."""
    check_head(analysis, layer, head)
    analysis.check_token(query)
    win, local = analysis.owner(query)
    row = raw_rows(win, torch.tensor([layer]), local, 1)[0, head, 0].double()
    if drop_sink and local > 0:
        for sink in analysis.sinks(win):
            if sink - win.start <= local:
                row[sink - win.start] = -1.0
    return win.start + int(torch.argmax(row))
