"""The heatmap: a max-pooled overview of the token x token matrix, and exact tiles of it.

For a document of n tokens, W is the n x n matrix of the view: w_ij is the aggregated, refined
weight that token i puts on token j, with sinks dropped, each row read from the window that owns
it (zero outside that window, and above the diagonal). A screen shows about a thousand pixels a
side, so W is never built. The rows [r0, r1) and the columns [c0, c1) are each cut into at most
``bins`` runs of equal length (``bin_edges``), and for the row bin R and the column bin C

    P[R, C] = max over i in R*, j in C of w_ij

where R* is the set of rows read in R. The maximum (not the mean) is taken so that every cell of
P is the weight of one real token pair: the colour scale means the same at every zoom level, a
zoomed-in tile shows which pair made a bright cell, and a single strong link (a name used once,
far from its definition) is not averaged away by its 15 neighbours.

Cost. Row i has ``i - start + 1`` sources in its window, and each needs one q.k product and one
exp per (layer, head) the aggregate reads, so P over all rows costs what W costs. When that
estimate exceeds ``ROW_BUDGET``, each row bin reads only k evenly spaced rows, k chosen so the
estimate fits (``rows_to_read``). A cell is then the maximum over the rows read: it can miss a
strong cell in a row that was not read, but never shows one that does not exist, and every column
is still exact. A tile (bins = tokens) always reads every row and is exact.

The default view (``raw``/``norm`` refinement, a linear aggregate) is computed by a fused kernel
(``_fused_rows``) that rebuilds rows from q, k and the stored log-sum-exp and multiplies the
per-head rows straight into their weighted sum; every other view goes through
``views.combined_rows``. Both equal ``views.attention_matrix`` pooled the same way (tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import cancellation
from .aggregate import combine
from .analysis import Analysis
from .capture import CapturedWindow
from .options import ViewOptions
from .views import combined_rows, drop_sinks

# The estimated work one overview may do, in cells of the fused kernel (one row, source and
# layer-head; ``row_costs``). That kernel runs at about 2 ns per cell on 2 cores (bench/): 1.2e9
# cells is about 2.5 s, the whole matrix of a 4,096-token window with the default view.
ROW_BUDGET = 1.2e9
# views.combined_rows (every view but raw/norm with a linear aggregate) makes several passes over
# each block where the fused kernel makes one or two: about 4x the time per cell.
GENERIC_COST = 4.0
ROW_BLOCK = 32  # rows per fused block: one layer's (heads x rows x sources) products stay in cache
# Refinements the fused kernel implements, and whether they weight by the value norms.
_FUSED_NORM = {"raw": False, "norm": True}


@dataclass(frozen=True)
class Pooled:
    """P for rows [row_edges[0], row_edges[-1]) x columns [col_edges[0], col_edges[-1])."""

    values: np.ndarray  # (row bins, column bins) float32, max-pooled weights
    row_edges: np.ndarray  # (row bins + 1,) token indices: bin b is [edges[b], edges[b+1])
    col_edges: np.ndarray
    rows_read: int  # rows of the matrix that were computed
    rows_total: int  # rows in the range

    @property
    def exact(self) -> bool:
        """Every cell is one token pair and every row was read."""
        single = bool(np.all(np.diff(self.row_edges) == 1) and np.all(np.diff(self.col_edges) == 1))
        return single and self.rows_read == self.rows_total


def bin_edges(start: int, end: int, bins: int) -> np.ndarray:
    """Edges of min(bins, end - start) runs of equal length (+-1 token) covering [start, end)."""
    count = max(1, min(bins, end - start))
    return start + (np.arange(count + 1, dtype=np.int64) * (end - start)) // count


def row_costs(analysis: Analysis, options: ViewOptions, start: int, end: int) -> np.ndarray:
    """The estimated work of each row in [start, end), in fused-kernel cells (``ROW_BUDGET``).

    Row i has s_i = i - (start of the window that owns it) + 1 sources; with the refinement's
    cost per entry c and per row u (``registry.Refinement``), and the layer-heads the aggregate
    reads, it costs (c s_i + u) x layer-heads, times ``GENERIC_COST`` off the fused kernel.
    """
    tokens = np.arange(start, end)
    starts = np.array([w.start for w in analysis.windows], dtype=np.int64)[analysis.owners[start:end]]
    spec = options.refinement_spec
    path = 1.0 if _fused(options) else GENERIC_COST
    return ((tokens - starts + 1) * spec.row_cost + spec.row_setup) * _layer_heads_read(options, analysis) * path


def rows_to_read(edges: np.ndarray, costs: np.ndarray, budget: float | None) -> np.ndarray:
    """The rows each bin reads: all of them when sum(costs) <= budget, else k evenly spaced ones.

    With m rows in a bin and the fraction f = budget / sum(costs), the bin reads
    k = clamp(round(f m), 1, m) rows, at offsets floor((t + 1/2) m / k) for t = 0 .. k-1.
    """
    first = int(edges[0])
    total = float(costs.sum())
    if budget is None or total <= budget:
        return np.arange(first, int(edges[-1]))
    fraction = budget / total
    chosen = []
    for low, high in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        m = high - low
        k = min(m, max(1, round(fraction * m)))
        chosen.append(low + ((np.arange(k) * 2 + 1) * m) // (2 * k))
    return np.concatenate(chosen)


def _aggregate_weights(options: ViewOptions, layers: int, heads: int) -> np.ndarray:
    """(L', H') weights of a linear aggregate: it is a fixed linear combination of the layer/head
    rows (``registry.Aggregate.linear``), so combining one-hot probe rows reads its coefficients."""
    count = layers * heads
    probe = torch.eye(count, dtype=torch.float64).reshape(layers, heads, 1, count)
    return combine(probe, options.aggregate)[0].reshape(layers, heads).numpy()


def _selected(options: ViewOptions, analysis: Analysis) -> tuple[list[int], list[int]]:
    layers = list(options.layers) if options.layers is not None else list(range(analysis.info.layers))
    heads = list(options.heads) if options.heads is not None else list(range(analysis.info.heads))
    return layers, heads


def _fused(options: ViewOptions) -> bool:
    """The fused kernel serves raw and norm rows of a linear (non-streamed) aggregate."""
    spec = options.aggregate_spec
    return options.refinement in _FUSED_NORM and spec.linear and not spec.streamed


@dataclass(frozen=True)
class _Term:
    """Query heads of one layer that share a KV head, with their coefficients in the aggregate."""

    layer: int
    kv_head: int
    heads: torch.Tensor  # (G',) long
    coefficients: torch.Tensor  # (G', 1) float32


def _fused_rows(
    win: CapturedWindow, terms: list[_Term], local: torch.Tensor, norm: bool, keys: dict[tuple[int, int], torch.Tensor]
) -> torch.Tensor:
    """Aggregated rows ``local`` (sorted local indices) of ``win`` over sources 0..max(local): (R, S).

    For head h of layer l, a_ij = exp(s q_i . k_j - lse_i) for j <= i, and i - j < w in a layer
    with a sliding window w (``refine.raw_rows`` up to rounding), and with norms a_ij nu_j / Z_i
    with Z_i = sum_j a_ij nu_j (``refine.norm_rows``).
    The aggregate is the sum over (l, h) of c_lh times those rows. Each head's row is multiplied
    into the sum as soon as it is built, so memory is one layer's (heads x R x S) block, never
    L x H x R x S, and the rows' q and lse are gathered once for every layer. The product takes
    -lse_i as one more column of q against a column of ones in k, so exp() of it is a_ij with no
    pass in between; ``keys`` keeps each (layer, KV head)'s [k, 1] in float32 across the blocks of
    a window (keys are stored in float16).
    """
    sources = int(local[-1]) + 1
    device = win.query.device
    local = local.to(device)
    out = torch.zeros((len(local), sources), dtype=torch.float32, device=device)
    low = int(local[0]) + 1  # only columns after the first row can lie in a row's future
    future = torch.arange(low, sources, device=device)[None, :] > local[:, None]  # (R, S - low)
    queries = win.query[:, :, local].float()  # (L, H, R, d)
    lse = win.lse[:, :, local].float()  # (L, H, R)
    d = win.query.shape[-1]
    for term in terms:
        cancellation.check()
        heads = term.heads.to(device)
        window = win.sliding_window[term.layer]
        # With a sliding window no row of the block sees a source before `first`: skip them.
        first = max(0, int(local[0]) - window + 1) if window else 0
        scaled = queries[term.layer, heads] * float(win.scale[term.layer])
        q = torch.cat([scaled, -lse[term.layer, heads][..., None]], -1)
        k = keys.get((term.layer, term.kv_head))
        if k is None:
            key = win.key[term.layer, term.kv_head].float()
            k = keys[term.layer, term.kv_head] = torch.cat([key, torch.ones_like(key[:, :1])], -1)
        rows = torch.mm(q.reshape(-1, d + 1), k[first:sources].t()).view(len(heads), len(local), sources - first)
        rows.exp_()
        rows[..., low - first :].masked_fill_(future, 0.0)
        if window:
            old = torch.arange(first, sources, device=device)[None, :] <= local[:, None] - window
            rows.masked_fill_(old, 0.0)
        weights = term.coefficients.to(device).expand(-1, len(local))
        if norm:
            rows.mul_(win.value_norm[term.layer, heads, first:sources].float()[:, None, :])
            weights = weights / rows.sum(-1).clamp_min(1e-30)
        target = out[:, first:]
        for row, weight in zip(rows, weights, strict=True):
            target.addcmul_(row, weight[:, None])
    return out


def _terms(win: CapturedWindow, weights: np.ndarray, layers: list[int], heads: list[int]) -> list[_Term]:
    """One term per layer and KV head with a nonzero weight."""
    groups = win.query.shape[1] // win.key.shape[1]
    terms = []
    for a, layer in enumerate(layers):
        by_kv: dict[int, list[int]] = {}
        for b, head in enumerate(heads):
            if weights[a, b] != 0:
                by_kv.setdefault(head // groups, []).append(b)
        for kv_head, chosen in sorted(by_kv.items()):
            terms.append(
                _Term(
                    layer,
                    kv_head,
                    torch.tensor([heads[b] for b in chosen], dtype=torch.long),
                    torch.tensor(weights[a, chosen], dtype=torch.float32)[:, None],
                )
            )
    return terms


def _window_rows(
    analysis: Analysis, win: CapturedWindow, options: ViewOptions, local: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(local rows, their rows over the window's sources, sinks dropped) block by block."""
    layers, heads = _selected(options, analysis)
    sinks = [s - win.start for s in analysis.sinks(win)] if options.drop_sink else []
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    if _fused(options):
        terms = _terms(win, _aggregate_weights(options, len(layers), len(heads)), layers, heads)
        keys: dict[tuple[int, int], torch.Tensor] = {}
        for begin in range(0, len(local), ROW_BLOCK):
            part = local[begin : begin + ROW_BLOCK]
            fused = _fused_rows(win, terms, torch.from_numpy(part), _FUSED_NORM[options.refinement], keys)
            blocks.append((part, _drop_sinks_rows(fused, sinks)))
        return blocks
    if options.aggregate_spec.streamed:
        # Rollout passes every earlier row through every layer whatever the rows asked for, so
        # one streamed pass gives the whole run of rows (see views.rollout_rows).
        chunks = [(int(local[0]), int(local[-1]) + 1)]
    else:
        chunks = [(b, min(end, b + ROW_BLOCK)) for first, end in _runs(local) for b in range(first, end, ROW_BLOCK)]
    for begin, end in chunks:
        rows = combined_rows(analysis, win, options, begin, end - begin).double().numpy()
        part = np.arange(begin, end)
        wanted = np.isin(part, local)
        blocks.append((part[wanted], drop_sinks(rows[wanted], sinks) if sinks else rows[wanted]))
    return blocks


def _runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs [first, end) of consecutive integers in sorted ``rows``."""
    breaks = np.nonzero(np.diff(rows) != 1)[0] + 1
    return [(int(part[0]), int(part[-1]) + 1) for part in np.split(rows, breaks) if len(part)]


def _drop_sinks_rows(rows: torch.Tensor, sinks: list[int]) -> np.ndarray:
    """``views.drop_sinks`` for a block of rows, in float32 on the block's device."""
    kept = [s for s in sinks if s < rows.shape[1]]
    if kept:
        rows[:, kept] = 0.0
        totals = rows.sum(-1, keepdim=True)
        rows = torch.where(totals > 0, rows / totals.clamp_min(1e-30), torch.zeros_like(rows))
    return rows.cpu().numpy()


def pooled_matrix(
    analysis: Analysis,
    options: ViewOptions,
    rows: tuple[int, int],
    columns: tuple[int, int],
    bins: int,
    budget: float | None = ROW_BUDGET,
) -> Pooled:
    """P (module docstring) of rows [r0, r1) x columns [c0, c1), each cut into at most ``bins`` bins.

    ``budget`` None reads every row. Stops with ``Cancelled`` between layers once the work on this
    thread is cancelled.
    """
    row_edges = bin_edges(rows[0], rows[1], bins)
    col_edges = bin_edges(columns[0], columns[1], bins)
    c0, c1 = columns
    out = np.zeros((len(row_edges) - 1, len(col_edges) - 1), dtype=np.float32)
    if options.aggregate_spec.streamed:
        budget = None  # a streamed aggregate costs every earlier row whichever rows are kept
    read = rows_to_read(row_edges, row_costs(analysis, options, rows[0], rows[1]), budget)
    owners = analysis.owners[read]
    for w in np.unique(owners).tolist():
        win = analysis.windows[w]
        mine = read[owners == w]
        if win.start >= c1 or mine[-1] < c0:
            continue  # the rows of this window have no source in the columns asked for
        for part, block in _window_rows(analysis, win, options, mine - win.start):
            doc_rows = part + win.start
            band = np.zeros((len(part), c1 - c0), dtype=np.float32)
            low, high = max(c0, win.start), min(c1, win.start + block.shape[1])
            if high > low:
                band[:, low - c0 : high - c0] = block[:, low - win.start : high - win.start]
            per_column = np.maximum.reduceat(band, col_edges[:-1] - c0, axis=1)
            row_bins = np.searchsorted(row_edges, doc_rows, side="right") - 1
            starts = np.concatenate([[0], np.nonzero(np.diff(row_bins))[0] + 1])
            grouped = np.maximum.reduceat(per_column, starts, axis=0)
            targets = row_bins[starts]
            out[targets] = np.maximum(out[targets], grouped)
    return Pooled(out, row_edges, col_edges, rows_read=len(read), rows_total=rows[1] - rows[0])


def _layer_heads_read(options: ViewOptions, analysis: Analysis) -> int:
    """How many (layer, head) rows the aggregate reads: a linear one skips those it weighs 0."""
    layers, heads = _selected(options, analysis)
    if options.aggregate_spec.linear:
        return int(np.count_nonzero(_aggregate_weights(options, len(layers), len(heads))))
    return len(layers) * len(heads)


def encode_log16(values: np.ndarray, floor: float = 1e-15) -> tuple[bytes, float, float]:
    """uint16 codes of non-negative ``values`` on a log scale, with the (low, high) they span.

    0 means a weight of 0; v >= 1 means w = low * (high / low)^((v - 1) / 65534), so a code is
    within 0.5 step of the weight: a relative error of at most ln(high / low) / 131068 (0.03 %
    for the widest range, high / low = 1e15). Weights below high * ``floor`` read as that bound.
    """
    positive = values[values > 0]
    if positive.size == 0:
        return np.zeros(values.shape, dtype="<u2").tobytes(), 0.0, 0.0
    high = float(positive.max())
    low = max(float(positive.min()), high * floor)
    span = math.log(high / low) if high > low else 0.0
    codes = np.zeros(values.shape, dtype=np.float64)
    mask = values > 0
    if span > 0:
        codes[mask] = 1 + np.rint((np.log(np.maximum(values[mask], low)) - math.log(low)) / span * 65534)
    else:
        codes[mask] = 1
    return np.clip(codes, 0, 65535).astype("<u2").tobytes(), low, high
