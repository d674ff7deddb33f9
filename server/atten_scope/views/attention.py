"""Views of an analysis: one token's attention vector, a token x token matrix, and per-head rows.

Every view is computed row block by row block from the captured state, so nothing of size
layers x heads x n x n is ever held. One sink rule (``drop_sinks``) and one rollout
(``rollout_rows`` / ``rollout_column``) serve them all.
"""

from __future__ import annotations

import numpy as np
import torch

from atten_scope.common import cancellation
from atten_scope.engine.aggregate import ENTRYWISE, combine, linear_weights, renormalised
from atten_scope.engine.analysis import Analysis
from atten_scope.engine.refine import prepare_columns, refined_column, refined_rows, row_blocks
from atten_scope.engine.window import CapturedWindow
from atten_scope.views.learned import head_coefficients
from atten_scope.views.options import ViewOptions


def drop_sinks(weights: np.ndarray, sinks: list[int]) -> np.ndarray:
    """Zero the ``sinks`` entries along the last axis and rescale each vector to sum to 1.

    Sink tokens (a window's first token, BOS-like specials) soak up attention that carries no
    information about the source; a vector left with no mass stays all zero.
    """
    out = weights.astype(np.float64, copy=True)
    kept = [i for i in sinks if 0 <= i < out.shape[-1]]
    out[..., kept] = 0.0
    totals = out.sum(axis=-1, keepdims=True)
    return np.divide(out, totals, out=np.zeros_like(out), where=totals > 0)


def _layers(analysis: Analysis, options: ViewOptions) -> torch.Tensor:
    chosen = options.layers if options.layers is not None else range(analysis.info.layers)
    return torch.tensor(list(chosen), dtype=torch.long)


def _heads(analysis: Analysis, options: ViewOptions) -> torch.Tensor:
    chosen = options.heads if options.heads is not None else range(analysis.info.heads)
    return torch.tensor(list(chosen), dtype=torch.long)


def _head_mean_blocks(
    analysis: Analysis, win: CapturedWindow, options: ViewOptions, layer: int, first: int, count: int
) -> list[tuple[int, torch.Tensor]]:
    """(start, rows) blocks of one layer's head-mean refined rows [first, first+count): (size, start+size)."""
    heads = _heads(analysis, options)
    blocks = []
    for start, size in row_blocks(first, count):
        cancellation.check()
        rows = refined_rows(win, torch.tensor([layer]), start, size, options.refinement)
        blocks.append((start, rows[:, heads].mean(dim=(0, 1))))
    return blocks


def rollout_rows(analysis: Analysis, win: CapturedWindow, options: ViewOptions, first: int, count: int) -> torch.Tensor:
    """Rows first..first+count-1 of the rollout R = A_hat_L ... A_hat_1: (count, first+count).

    A_hat_l = 0.5 A_l + 0.5 I with A_l the head mean of layer l (Abnar & Zuidema 2020). V holds
    the wanted rows of the identity and is updated from the last layer to the first,
    V <- 0.5 V A_l + 0.5 V, where V A_l = sum_r V[:, r] A_l[r, :] is accumulated over row
    blocks of A_l: memory is one block and V, never layers x n x n.
    """
    sources = first + count
    vector = torch.zeros((count, sources), dtype=torch.float64)
    vector[torch.arange(count), torch.arange(first, sources)] = 1.0
    for layer in reversed(_layers(analysis, options).tolist()):
        mixed = torch.zeros_like(vector)
        for start, block in _head_mean_blocks(analysis, win, options, layer, 0, sources):
            size, width = block.shape
            mixed[:, :width] += vector[:, start : start + size] @ block.double()
        vector = 0.5 * mixed + 0.5 * vector
    return vector.float()


def rollout_column(
    analysis: Analysis, win: CapturedWindow, options: ViewOptions, local: int, last: int
) -> torch.Tensor:
    """Column ``local`` of the rollout R for rows local..last: (last + 1 - local,).

    R e_j is built from the first layer to the last, v <- 0.5 A_l v + 0.5 v; v lives on rows
    local..last, and row r of A_l v needs only A_l[r, local..r].
    """
    vector = torch.zeros(last + 1 - local, dtype=torch.float64)
    vector[0] = 1.0
    for layer in _layers(analysis, options).tolist():
        mixed = torch.zeros_like(vector)
        for start, block in _head_mean_blocks(analysis, win, options, layer, local, last + 1 - local):
            size, sources = block.shape
            mixed[start - local : start - local + size] = block[:, local:].double() @ vector[: sources - local]
        vector = 0.5 * mixed + 0.5 * vector
    return vector.float()


def combined_rows(
    analysis: Analysis, win: CapturedWindow, options: ViewOptions, first: int, count: int
) -> torch.Tensor:
    """Aggregated refined rows [first, first+count) of ``win``: (count, first+count)."""
    if options.aggregate_spec.streamed:
        return rollout_rows(analysis, win, options, first, count)
    if options.aggregate_spec.linear:
        # Only the layers the aggregate weighs are refined: half of them for lastLayers, the
        # default, whose other half cost a cursor request as much again.
        layers, heads, weights = _column_terms(analysis, options)

        def reduce(rows: torch.Tensor) -> torch.Tensor:
            return torch.einsum("lh,lhrs->rs", weights.to(rows.dtype), rows)

    else:
        layers, heads = _layers(analysis, options), _heads(analysis, options)
        coefficients = head_coefficients(analysis.info.id, options, layers, heads)

        def reduce(rows: torch.Tensor) -> torch.Tensor:
            return combine(rows, options.aggregate, coefficients)

    blocks = []
    for start, size in row_blocks(first, count):
        cancellation.check()
        combined = reduce(refined_rows(win, layers, start, size, options.refinement)[:, heads])
        blocks.append(torch.nn.functional.pad(combined, (0, first + count - start - size)))
    return torch.cat(blocks, dim=0)


def _combined_column(
    analysis: Analysis, win: CapturedWindow, options: ViewOptions, source: int, first: int, last: int
) -> torch.Tensor:
    """Aggregated refined entries at ``source`` of rows first..last of ``win``: (last + 1 - first,)."""
    count = last + 1 - first
    if options.aggregate_spec.streamed:
        return rollout_column(analysis, win, options, source, last)[first - source :]
    if options.refinement_spec.columns and options.aggregate_spec.linear:
        # A linear aggregate of directly readable columns: no row is rebuilt, and a layer the
        # aggregate gives no weight (the first half, for lastLayers) is not read.
        layers, heads, weights = _column_terms(analysis, options)
        values = refined_column(win, layers, source, first, count, options.refinement)[:, heads]  # (L_r, H', r)
        return torch.einsum("lh,lhr->r", weights.to(values.dtype), values)
    layers, heads = _layers(analysis, options), _heads(analysis, options)
    totals = _row_totals(win, options, layers, heads, build=False)
    if totals is not None:
        # An entry-wise aggregate with its row totals built: g of the columns over T, no row rebuilt.
        values = refined_column(win, layers, source, first, count, options.refinement)[:, heads]  # (L', H', r)
        entries = ENTRYWISE.get(options.aggregate)(values[..., None])[:, 0]
        return renormalised(entries, totals[first : first + count].to(entries.dtype))
    coefficients = head_coefficients(analysis.info.id, options, layers, heads)
    blocks = []
    for start, size in row_blocks(first, count):
        cancellation.check()
        rows = refined_rows(win, layers, start, size, options.refinement)[:, heads]
        blocks.append(combine(rows, options.aggregate, coefficients)[:, source])
    return torch.cat(blocks, dim=0)


def _column_terms(analysis: Analysis, options: ViewOptions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For a linear aggregate: the layers it weighs, the heads, and the coefficients c_lh (L_r, H')
    of ``aggregate.linear_weights`` on those layers."""
    layers, heads = _layers(analysis, options), _heads(analysis, options)
    coefficients = head_coefficients(analysis.info.id, options, layers, heads)
    weights = linear_weights(options.aggregate, len(layers), len(heads), coefficients)
    read = weights.any(axis=1)
    return layers[torch.from_numpy(read)], heads, torch.from_numpy(weights[read])


def _row_totals(
    win: CapturedWindow, options: ViewOptions, layers: torch.Tensor, heads: torch.Tensor, build: bool
) -> torch.Tensor | None:
    """T_i = sum over sources of g(refined rows)_i, every row of ``win`` (n,), for an entry-wise
    aggregate (``aggregate.ENTRYWISE``) of a ``columns`` refinement; None for other views, and when
    not built yet unless ``build``. Building refines every row once, block by block, cancellable
    between blocks; only the whole is kept."""
    if not (options.refinement_spec.columns and options.aggregate_spec.entrywise):
        return None
    key = (options.refinement, options.aggregate, tuple(layers.tolist()), tuple(heads.tolist()))
    totals = win.combined_total(key)
    if totals is None and build:
        entries = ENTRYWISE.get(options.aggregate)
        parts = []
        for start, size in row_blocks(0, win.n):
            cancellation.check()
            parts.append(entries(refined_rows(win, layers, start, size, options.refinement)[:, heads]).sum(-1))
        totals = torch.cat(parts)
        win.keep_combined_total(key, totals)
    return totals


def prepare_attended_by(analysis: Analysis, options: ViewOptions) -> None:
    """Build in every window what attendedBy columns of ``options`` read besides the captured state
    (``refine.prepare_columns``: the norm totals of the layers the aggregate weighs; for an
    entry-wise aggregate such as headMax, also its row totals), so that the first such request
    answers like any other. The language server runs it while the editor is idle; it stops at the
    next ``cancellation.check()`` and what was built whole is kept."""
    if not options.refinement_spec.columns:
        return  # those columns rebuild rows: nothing to build ahead
    if options.aggregate_spec.linear:
        layers, _, _ = _column_terms(analysis, options)
        for win in analysis.windows:
            prepare_columns(win, layers, options.refinement)
    elif options.aggregate_spec.entrywise:
        layers, heads = _layers(analysis, options), _heads(analysis, options)
        for win in analysis.windows:
            prepare_columns(win, layers, options.refinement)
            _row_totals(win, options, layers, heads, build=True)


def attention_vector(analysis: Analysis, token: int, options: ViewOptions) -> np.ndarray:
    """The attention vector of ``token`` over all tokens of the document, summing to 1.

    ``attendsTo``: row i (what token i draws on), from the window that owns i. ``attendedBy``:
    column j (which later tokens draw on j), each row read from the window that owns it, and
    normalised over those tokens.
    """
    analysis.check_token(token)
    out = np.zeros(analysis.token_count, dtype=np.float64)
    sinks: list[int] = []
    if options.direction == "attendsTo":
        win, local = analysis.owner(token)
        row = combined_rows(analysis, win, options, local, 1)[0]
        out[win.start : win.start + local + 1] = row.double().numpy()
        sinks = analysis.sinks(win)
    else:
        for win, first, last in analysis.owned_after(token):
            values = _combined_column(analysis, win, options, token - win.start, first, last)
            out[win.start + first : win.start + last + 1] = values.double().numpy()
            sinks += [s for s in analysis.sinks(win) if s != token]
    return drop_sinks(out, sinks if options.drop_sink else [])


def attention_matrix(analysis: Analysis, options: ViewOptions, first: int, count: int) -> np.ndarray:
    """Aggregated refined rows for tokens [first, first+count) restricted to the same sources: (count, count).

    Sinks are zeroed and rows renormalised when ``drop_sink`` is set.
    """
    out = np.zeros((count, count), dtype=np.float64)
    token = first
    while token < first + count:
        w = int(analysis.owners[token])
        win = analysis.windows[w]
        end = token
        while end < first + count and int(analysis.owners[end]) == w:
            end += 1
        local, size = token - win.start, end - token
        block = combined_rows(analysis, win, options, local, size).double().numpy()
        if options.drop_sink:
            block = drop_sinks(block, [s - win.start for s in analysis.sinks(win)])
        lo = max(first, win.start)
        out[token - first : end - first, lo - first : end - first] = block[:, lo - win.start : end - win.start]
        token = end
    return out


def head_vectors(analysis: Analysis, token: int, options: ViewOptions) -> tuple[np.ndarray, int]:
    """Every layer and head on its own for ``token``, in ``options.direction``: ((L, H, n), offset).

    ``attendsTo``: the refined row of ``token`` (sources offset..offset+n-1, from its window).
    ``attendedBy``: the refined entries at ``token`` of the rows of the later tokens that each
    window owns (tokens offset..offset+n-1, where offset is ``token``). Sinks are dropped per head
    when ``drop_sink`` is set.
    """
    analysis.check_token(token)
    every_layer = torch.arange(analysis.info.layers)
    if options.direction == "attendsTo":
        win, local = analysis.owner(token)
        rows = refined_rows(win, every_layer, local, 1, options.refinement)[:, :, 0].double().numpy()
        sinks = [s - win.start for s in analysis.sinks(win)]
        return (drop_sinks(rows, sinks) if options.drop_sink else rows), win.start
    later = analysis.token_count - token
    out = np.zeros((analysis.info.layers, analysis.info.heads, later), dtype=np.float64)
    sinks = []
    for win, first, last in analysis.owned_after(token):
        local = token - win.start
        if options.refinement_spec.columns:
            values = refined_column(win, every_layer, local, first, last + 1 - first, options.refinement)
        else:
            blocks = []
            for start, size in row_blocks(first, last + 1 - first):
                cancellation.check()
                blocks.append(refined_rows(win, every_layer, start, size, options.refinement)[..., local])
            values = torch.cat(blocks, dim=-1)
        out[:, :, win.start + first - token : win.start + last + 1 - token] = values.double().numpy()
        sinks += [s - token for s in analysis.sinks(win) if s > token]
    return (drop_sinks(out, sinks) if options.drop_sink else out), token
