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
exp per (layer, head) the aggregate reads, so P over all rows costs what W costs: 5.4e9 such
cells for 16,384 tokens in windows of 4,096, far more than a few seconds on 2 cores. So the
overview reads rows in rounds for a time that grows with the file (``overview_seconds``): first
one row of each bin, then the bin's rows in an order that keeps the rows read evenly spread
(``reading_rounds``), until the time is spent. A cell is then the maximum over the rows read: it
can miss a strong pair in a row that was not read, but never shows one that does not exist, and
every column is exact; the answer says how many rows were read. A tile (bins = tokens) always
reads every row and is exact.

The default view (``raw``/``norm`` refinement, a linear aggregate) is computed by a fused kernel
(``_fused_rows``) that rebuilds rows from q, k and the stored log-sum-exp and multiplies the
per-head rows straight into their weighted sum; every other view goes through
``views.combined_rows``. Both equal ``views.attention_matrix`` pooled the same way (tested).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from atten_scope.common import cancellation
from atten_scope.engine.aggregate import linear_weights
from atten_scope.engine.analysis import Analysis
from atten_scope.engine.window import CapturedWindow
from atten_scope.views.attention import combined_rows, drop_sinks
from atten_scope.views.learned import head_coefficients
from atten_scope.views.options import ViewOptions

# The time an overview may spend reading rows: OVERVIEW_RATE seconds per row of the range, within
# OVERVIEW_SECONDS. 0.4 s for 2,048 rows, 3.2 s for 16,384, 3.5 s from 17,920: a longer file is worth a
# longer wait, and with the answer's encoding, transfer and drawing the request-to-drawn targets
# hold (2,048 tokens under 1 s, 16,384 under 5 s on 2 cores; bench/heatmap.mjs).
OVERVIEW_RATE = 1 / 5120
OVERVIEW_ROWS_PER_BIN = 4
OVERVIEW_MIN_ROW_BINS = 512
OVERVIEW_SECONDS = (0.3, 3.5)
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
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # the rows read, sorted

    @property
    def exact(self) -> bool:
        """Every cell is one token pair and every row was read."""
        single = bool(np.all(np.diff(self.row_edges) == 1) and np.all(np.diff(self.col_edges) == 1))
        return single and self.rows_read == self.rows_total


def bin_edges(start: int, end: int, bins: int) -> np.ndarray:
    """Edges of min(bins, end - start) runs of equal length (+-1 token) covering [start, end)."""
    count = max(1, min(bins, end - start))
    return start + (np.arange(count + 1, dtype=np.int64) * (end - start)) // count


def overview_row_bins(rows: int, bins: int) -> int:
    """Row bins of an overview of ``rows`` rows: ``bins``, but with at least OVERVIEW_ROWS_PER_BIN
    rows each (and never fewer than OVERVIEW_MIN_ROW_BINS bins) once the rows outnumber them.

    An overview always reads one row of every row bin first, whatever its time, so the row bins
    set its least cost: at 2,048 tokens, 1,024 row bins meant 1,024 full rows (0.7 s on 2 cores)
    before the rest of the request; 512 bins of 4 rows halve that, and the remaining time reads
    more rows of each bin. Columns keep ``bins``: a column costs nothing to add.
    """
    if rows <= bins:
        return bins
    return min(bins, max(rows // OVERVIEW_ROWS_PER_BIN, OVERVIEW_MIN_ROW_BINS))


def overview_seconds(rows: int) -> float:
    """The time an overview of ``rows`` rows may spend reading them (``OVERVIEW_RATE``)."""
    low, high = OVERVIEW_SECONDS
    return min(high, max(low, rows * OVERVIEW_RATE))


def row_costs(analysis: Analysis, options: ViewOptions, start: int, end: int) -> np.ndarray:
    """The estimated work of each row in [start, end), in cells of the fused kernel (one source of
    one layer-head: a q.k product and an exp).

    Row i has s_i = i - (start of the window that owns it) + 1 sources; with the refinement's
    cost per entry c and per row u (``registry.Refinement``), and the layer-heads the aggregate
    reads, it costs (c s_i + u) x layer-heads, times ``GENERIC_COST`` off the fused kernel.
    """
    tokens = np.arange(start, end)
    starts = np.array([w.start for w in analysis.windows], dtype=np.int64)[analysis.owners[start:end]]
    spec = options.refinement_spec
    path = 1.0 if _fused(options) else GENERIC_COST
    return ((tokens - starts + 1) * spec.row_cost + spec.row_setup) * _layer_heads_read(options, analysis) * path


def spread_order(m: int) -> np.ndarray:
    """Offsets 0..m-1 in an order whose every prefix is spread over the run: the bit-reversed
    counting order (0, m/2, m/4, 3m/4, ...), so the first 2^j are evenly spaced."""
    size = 1 << max(0, m - 1).bit_length()
    bits = size.bit_length() - 1
    reversed_ = [int(format(i, f"0{bits}b")[::-1], 2) if bits else 0 for i in range(size)]
    offsets = [v * m // size for v in reversed_]
    return np.array(list(dict.fromkeys(offsets)), dtype=np.int64)


def rows_to_read(edges: np.ndarray, costs: np.ndarray, budget: float | None) -> np.ndarray:
    """The rows each bin reads: all of them when sum(costs) <= budget, else its first k in
    ``spread_order``, with k = clamp(round(f m), 1, m) for m rows and f = budget / sum(costs)."""
    first = int(edges[0])
    total = float(costs.sum())
    if budget is None or total <= budget:
        return np.arange(first, int(edges[-1]))
    fraction = budget / total
    chosen = []
    for low, high in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        m = high - low
        chosen.append(low + spread_order(m)[: min(m, max(1, round(fraction * m)))])
    return np.sort(np.concatenate(chosen))


def reading_rounds(edges: np.ndarray) -> list[np.ndarray]:
    """The rows of each bin in rounds: round r reads offsets [2^(r-1), 2^r) of its ``spread_order``
    (round 0 the first), so after any round every bin has its rows read evenly spread."""
    rounds: list[list[np.ndarray]] = []
    for low, high in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        order = low + spread_order(high - low)
        r, begin = 0, 0
        while begin < len(order):
            end = 1 << r
            if len(rounds) <= r:
                rounds.append([])
            rounds[r].append(order[begin:end])
            r, begin = r + 1, end
    return [np.concatenate(parts) for parts in rounds]


def _thinned(chosen: np.ndarray, edges: np.ndarray, fraction: float) -> np.ndarray:
    """About ``fraction`` of a round's rows, spread over the bins: a bin's t-th new row is kept when
    t + phase_b < fraction x (its new rows), with phases staggered (golden ratio) so that bins with
    one new row each take turns rather than all or none."""
    bins = np.searchsorted(edges, chosen, side="right") - 1
    counts = np.bincount(bins, minlength=len(edges) - 1)
    firsts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(chosen)) - firsts[bins]  # chosen is grouped by bin, in spread order
    phase = (bins * 0.6180339887) % 1.0
    return chosen[rank + phase < fraction * counts[bins]]


def _aggregate_weights(options: ViewOptions, analysis: Analysis, layers: list[int], heads: list[int]) -> np.ndarray:
    """(L', H') weights of a linear aggregate (``aggregate.linear_weights``)."""
    coefficients = head_coefficients(analysis.info.id, options, layers, heads)
    return linear_weights(options.aggregate, len(layers), len(heads), coefficients)


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
    """One layer's share of a linear aggregate: the KV heads it reads and, for each of their query
    heads (G per KV head, in order), its coefficient (0 for a head the aggregate does not read)."""

    layer: int
    kv_heads: slice | torch.Tensor  # g KV heads: a slice when they are consecutive (a view, no copy)
    heads: slice | torch.Tensor  # their g * G query heads
    coefficients: torch.Tensor  # (g * G,) float32


def _fused_rows(
    win: CapturedWindow, terms: list[_Term], local: torch.Tensor, norm: bool, keys: dict[int, torch.Tensor]
) -> torch.Tensor:
    """Aggregated rows ``local`` (sorted local indices) of ``win`` over sources 0..max(local): (R, S).

    For head h of layer l, a_ij = exp(s q_i . k_j - lse_i) for j <= i, and i - j < w in a layer
    with a sliding window w (``refine.raw_rows`` up to rounding), and with norms a_ij nu_j / Z_i
    with Z_i = sum_j a_ij nu_j (``refine.norm_rows``). The aggregate is the sum over (l, h) of
    c_lh times those rows.

    A layer's heads are built in one batched product (the query heads of a KV head folded into
    its rows) and summed into the result at once, so memory is one layer's (heads x R x S) block,
    never L x H x R x S, and the Python work is a few calls per layer. The product takes -lse_i as
    one more column of q against a column of ones in k, so exp() of it is a_ij with no pass in
    between; ``keys`` keeps each layer's [k, 1] in float32 across the blocks of a window (keys are
    stored in float16).
    """
    sources = int(local[-1]) + 1
    device = win.query.device
    local = local.to(device)
    count = len(local)
    out = torch.zeros((count, sources), dtype=torch.float32, device=device)
    low = int(local[0]) + 1  # only columns after the first row can lie in a row's future
    future = torch.arange(low, sources, device=device)[None, :] > local[:, None]  # (R, S - low)
    queries = win.query[:, :, local].float()  # (L, H, R, d)
    lse = win.lse[:, :, local].float()  # (L, H, R)
    groups = win.query.shape[1] // win.key.shape[1]
    d = win.query.shape[-1]
    for term in terms:
        cancellation.check()
        layer, kv, heads = term.layer, term.kv_heads, term.heads
        g = len(term.coefficients) // groups
        window = win.sliding_window[layer]
        # With a sliding window no row of the block sees a source before `first`: skip them.
        first = max(0, int(local[0]) - window + 1) if window else 0
        k = keys.get(layer)
        if k is None:
            key = win.key[layer].float()  # (KV, n, d)
            k = keys[layer] = torch.cat([key, torch.ones_like(key[..., :1])], -1)
        q = torch.cat([queries[layer, heads] * float(win.scale[layer]), -lse[layer, heads][..., None]], -1)
        q = q.reshape(g, groups * count, d + 1)
        rows = torch.bmm(q, k[kv, first:sources].transpose(1, 2)).view(g * groups, count, sources - first)
        rows.exp_()
        rows[..., low - first :].masked_fill_(future, 0.0)
        if window:
            old = torch.arange(first, sources, device=device)[None, :] <= local[:, None] - window
            rows.masked_fill_(old, 0.0)
        weights = term.coefficients.to(device)[:, None].expand(-1, count)
        if norm:
            rows.mul_(win.value_norm[layer, heads, first:sources].float()[:, None, :])
            weights = weights / rows.sum(-1).clamp_min(1e-30)
        out[:, first:] += rows.mul_(weights[..., None]).sum(0)
    return out


def _terms(win: CapturedWindow, weights: np.ndarray, layers: list[int], heads: list[int]) -> list[_Term]:
    """One term per layer with a nonzero weight, over the KV heads whose query heads it weighs."""
    groups = win.query.shape[1] // win.key.shape[1]
    terms = []
    for a, layer in enumerate(layers):
        full = np.zeros(win.query.shape[1], dtype=np.float32)
        full[heads] = weights[a]
        kv_heads = [kv for kv in range(win.key.shape[1]) if np.any(full[kv * groups : (kv + 1) * groups] != 0)]
        if kv_heads:
            chosen = np.concatenate([full[kv * groups : (kv + 1) * groups] for kv in kv_heads])
            query_heads = [kv * groups + i for kv in kv_heads for i in range(groups)]
            terms.append(_Term(layer, _index(kv_heads), _index(query_heads), torch.from_numpy(chosen)))
    return terms


def _index(items: list[int]) -> slice | torch.Tensor:
    """A slice for consecutive indices (indexing with it gives a view), else an index tensor."""
    if items == list(range(items[0], items[-1] + 1)):
        return slice(items[0], items[-1] + 1)
    return torch.tensor(items, dtype=torch.long)


def _window_rows(
    analysis: Analysis, win: CapturedWindow, options: ViewOptions, local: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(local rows, their rows over the window's sources, sinks dropped) block by block."""
    layers, heads = _selected(options, analysis)
    sinks = [s - win.start for s in analysis.sinks(win)] if options.drop_sink else []
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    if _fused(options):
        terms = _terms(win, _aggregate_weights(options, analysis, layers, heads), layers, heads)
        keys: dict[int, torch.Tensor] = {}
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
    budget: float | None = None,
    seconds: float | None = None,
    row_bins: int | None = None,
) -> Pooled:
    """P (module docstring) of rows [r0, r1) x columns [c0, c1), each cut into at most ``bins`` bins
    (the rows into at most ``row_bins`` when given).

    Which rows are read: every row when ``budget`` and ``seconds`` are None; with ``budget`` (cells,
    ``row_costs``) the first rows of each bin in ``spread_order`` that fit it; with ``seconds``,
    ``reading_rounds`` until the time is spent: after each round the cells done per second so far
    say whether the next fits, and else which share of it (``_thinned``). Round 0 (one row a bin) is
    always read. So the overview takes about the same time on a fast machine, a slow one or a busy
    one, and reads as many rows as that allows. Stops with ``Cancelled`` between layers once the work
    on this thread is cancelled.
    """
    began = time.perf_counter()
    row_edges = bin_edges(rows[0], rows[1], row_bins or bins)
    col_edges = bin_edges(columns[0], columns[1], bins)
    out = np.zeros((len(row_edges) - 1, len(col_edges) - 1), dtype=np.float32)
    costs = row_costs(analysis, options, rows[0], rows[1])
    if options.aggregate_spec.streamed or (budget is None and seconds is None):
        # A streamed aggregate costs every earlier row whichever rows are kept: read them all.
        rounds = [np.arange(rows[0], rows[1])]
    elif seconds is None:
        rounds = [rows_to_read(row_edges, costs, budget)]
    else:
        rounds = reading_rounds(row_edges)
    read: list[np.ndarray] = []
    done = 0.0
    for index, chosen in enumerate(rounds):
        cost = float(costs[chosen - rows[0]].sum())
        if seconds is not None and index > 0:
            elapsed = time.perf_counter() - began
            affordable = done / max(elapsed, 1e-6) * (seconds - elapsed)
            if affordable < cost:
                chosen = _thinned(chosen, row_edges, max(0.0, affordable / cost))
                rounds = rounds[: index + 1]  # this round is the last
        if len(chosen) == 0:
            break
        _accumulate(analysis, options, out, row_edges, col_edges, columns, np.sort(chosen))
        read.append(chosen)
        done += float(costs[chosen - rows[0]].sum())
        if index + 1 >= len(rounds):
            break
    every = np.sort(np.concatenate(read)) if read else np.zeros(0, dtype=np.int64)
    return Pooled(out, row_edges, col_edges, rows_read=len(every), rows_total=rows[1] - rows[0], rows=every)


def _accumulate(
    analysis: Analysis,
    options: ViewOptions,
    out: np.ndarray,
    row_edges: np.ndarray,
    col_edges: np.ndarray,
    columns: tuple[int, int],
    read: np.ndarray,
) -> None:
    """out = max(out, P over the rows ``read`` (sorted)), window by window."""
    c0, c1 = columns
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


def _layer_heads_read(options: ViewOptions, analysis: Analysis) -> int:
    """How many (layer, head) rows the aggregate reads: a linear one skips those it weighs 0."""
    layers, heads = _selected(options, analysis)
    if options.aggregate_spec.linear:
        return int(np.count_nonzero(_aggregate_weights(options, analysis, layers, heads)))
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
