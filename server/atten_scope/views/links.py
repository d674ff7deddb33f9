"""Every token's strongest links in one direction, for a view that shows all tokens at once (the HTML report).

For the view's weights w_ij (what token i draws on token j: refined, aggregated, each row read
from the window that owns i), the report needs the k largest entries of each token's vector:

- ``attendsTo``: row i with the sinks dropped, w_ij / sum over non-sink j (``views.drop_sinks``);
- ``attendedBy``: column j over the later tokens, w_ij / sum over non-sink rows i
  (``views.attention_vector``), the rows taken before their own sinks are dropped.

Every owned row is computed once, ROWS rows at a time, as an exact tile of the heatmap's matrix
(``heatmap.pooled_matrix`` with one token per cell: the fused kernel for raw/norm rows of a
linear aggregate, block by block otherwise), and reduced to its top k (attendsTo) or merged into
running top-k lists per column (attendedBy), so nothing n x n is ever held. A raw/norm row costs
one q.k product and one exp per source and layer-head the aggregate weighs: about what the
attention of the analysis's own forward pass costs. A streamed aggregate (rollout) costs every
earlier row per row, so it computes nothing here; ``vector_links`` serves the tokens wanted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from atten_scope.common.progress import ReportProgress, ignore_progress
from atten_scope.engine.analysis import Analysis
from atten_scope.views.attention import attention_vector
from atten_scope.views.heatmap import pooled_matrix
from atten_scope.views.options import ViewOptions

ROWS = 128  # rows per tile: large enough for efficient kernels, small enough to stay near the cache


@dataclass(frozen=True)
class Links:
    """Top-k links of tokens [0, n): ``targets[t]`` are token indices (-1: none), ``weights[t]`` theirs,
    descending. ``computed[t]`` is False for a token whose links were not computed (rollout)."""

    targets: np.ndarray  # (n, k) int32
    weights: np.ndarray  # (n, k) float32
    computed: np.ndarray  # (n,) bool


def links(analysis: Analysis, options: ViewOptions, k: int, progress: ReportProgress = ignore_progress) -> Links:
    """The top ``k`` links of every analysed token in ``options.direction`` (module docstring).

    ``progress`` hears of every tile; a streamed aggregate computes nothing (``computed`` all False).
    """
    n = analysis.token_count
    targets = np.full((n, k), -1, dtype=np.int32)
    weights = np.zeros((n, k), dtype=np.float32)
    if options.aggregate_spec.streamed:
        return Links(targets, weights, np.zeros(n, dtype=bool))
    columns = _Columns(n, k) if options.direction == "attendedBy" else None
    # Columns are normalised here, over the rows with their sinks kept (their sink rows dropped).
    tile_options = replace(options, direction="attendsTo", drop_sink=options.drop_sink and columns is None)
    done = 0
    for w, win in enumerate(analysis.windows):
        owned = np.nonzero(analysis.owners == w)[0]
        if not len(owned):
            continue
        where = f" (window {w + 1} of {len(analysis.windows)})" if len(analysis.windows) > 1 else ""
        sinks = set(analysis.sinks(win)) if options.drop_sink else set()
        for a in range(int(owned[0]), int(owned[-1]) + 1, ROWS):
            b = min(a + ROWS, int(owned[-1]) + 1)
            progress(done / n, f"Rows {a:,}-{b - 1:,} of {n:,}{where}")
            side = max(b - a, b - win.start)  # one token per cell: an exact tile
            block = pooled_matrix(analysis, tile_options, (a, b), (win.start, b), side, budget=None).values
            rows = np.arange(a, b)
            if columns is not None:
                columns.add(block, rows, win.start, [i for i in range(a, b) if i in sinks])
            else:
                top = min(k, block.shape[1])
                order = np.argpartition(-block, top - 1, axis=1)[:, :top]
                values = np.take_along_axis(block, order, axis=1)
                ranked = np.argsort(-values, axis=1, kind="stable")
                targets[rows, :top] = np.take_along_axis(order, ranked, axis=1) + win.start
                weights[rows, :top] = np.take_along_axis(values, ranked, axis=1)
            done += b - a
    if columns is not None:
        targets, weights = columns.result()
    targets[weights <= 0] = -1
    weights[weights <= 0] = 0
    progress(1.0, "Rows done")
    return Links(targets, weights, np.ones(n, dtype=bool))


def vector_links(analysis: Analysis, options: ViewOptions, token: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top ``k`` (targets, weights) of one token's vector (``views.attention_vector``)."""
    vector = attention_vector(analysis, token, options)
    order = np.argsort(-vector, kind="stable")[:k]
    keep = vector[order] > 0
    return order[keep].astype(np.int32), vector[order][keep].astype(np.float32)


class _Columns:
    """Running top-k entries and totals of every column, fed tile by tile."""

    def __init__(self, n: int, k: int) -> None:
        self.values = torch.zeros((k, n), dtype=torch.float32)
        self.rows = torch.full((k, n), -1, dtype=torch.int64)
        self.totals = torch.zeros(n, dtype=torch.float64)
        self.k = k

    def add(self, block: np.ndarray, rows: np.ndarray, start: int, sinks: list[int]) -> None:
        """Rows ``rows`` (document indices) over the sources start..; a sink row counts for its own
        column only (``views.attention_vector``)."""
        values = torch.tensor(block, dtype=torch.float32)
        for sink in sinks:
            r = sink - int(rows[0])
            own = values[r, sink - start].clone()
            values[r] = 0
            values[r, sink - start] = own
        cols = slice(start, start + values.shape[1])
        self.totals[cols] += values.double().sum(0)
        best, where = torch.topk(values, min(self.k, values.shape[0]), dim=0)  # (top, S)
        merged = torch.cat([self.values[:, cols], best])
        merged_rows = torch.cat([self.rows[:, cols], torch.from_numpy(rows)[where]])
        keep, order = torch.topk(merged, self.k, dim=0)
        self.values[:, cols] = keep
        self.rows[:, cols] = torch.gather(merged_rows, 0, order)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(targets, weights) (n, k): each column's entries over its total, largest first."""
        totals = self.totals.float().clamp_min(1e-30)
        weights = (self.values / totals).t().contiguous().numpy()
        return self.rows.t().contiguous().numpy().astype(np.int32), weights
