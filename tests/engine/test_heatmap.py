"""The heatmap's pooled overview and exact tiles against the slow reference: ``attention_matrix``, max-pooled."""

from __future__ import annotations

import base64
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.analysis import Analysis, run_analysis
from atten_scope.protocol.builders import view_result
from atten_scope.views.attention import attention_matrix
from atten_scope.views.heatmap import (
    bin_edges,
    encode_log16,
    overview_row_bins,
    overview_seconds,
    pooled_matrix,
    reading_rounds,
    row_costs,
    rows_to_read,
    spread_order,
)
from atten_scope.views.options import ViewOptions

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "tokenizer.py").read_text()[:1200]


@pytest.fixture(scope="module")
def windowed(embedded: Any) -> Analysis:
    """A few hundred tokens in windows of 96 that overlap by 24: rows come from three windows."""
    analysis = run_analysis(embedded, EXAMPLE, 96)
    assert len(analysis.windows) >= 3
    return analysis


def max_pool(
    matrix: np.ndarray, row_edges: np.ndarray, col_edges: np.ndarray, rows: np.ndarray | None = None
) -> np.ndarray:
    """The slow reference: the maximum of each block of the full matrix (over ``rows`` only, if given)."""
    out = np.zeros((len(row_edges) - 1, len(col_edges) - 1))
    for b in range(len(row_edges) - 1):
        for c in range(len(col_edges) - 1):
            r = np.arange(row_edges[b], row_edges[b + 1])
            if rows is not None:
                r = r[np.isin(r, rows)]
            out[b, c] = matrix[np.ix_(r, np.arange(col_edges[c], col_edges[c + 1]))].max() if len(r) else 0.0
    return out


VIEWS = {
    "norm/lastLayers (the default, fused)": ViewOptions(),
    "norm/lastLayers, sink kept": ViewOptions(drop_sink=False),
    "raw/headMean of one layer": ViewOptions(refinement="raw", aggregate="headMean", layers=(3,)),
    "raw/headMean of heads in different KV groups": ViewOptions(
        refinement="raw", aggregate="headMean", heads=(1, 4, 8)
    ),
    "norm/perHead": ViewOptions(aggregate="perHead", layers=(5,), heads=(2,)),
    "effective+norm/headMean (row by row)": ViewOptions(
        refinement="effective+norm", aggregate="headMean", layers=(28, 29)
    ),
    "raw/headMax (row by row)": ViewOptions(refinement="raw", aggregate="headMax", layers=(20, 29)),
    "norm/rollout (streamed)": ViewOptions(aggregate="rollout", layers=(26, 27, 28, 29)),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_pooled_overview_equals_the_pooled_full_matrix(windowed: Analysis, name: str) -> None:
    options = VIEWS[name]
    n = windowed.token_count
    matrix = attention_matrix(windowed, options, 0, n)
    # Effective rows are solved in source space for blocks of at most head_dim sources and through
    # the Gram matrix otherwise (a rank-deficient one for rows with few sources): the same
    # projection, rounded differently (float32 products) where the blocks differ.
    rtol = 5e-4 if options.refinement.startswith("effective") else 2e-5
    for rows, columns, bins in (((0, n), (0, n), 37), ((50, 180), (20, 140), 16), ((100, 130), (90, 130), 64)):
        pooled = pooled_matrix(windowed, options, rows, columns, bins, budget=None)
        assert pooled.rows_read == pooled.rows_total == rows[1] - rows[0]
        expected = max_pool(matrix, pooled.row_edges, pooled.col_edges)
        np.testing.assert_allclose(pooled.values, expected, rtol=rtol, atol=1e-8)
    # bins of one token: the pooled matrix is the matrix itself
    tile = pooled_matrix(windowed, options, (100, 130), (90, 130), 40, budget=None)
    assert tile.exact and tile.values.shape == (30, 40)
    np.testing.assert_allclose(tile.values, matrix[100:130, 90:130], rtol=rtol, atol=1e-8)


def test_bins_split_a_range_into_runs_of_equal_length() -> None:
    edges = bin_edges(10, 47, 5)
    assert edges[0] == 10 and edges[-1] == 47 and len(edges) == 6
    assert set(np.diff(edges).tolist()) <= {7, 8}
    assert bin_edges(3, 7, 100).tolist() == [3, 4, 5, 6, 7]  # never more bins than tokens


def test_rows_are_read_in_an_order_whose_every_prefix_is_spread_out() -> None:
    assert spread_order(16).tolist() == [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15]
    for m in (1, 2, 5, 7, 16, 33):
        order = spread_order(m)
        assert sorted(order.tolist()) == list(range(m))
        assert max(np.diff(np.sort(order[: min(m, 4)])), default=0) <= m // 2 + 1  # no clump of early rows


def test_rows_to_read_spreads_the_budget_over_each_bin() -> None:
    edges = bin_edges(0, 160, 10)  # 16 rows a bin
    costs = np.full(160, 100.0)
    assert rows_to_read(edges, costs, None).tolist() == list(range(160))
    assert rows_to_read(edges, costs, 16_000.0).tolist() == list(range(160))
    quarter = rows_to_read(edges, costs, 4_000.0)
    assert len(quarter) == 40 and quarter[:4].tolist() == [0, 4, 8, 12]  # evenly spaced in each bin
    for b in range(10):
        assert len(quarter[(quarter >= edges[b]) & (quarter < edges[b + 1])]) == 4
    assert len(rows_to_read(edges, costs, 1.0)) == 10  # at least one row a bin


def test_reading_rounds_cover_every_row_once_one_row_a_bin_first() -> None:
    edges = bin_edges(0, 50, 8)
    rounds = reading_rounds(edges)
    assert len(rounds[0]) == 8 and rounds[0].tolist() == edges[:-1].tolist()
    assert sorted(np.concatenate(rounds).tolist()) == list(range(50))
    assert overview_seconds(2048) == 0.4 and overview_seconds(16384) == 3.2 and overview_seconds(8192) == 1.6
    assert overview_seconds(100) == 0.3 and overview_seconds(20000) == 3.5


def test_overview_row_bins_hold_four_rows_once_rows_outnumber_the_bins() -> None:
    """The overview reads a row of every row bin first: its row bins bound that first round."""
    assert overview_row_bins(900, 1024) == 1024  # fewer rows than bins: one bin a row
    assert overview_row_bins(2048, 1024) == 512
    assert overview_row_bins(3000, 1024) == 750
    assert overview_row_bins(16384, 1024) == 1024
    assert overview_row_bins(1500, 1024) == 512  # never fewer than 512 row bins
    assert overview_row_bins(2048, 300) == 300  # nor more than asked


def test_an_overview_over_budget_reads_some_rows_of_every_bin_exactly(windowed: Analysis) -> None:
    options = ViewOptions()
    n = windowed.token_count
    matrix = attention_matrix(windowed, options, 0, n)
    edges = bin_edges(0, n, 40)
    whole = max_pool(matrix, edges, edges)
    budget = row_costs(windowed, options, 0, n).sum() / 4  # a quarter of what reading every row costs
    for pooled in (
        pooled_matrix(windowed, options, (0, n), (0, n), 40, budget=budget),
        pooled_matrix(windowed, options, (0, n), (0, n), 40, seconds=0.0),  # no time: one row a bin
    ):
        assert pooled.rows_read == len(pooled.rows) < n // 3 and not pooled.exact
        assert len(np.unique(np.searchsorted(edges, pooled.rows, side="right"))) == 40  # every bin read
        np.testing.assert_allclose(pooled.values, max_pool(matrix, edges, edges, pooled.rows), rtol=2e-5, atol=1e-8)
        assert np.all(pooled.values <= whole * (1 + 1e-5) + 1e-8)  # a skipped row can hide a cell, never invent one
    assert pooled_matrix(windowed, options, (0, n), (0, n), 40, seconds=60.0).rows_read == n  # time for every round


def test_log16_codes_keep_weights_to_a_few_parts_in_ten_thousand() -> None:
    values = np.array([[0.0, 1e-9, 3.3e-4], [0.02, 0.5, 0.97]])
    data, low, high = encode_log16(values)
    codes = np.frombuffer(data, dtype="<u2").reshape(values.shape)
    assert codes[0, 0] == 0 and codes.max() == 65535 and low == pytest.approx(1e-9) and high == pytest.approx(0.97)
    decoded = np.where(codes > 0, low * np.exp((codes.astype(float) - 1) / 65534 * math.log(high / low)), 0.0)
    np.testing.assert_allclose(decoded, values, rtol=math.log(high / low) / 131068 * 1.01)


def grid_cells(grid: dict[str, Any]) -> np.ndarray:
    assert grid["compression"] == "deflate"
    codes = np.frombuffer(zlib.decompress(base64.b64decode(grid["data"])), dtype="<u2").astype(float)
    rows, columns = len(grid["rows"]["edges"]) - 1, len(grid["columns"]["edges"]) - 1
    span = math.log(grid["high"] / grid["low"]) if grid["high"] > grid["low"] else 0.0
    cells = np.where(codes > 0, grid["low"] * np.exp((codes - 1) / 65534 * span), 0.0)
    return cells.reshape(rows, columns)


def test_tile_and_overview_answers(windowed: Analysis) -> None:
    n = windowed.token_count
    params = {"layer": "all", "head": "all", "refinement": "norm", "rows": [120, 150], "columns": [100, 150]}
    tile = view_result("heatmapTile", windowed, params, version=3)
    matrix = attention_matrix(windowed, ViewOptions(refinement="norm"), 0, n)
    assert tile["version"] == 3 and tile["exact"] and tile["tokens"] == n and tile["pooling"] == "max"
    assert tile["rows"]["edges"] == list(range(120, 151)) and "last" not in tile["rows"]
    assert [t["index"] for t in tile["columns"]["first"]] == list(range(100, 150))
    np.testing.assert_allclose(grid_cells(tile), matrix[120:150, 100:150], rtol=1e-3, atol=1e-12)

    overview = view_result("heatmap", windowed, {"layer": 7, "head": "all", "bins": 25})
    assert overview["settings"]["layers"] == [7] and not overview["exact"]
    assert len(overview["rows"]["first"]) == len(overview["rows"]["last"]) == 25
    edges = overview["rows"]["edges"]
    assert [t["index"] for t in overview["rows"]["last"]] == [e - 1 for e in edges[1:]]
    reference = max_pool(attention_matrix(windowed, ViewOptions(layers=(7,)), 0, n), np.array(edges), np.array(edges))
    cells = grid_cells(overview)
    assert 25 <= overview["rowsRead"] <= overview["rowsTotal"] == n
    assert np.all(cells <= reference * (1 + 1e-3) + 1e-12)
    if overview["rowsRead"] == n:  # the time allowed read every row (a busy machine may read fewer)
        np.testing.assert_allclose(cells, reference, rtol=1e-3, atol=1e-12)


@pytest.mark.parametrize(
    ("view", "params", "message"),
    [
        ("heatmapTile", {"rows": [0, 10]}, "needs rows and columns"),
        ("heatmapTile", {"rows": [0, 2000], "columns": [0, 10]}, "ends past the"),
        ("heatmap", {"bins": 0}, "bins must be"),
        ("heatmap", {"rows": [5, 5]}, "is empty"),
        ("heatmap", {"columns": "all"}, "two token indices"),
    ],
)
def test_bad_heatmap_ranges_get_a_sentence(windowed: Analysis, view: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        view_result(view, windowed, {"layer": "all", "head": "all", **params})
