"""The answers over ranges of tokens: the heatmap (max-pooled), its exact tiles, and the surprise of every token."""

from __future__ import annotations

import base64
import math
import time
import zlib
from typing import Any

import numpy as np

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.analysis import Analysis
from atten_scope.limits import HEATMAP_TOKENS
from atten_scope.protocol.encode import flat_ranges, token_json
from atten_scope.protocol.params import HeatmapParams, HeatmapTileParams, SurpriseParams
from atten_scope.protocol.request import ViewRequest, builds
from atten_scope.views.heatmap import Pooled, encode_log16, overview_row_bins, overview_seconds, pooled_matrix
from atten_scope.views.options import ViewOptions

SURPRISE_DECIMALS = 3  # bits are sent rounded to a thousandth of a bit


def token_span(value: tuple[int, int] | None, count: int, what: str) -> tuple[int, int]:
    """``rows`` or ``columns`` as [start, end) (end exclusive) of the analysed tokens; all when absent.

    A refusal says which bound is wrong: 0 <= start, start < end (not empty), end <= ``count``."""
    if value is None:
        return 0, count
    start, end = value
    given = f"{what} [{start}, {end}]"
    if start < 0:
        raise InvalidRequest(f"{given} starts before token 0: token indices are 0-based.")
    if end <= start:
        raise InvalidRequest(f"{given} is empty: its end (exclusive) must be greater than its start.")
    if end > count:
        raise InvalidRequest(
            f"{given} ends past the {count:,} analysed tokens: its end (exclusive) may be at most {count:,}."
        )
    return start, end


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


def grid_request(request: ViewRequest[Any]) -> tuple[ViewOptions, tuple[int, int], tuple[int, int]]:
    """A heatmap request's view options (its ``HeatmapParams``' ``layer`` and ``head`` over the view
    fields), rows and columns."""
    analysis, params = request.analysis, request.params
    options = request.options(params, params.fixed)
    rows = token_span(params.rows, analysis.token_count, "rows")
    return options, rows, token_span(params.columns, analysis.token_count, "columns")


@builds("heatmap", HeatmapParams)
def heatmap_result(request: ViewRequest[HeatmapParams]) -> dict[str, Any]:
    began = time.perf_counter()
    analysis, params = request.analysis, request.params
    options, rows, columns = grid_request(request)
    count = rows[1] - rows[0]
    pooled = pooled_matrix(
        analysis,
        options,
        rows,
        columns,
        params.bins,
        seconds=overview_seconds(count),
        row_bins=overview_row_bins(count, params.bins),
    )
    return grid_json(analysis, pooled, options, request.version, began)


@builds("heatmapTile", HeatmapTileParams)
def heatmap_tile_result(request: ViewRequest[HeatmapTileParams]) -> dict[str, Any]:
    began = time.perf_counter()
    analysis = request.analysis
    options, rows, columns = grid_request(request)
    side = max(rows[1] - rows[0], columns[1] - columns[0])
    if side > HEATMAP_TOKENS:
        raise InvalidRequest(
            f"A heatmap tile covers at most {HEATMAP_TOKENS} tokens a side (asked: {side}); "
            "attenScope/heatmap pools larger ranges."
        )
    pooled = pooled_matrix(analysis, options, rows, columns, side, budget=None)
    return grid_json(analysis, pooled, options, request.version, began)


@builds("surprise", SurpriseParams)
def surprise_result(request: ViewRequest[SurpriseParams]) -> dict[str, Any]:
    """Per token of ``rows`` (all analysed tokens when absent): its surprisal given the text before it,
    s_i = -log2 p(x_i | x_<i) bits (null for the first token), and its range as four numbers
    (start line, start character, end line, end character), flat: docs/PROTOCOL.md."""
    began = time.perf_counter()
    analysis = request.analysis
    start, end = token_span(request.params.rows, analysis.token_count, "rows")
    bits = analysis.surprisal_between(start, end)  # the rows asked for: a long file's whole costs minutes
    ranges = flat_ranges(analysis, range(start, end))
    return {
        "version": request.version,
        "tokens": analysis.token_count,
        "start": start,
        "end": end,
        "unit": "bits",
        "bits": [round(float(b), SURPRISE_DECIMALS) if math.isfinite(b) else None for b in bits],
        "ranges": ranges,
        "elapsedMs": round((time.perf_counter() - began) * 1000, 1),
    }
