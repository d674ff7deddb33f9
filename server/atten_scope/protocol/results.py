"""Analysis -> the JSON objects of the protocol (docs/PROTOCOL.md), shared by the CLI and the server.

Each view of ``registry.VIEWS`` has one result builder here, registered with ``@result_of``.
"""

from __future__ import annotations

import base64
import math
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from atten_scope.common.errors import ChangedSinceAnalysis, InvalidRequest
from atten_scope.engine.analysis import Analysis
from atten_scope.engine.tokens import id_label, label
from atten_scope.registry import FLOW_NODES, FLOW_THRESHOLD, HEATMAP_BINS, HEATMAP_TOKENS, TOP_K, VIEWS, Implementations
from atten_scope.views.attention import attention_vector, drop_sinks, head_vectors
from atten_scope.views.evidence import default_options, method_faithfulness, view_faithfulness
from atten_scope.views.flow import alti_rollout, flow_graph
from atten_scope.views.heatmap import Pooled, encode_log16, overview_row_bins, overview_seconds, pooled_matrix
from atten_scope.views.neuron import neuron_pair, top_source
from atten_scope.views.options import ViewOptions, ViewQuery
from atten_scope.views.units import Symbol, parse_symbols, units_json

ResultBuilder = Callable[[Analysis, ViewQuery], dict[str, Any]]
RESULT_BUILDERS = Implementations[ResultBuilder](VIEWS, "view")
result_of = RESULT_BUILDERS.register


def view_result(name: str, analysis: Analysis, query: ViewQuery) -> dict[str, Any]:
    """The JSON answer of the view ``name`` to ``query``."""
    return RESULT_BUILDERS.get(name)(analysis, query)


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
    """Refuse ``token`` when it was edited after ``analysis`` (``fresh_tokens``: see ``ViewQuery``)."""
    if fresh_tokens is not None and token >= fresh_tokens:
        where = stale_from(analysis, fresh_tokens)
        raise ChangedSinceAnalysis(
            f"This {what} changed after the analysis (the document is unchanged up to line {where['line'] + 1}): "
            "analyse it again.",
            fresh_tokens,
            where,
        )


def offset_at_position(analysis: Analysis, position: Any) -> int:
    """The code-point offset of an LSP position ``{line, character}`` in the analysed document."""
    if not isinstance(position, dict):
        raise InvalidRequest("position must be an object {line, character}.")
    line, character = position.get("line"), position.get("character")
    if (
        isinstance(line, bool)
        or isinstance(character, bool)
        or not isinstance(line, int)
        or not isinstance(character, int)
    ):
        raise InvalidRequest("position.line and position.character must be whole numbers.")
    try:
        return analysis.lines.offset(line, character)
    except ValueError as error:
        raise InvalidRequest(f"The position is outside the document: {error}.") from error


def token_at_position(analysis: Analysis, position: Any, fresh_tokens: int | None = None) -> int:
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
    predicted = analysis.prediction(token)
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


def percent(probability: float) -> str:
    """A probability as a percentage with two significant digits at most: 62%, 7.5%, 0.71%, 0.0031%."""
    value = 100.0 * probability
    if value >= 9.95:
        return f"{value:.0f}%"
    if value >= 0.995:
        return f"{value:.1f}%"
    if value <= 0:
        return "0%"
    return f"{value:.2g}%" if value >= 1e-4 else f"{value:.1e}%"


def prediction_sentence(prediction: dict[str, Any] | None, quote: Callable[[str], str]) -> str | None:
    """``Predicts `all` (62%), then `(` 11%, …; actual next `all`: rank 1 (62%)`` from a ``prediction``
    (``prediction_json``), with token labels shown by ``quote``; None when there is none."""
    if not prediction or not prediction.get("top"):
        return None
    top = prediction["top"]
    line = f"Predicts {quote(top[0]['text'])} ({percent(top[0]['probability'])})"
    if len(top) > 1:
        line += ", then " + ", ".join(f"{quote(t['text'])} {percent(t['probability'])}" for t in top[1:])
    actual = prediction.get("actual")
    if actual is None:
        return line + "; nothing follows (end of the file)"
    return line + f"; actual next {quote(actual['text'])}: rank {actual['rank']} ({percent(actual['probability'])})"


def surprisal_sentence(surprisal: dict[str, Any] | None, shown: str) -> str | None:
    """``Surprisal 7.2 bits: the model gave `send` 0.7% after the text before it`` (``surprisal_json``;
    the colour of the surprise heat), or None for the first token."""
    if not surprisal:
        return None
    bits, probability = surprisal["bits"], surprisal["probability"]
    return f"Surprisal {bits:.1f} bits: the model gave {shown} {percent(probability)} after the text before it"


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


def attention_json(
    analysis: Analysis,
    token: int,
    options: ViewOptions,
    version: int | None = None,
    fresh_tokens: int | None = None,
    symbols: Sequence[Symbol] | None = None,
    predict: bool = True,
) -> dict[str, Any]:
    """The weights of ``token``'s row (or column), their line sums and their code units (by the
    editor's ``symbols``, else blocks of lines: ``units.units_json``); with ``fresh_tokens`` (the
    document was edited since), tokens from the first edited one on are left out: their ranges no
    longer hold, and an attendedBy column would otherwise name them. ``predict``: with the token's
    prediction and surprisal (one or two rows of the LM head; null without)."""
    began = time.perf_counter()
    weights = attention_vector(analysis, token, options)
    if fresh_tokens is not None:
        weights = weights.copy()  # may be a cached row
        weights[fresh_tokens:] = 0.0
    targets, lines = targets_and_lines(analysis, weights, options.top_k)
    return {
        "version": version,
        "token": token_json(analysis, token),
        "prediction": prediction_json(analysis, token) if predict else None,
        "surprisal": surprisal_json(analysis, token) if predict else None,
        "targets": targets,
        "lines": lines,
        "units": units_json(analysis.document, analysis.lines, analysis.token_lines, weights, symbols, options.top_k),
        "settings": options.to_json(),
        **faithfulness_json(analysis, token, options),
        "elapsedMs": round((time.perf_counter() - began) * 1000, 2),
    }


def query_position(analysis: Analysis, token: int) -> str:
    """The benchmark's situation of a query token: ``last`` for the document's last analysed token,
    ``interior`` for any other."""
    return "last" if token == analysis.token_count - 1 else "interior"


def faithfulness_json(analysis: Analysis, token: int, options: ViewOptions) -> dict[str, Any]:
    """How faithful the view measured where the user looks: ``faithfulness`` for the tinted tokens,
    ``lineFaithfulness`` for the per-line weights (the gutter), both at ``token``'s position."""
    position = query_position(analysis, token)
    model_id = analysis.info.id
    return {
        "faithfulness": view_faithfulness(model_id, options, position=position, unit="token"),
        "lineFaithfulness": view_faithfulness(model_id, options, position=position, unit="line"),
    }


def _options(analysis: Analysis, query: ViewQuery, fixed: dict[str, Any] | None = None) -> ViewOptions:
    """The request's view options, starting from the view the evidence recommends for the model."""
    info = analysis.info
    return query.options(info.layers, info.heads, fixed, base=default_options(info.id))


@result_of("attention")
def attention_result(analysis: Analysis, query: ViewQuery) -> dict[str, Any]:
    options = _options(analysis, query)
    token = token_at_position(analysis, query.params.get("position"), query.fresh_tokens)
    raw = query.params.get("symbols", query.symbols)  # the request's own, or those the editor last sent
    symbols = None if raw is None else parse_symbols(raw)
    # A cursor move that only paints tints skips the LM head (``prediction: false``): on Gemma 3 its
    # 262k-row matrix costs more than the attention row.
    predict = query.params.get("prediction") is not False
    return attention_json(analysis, token, options, query.version, query.fresh_tokens, symbols, predict)


def _one_or_all(value: Any, what: str) -> str | list[int]:
    """The heatmap's ``layer``/``head``: ``"all"`` or one index."""
    if value is None or value == "all":
        return "all"
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f'{what} must be "all" or a {what} number.')
    return [value]


def token_span(value: Any, count: int, what: str) -> tuple[int, int]:
    """``rows`` or ``columns`` as [start, end) (end exclusive) of the analysed tokens; all when absent."""
    if value is None:
        return 0, count
    if (
        not isinstance(value, list)
        or len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
    ):
        raise InvalidRequest(f"{what} must be [start, end], two token indices.")
    start, end = value
    if not 0 <= start < end <= count:
        raise InvalidRequest(f"{what} [{start}, {end}] is outside the {count} analysed tokens.")
    return start, end


def _heatmap_options(analysis: Analysis, query: ViewQuery) -> ViewOptions:
    layers = _one_or_all(query.params.get("layer"), "layer")
    heads = _one_or_all(query.params.get("head"), "head")
    return _options(analysis, query, {"layers": layers, "heads": heads})


def axis_json(analysis: Analysis, edges: np.ndarray) -> dict[str, Any]:
    """One axis of a heatmap grid: bin b covers tokens [edges[b], edges[b+1]); ``first`` and ``last``
    are the first and last token of each bin (``last`` is left out when every bin is one token)."""
    starts, ends = edges[:-1].tolist(), edges[1:].tolist()
    axis: dict[str, Any] = {
        "start": int(edges[0]),
        "end": int(edges[-1]),
        "edges": [int(e) for e in edges],
        "first": [token_json(analysis, i) for i in starts],
    }
    if any(end - start > 1 for start, end in zip(starts, ends, strict=True)):
        axis["last"] = [token_json(analysis, i - 1) for i in ends]
    return axis


def grid_json(
    analysis: Analysis, pooled: Pooled, options: ViewOptions, version: int | None, began: float
) -> dict[str, Any]:
    """A heatmap grid (docs/PROTOCOL.md): the max-pooled weights as log-scaled uint16 codes,
    deflated: half of a whole file's cells (above the diagonal) and those outside each row's window
    are 0, so the answer shrinks about threefold, and every step after the server (JSON, the pipe,
    the webview's message) costs time in proportion to its size."""
    data, low, high = encode_log16(pooled.values)
    rows = axis_json(analysis, pooled.row_edges)
    same = np.array_equal(pooled.row_edges, pooled.col_edges)  # the overview of a whole file
    return {
        "version": version,
        "tokens": analysis.token_count,
        "rows": rows,
        "columns": rows if same else axis_json(analysis, pooled.col_edges),
        "pooling": "max",
        "exact": pooled.exact,
        "rowsRead": pooled.rows_read,
        "rowsTotal": pooled.rows_total,
        "encoding": "log16",
        "compression": "deflate",
        "low": low,
        "high": high,
        "data": base64.b64encode(zlib.compress(data, 1)).decode("ascii"),
        "settings": options.to_json(),
        "elapsedMs": round((time.perf_counter() - began) * 1000, 1),
    }


@result_of("heatmap")
def heatmap_result(analysis: Analysis, query: ViewQuery) -> dict[str, Any]:
    began = time.perf_counter()
    options = _heatmap_options(analysis, query)
    rows = token_span(query.params.get("rows"), analysis.token_count, "rows")
    columns = token_span(query.params.get("columns"), analysis.token_count, "columns")
    bins = query.params.get("bins", HEATMAP_BINS)
    if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= HEATMAP_BINS:
        raise InvalidRequest(f"bins must be a whole number from 1 to {HEATMAP_BINS}.")
    count = rows[1] - rows[0]
    pooled = pooled_matrix(
        analysis, options, rows, columns, bins, seconds=overview_seconds(count), row_bins=overview_row_bins(count, bins)
    )
    return grid_json(analysis, pooled, options, query.version, began)


@result_of("heatmapTile")
def heatmap_tile_result(analysis: Analysis, query: ViewQuery) -> dict[str, Any]:
    began = time.perf_counter()
    options = _heatmap_options(analysis, query)
    if query.params.get("rows") is None or query.params.get("columns") is None:
        raise InvalidRequest("A heatmap tile needs rows and columns, each [start, end].")
    rows = token_span(query.params.get("rows"), analysis.token_count, "rows")
    columns = token_span(query.params.get("columns"), analysis.token_count, "columns")
    side = max(rows[1] - rows[0], columns[1] - columns[0])
    if side > HEATMAP_TOKENS:
        raise InvalidRequest(
            f"A heatmap tile covers at most {HEATMAP_TOKENS} tokens a side (asked: {side}); "
            "attenScope/heatmap pools larger ranges."
        )
    pooled = pooled_matrix(analysis, options, rows, columns, side, budget=None)
    return grid_json(analysis, pooled, options, query.version, began)


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


@result_of("heads")
def heads_result(analysis: Analysis, query: ViewQuery) -> dict[str, Any]:
    # The grid shows every head on its own: layer/head selections and aggregates do not apply.
    fixed = {"aggregate": "headMean", "layers": "all", "heads": "all"}
    options = _options(analysis, query, fixed)
    token = token_at_position(analysis, query.params.get("position"), query.fresh_tokens)
    return heads_json(analysis, token, options, query.version, query.fresh_tokens)


def whole_number(value: Any, what: str) -> int:
    """``value`` as a request's whole number (a bool is not one), else ``InvalidRequest`` naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{what} must be a whole number.")
    return value


@result_of("neuron")
def neuron_result(analysis: Analysis, query: ViewQuery) -> dict[str, Any]:
    """``neuron.neuron_pair`` for the token at ``position`` and ``source`` (a token index; by
    default the head's strongest source, sinks skipped unless ``dropSink`` is false)."""
    token = token_at_position(analysis, query.params.get("position"), query.fresh_tokens)
    layer = whole_number(query.params.get("layer"), "layer")
    head = whole_number(query.params.get("head"), "head")
    source = query.params.get("source")
    if source is None:
        source = top_source(analysis, layer, head, token, query.params.get("dropSink", True) is not False)
    check_fresh(analysis, whole_number(source, "source"), query.fresh_tokens, "source token")
    pair = neuron_pair(analysis, layer, head, token, whole_number(source, "source"))
    info = analysis.info
    return {
        "version": query.version,
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


SURPRISE_DECIMALS = 3  # bits are sent rounded to a thousandth of a bit


def flat_ranges(analysis: Analysis, tokens: Iterable[int]) -> list[int]:
    """The ranges of ``tokens``, four numbers each (start line, start character, end line, end
    character), flat: the compact form of the per-token answers (docs/PROTOCOL.md)."""
    doc, lines = analysis.document, analysis.lines
    ranges: list[int] = []
    for index in tokens:
        span = lines.range(doc.starts[index], doc.ends[index])
        ranges += [span.start.line, span.start.character, span.end.line, span.end.character]
    return ranges


@result_of("surprise")
def surprise_result(analysis: Analysis, query: ViewQuery) -> dict[str, Any]:
    """Per token of ``rows`` (all analysed tokens when absent): its surprisal given the text before it,
    s_i = -log2 p(x_i | x_<i) bits (null for the first token), and its range as four numbers
    (start line, start character, end line, end character), flat: docs/PROTOCOL.md."""
    began = time.perf_counter()
    start, end = token_span(query.params.get("rows"), analysis.token_count, "rows")
    bits = analysis.surprisal_bits()[start:end]
    ranges = flat_ranges(analysis, range(start, end))
    return {
        "version": query.version,
        "tokens": analysis.token_count,
        "start": start,
        "end": end,
        "unit": "bits",
        "bits": [round(float(b), SURPRISE_DECIMALS) if math.isfinite(b) else None for b in bits],
        "ranges": ranges,
        "elapsedMs": round((time.perf_counter() - began) * 1000, 1),
    }


@result_of("flow")
def flow_result(analysis: Analysis, query: ViewQuery) -> dict[str, Any]:
    """``flow.flow_graph`` of the token at ``position`` (docs/PROTOCOL.md)."""
    began = time.perf_counter()
    token = token_at_position(analysis, query.params.get("position"))
    threshold = query.params.get("threshold", FLOW_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise InvalidRequest("threshold must be a number between 0 and 1 (exclusive).")
    max_nodes = query.params.get("maxNodes", FLOW_NODES.default)
    low, high = FLOW_NODES.minimum, FLOW_NODES.maximum
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or not low <= max_nodes <= high:
        raise InvalidRequest(f"maxNodes must be a whole number from {FLOW_NODES.minimum} to {FLOW_NODES.maximum}.")
    graph = flow_graph(analysis, token, float(threshold), max_nodes)
    nodes = list(graph.nodes.values())
    return {
        "version": query.version,
        "token": token_json(analysis, token),
        "layers": graph.layers,
        "threshold": float(threshold),
        "maxNodes": max_nodes,
        "nodes": [{"id": n.id, "token": n.token, "layer": n.layer, "stage": n.stage} for n in nodes],
        "edges": [
            {
                "source": e.source,
                "target": e.target,
                "kind": e.kind,
                "weight": round(e.weight, 6),
                "heads": [[h, share] for h, share in e.heads],
            }
            for e in graph.edges
        ],
        "tokens": [token_json(analysis, t) for t in sorted({n.token for n in nodes})],
        "truncated": graph.truncated,
        "recomputedTokens": graph.recomputed,
        "elapsedMs": round((time.perf_counter() - began) * 1000, 1),
    }


@result_of("altiRollout")
def alti_rollout_result(analysis: Analysis, query: ViewQuery) -> dict[str, Any]:
    """``flow.alti_rollout`` of the token at ``position``, in the shape of the attention view's answer."""
    began = time.perf_counter()
    token = token_at_position(analysis, query.params.get("position"))
    top_k = query.params.get("topK", TOP_K.default)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not TOP_K.minimum <= top_k <= TOP_K.maximum:
        raise InvalidRequest(f"topK must be a whole number from {TOP_K.minimum} to {TOP_K.maximum}.")
    weights, recomputed = alti_rollout(analysis, token)
    drop_sink = query.params.get("dropSink", True) is not False
    if drop_sink:
        weights = drop_sinks(weights, analysis.sinks(analysis.owner(token)[0]))
    targets, lines = targets_and_lines(analysis, weights, top_k)
    return {
        "version": query.version,
        "token": token_json(analysis, token),
        "targets": targets,
        "lines": lines,
        "dropSink": drop_sink,
        "faithfulness": method_faithfulness(analysis.info.id, "altiRollout", drop_sink),
        "recomputedTokens": recomputed,
        "elapsedMs": round((time.perf_counter() - began) * 1000, 1),
    }


RESULT_BUILDERS.check()
