"""The answers about one token: attention (its row or column, with lines and code units), the
per-head model view, and one head's query-key pair (the neuron view)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from atten_scope.engine.analysis import Analysis
from atten_scope.protocol.encode import (
    check_fresh,
    context_json,
    prediction_json,
    surprisal_json,
    targets_and_lines,
    token_json,
)
from atten_scope.protocol.params import AttentionParams, HeadsParams, NeuronParams, ViewFields
from atten_scope.protocol.request import ViewRequest, builds
from atten_scope.views.attention import attention_vector, head_vectors
from atten_scope.views.evidence import view_faithfulness
from atten_scope.views.neuron import neuron_pair, top_source
from atten_scope.views.options import ViewOptions
from atten_scope.views.units import Symbol, parse_symbols, units_json


def attention_weights(
    analysis: Analysis, token: int, options: ViewOptions, fresh_tokens: int | None = None
) -> np.ndarray:
    """``token``'s row (or column) over the document's tokens; with ``fresh_tokens`` (the document
    was edited since), tokens from the first edited one on get 0: their ranges no longer hold, and
    an attendedBy column would otherwise name them."""
    weights = attention_vector(analysis, token, options)
    if fresh_tokens is not None:
        weights = weights.copy()  # may be a cached row
        weights[fresh_tokens:] = 0.0
    return weights


def attention_json(
    analysis: Analysis,
    token: int,
    options: ViewOptions,
    version: int | None = None,
    fresh_tokens: int | None = None,
    symbols: Sequence[Symbol] | None = None,
    predict: bool = True,
    language: str | None = None,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """The weights of ``token``'s row (or column: ``attention_weights``, or ``weights`` where the
    caller computed them), their line sums and their code units (by the editor's ``symbols``, else
    a parse of the text, else blocks of lines: ``units.units_json``), all over the document's own
    tokens, and the share of the context files read before it (``context_json``). ``predict``: with the token's
    prediction and surprisal (one or two rows of the LM head; null without). ``language``: the
    document's language id, for the grammar that parses it and for the faithfulness figures to say
    what they were measured on (``faithfulness_json``)."""
    began = time.perf_counter()
    if weights is None:
        weights = attention_weights(analysis, token, options, fresh_tokens)
    targets, lines = targets_and_lines(analysis, weights, options.top_k)
    return {
        "version": version,
        "token": token_json(analysis, token),
        "prediction": prediction_json(analysis, token) if predict else None,
        "surprisal": surprisal_json(analysis, token) if predict else None,
        "targets": targets,
        "lines": lines,
        "units": units_json(
            analysis.document,
            analysis.lines,
            analysis.token_lines,
            analysis.own_weights(weights),  # the document's own units; the context files' are in context
            symbols,
            options.top_k,
            language,
        ),
        **context_json(analysis, weights, options.top_k),
        "settings": options.to_json(),
        **faithfulness_json(analysis, token, options, language),
        "elapsedMs": round((time.perf_counter() - began) * 1000, 2),
    }


def query_position(analysis: Analysis, token: int) -> str:
    """The benchmark's situation of a query token: ``last`` for the document's last analysed token,
    ``interior`` for any other."""
    return "last" if token == analysis.token_count - 1 else "interior"


def faithfulness_json(
    analysis: Analysis, token: int, options: ViewOptions, language: str | None = None
) -> dict[str, Any]:
    """How faithful the view measured where the user looks: ``faithfulness`` for the tinted tokens,
    ``lineFaithfulness`` for the per-line weights (the gutter), both at ``token``'s position and
    worded for a document in ``language`` (``evidence.view_faithfulness``)."""
    position = query_position(analysis, token)
    model_id = analysis.info.id
    return {
        "faithfulness": view_faithfulness(model_id, options, position=position, unit="token", language=language),
        "lineFaithfulness": view_faithfulness(model_id, options, position=position, unit="line", language=language),
    }


@builds("attention", AttentionParams)
def attention_result(request: ViewRequest[AttentionParams]) -> dict[str, Any]:
    params = request.params
    options = request.options(params)
    token = request.token(params.position)
    raw = params.symbols if params.symbols is not None else request.symbols
    symbols = None if raw is None else parse_symbols(raw)
    return attention_json(
        request.analysis,
        token,
        options,
        request.version,
        request.fresh_tokens,
        symbols,
        params.prediction,
        request.language,
    )


def heads_json(
    analysis: Analysis, token: int, options: ViewOptions, version: int | None = None, fresh_tokens: int | None = None
) -> dict[str, Any]:
    """Per layer x head, in ``options.direction``: the entropy (nats) of the head's refined row (or
    column), its top token and the weight on it; tokens from ``fresh_tokens`` on left out (edited)."""
    vectors, offset = head_vectors(analysis, token, options)
    if fresh_tokens is not None:
        vectors = vectors[..., : max(0, fresh_tokens - offset)]
    cells = []
    for layer in range(vectors.shape[0]):
        for head in range(vectors.shape[1]):
            vector = vectors[layer, head]
            positive = vector[vector > 0]
            entropy = float(-(positive * np.log(positive)).sum()) if positive.size else 0.0
            top = int(np.argmax(vector))
            cells.append(
                {
                    "layer": layer,
                    "head": head,
                    "entropy": entropy if math.isfinite(entropy) else 0.0,
                    "top": token_json(analysis, offset + top) if positive.size else None,
                    "weight": float(vector[top]),
                }
            )
    return {
        "version": version,
        "token": token_json(analysis, token),
        "layers": analysis.info.layers,
        "heads": analysis.info.heads,
        "cells": cells,
        "settings": options.to_json(),
    }


@builds("heads", HeadsParams)
def heads_result(request: ViewRequest[HeadsParams]) -> dict[str, Any]:
    # The grid shows every head on its own: layer/head selections and aggregates do not apply.
    options = request.options(request.params, ViewFields(aggregate="headMean", layers="all", heads="all"))
    token = request.token(request.params.position)
    return heads_json(request.analysis, token, options, request.version, request.fresh_tokens)


@builds("neuron", NeuronParams)
def neuron_result(request: ViewRequest[NeuronParams]) -> dict[str, Any]:
    """``neuron.neuron_pair`` for the token at ``position`` and ``source`` (a token index; by
    default the head's strongest source, sinks skipped unless ``dropSink`` is false)."""
    analysis, params = request.analysis, request.params
    token = request.token(params.position)
    layer, head = params.layer, params.head
    source = params.source
    if source is None:
        source = top_source(analysis, layer, head, token, params.drop_sink)
    check_fresh(analysis, source, request.fresh_tokens, "source token")
    pair = neuron_pair(analysis, layer, head, token, source)
    info = analysis.info
    return {
        "version": request.version,
        "layer": layer,
        "head": head,
        "kvHead": head // (info.heads // info.kv_heads),
        "token": token_json(analysis, token),
        "source": token_json(analysis, source),
        "query": pair.query,
        "key": pair.key,
        "products": pair.products,
        "rotaryDims": info.rotary_dims,
        "pairs": [list(p) for p in pair.pairs],
        "pairSums": pair.pair_sums,
        "wavelengths": pair.wavelengths,
        "scale": pair.scale,
        "score": pair.score,
        "lse": pair.lse,
        "weight": pair.weight,
        "allowed": pair.allowed,
    }
