"""Refined attention rows, rebuilt on demand from the captured state.

For head h of layer l, query row i and source j <= i (within the sliding window, if any):

- ``raw``: a_ij = softmax_j(s * q_i . k_j).
- ``norm`` (Kobayashi et al. 2020): a_ij ||f_h(j)|| / sum_j' a_ij' ||f_h(j')||, f_h(j) = t_j W_O^h.
- ``effective`` (Brunner et al. 2020, causal form): the projection of row a_i onto the column
  space of the value prefix T (rows t_j, j allowed for i). With G_i = T^T T and o_i = a_i T,
  a_eff_ij = t_j G_i^+ o_i. Rows with at most d_head distinct value rows are unchanged.
  G_i^+ is taken in float64 from an eigen-decomposition that drops eigenvalues below
  (RANK_RTOL * sigma_max)^2, the same cut as an SVD of T with relative tolerance RANK_RTOL.
- ``effective+norm``: effective, clipped at 0, weighted by ||f_h(j)||.

Negative entries are clipped to 0 and every refined row is renormalised to sum to 1.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from atten_scope.common import cancellation
from atten_scope.engine.kernels import additive_bias, attention_with_lse, cached_prefix_attention
from atten_scope.engine.window import GRAM_CHECKPOINT, CapturedWindow
from atten_scope.registry import REFINEMENTS, Implementations

# (window, layers, first, count) -> refined rows (L', H, count, first+count), each summing to 1.
RowBuilder = Callable[[CapturedWindow, torch.Tensor, int, int], torch.Tensor]
# (window, layers, source, first, count) -> the refined entries of rows first.. at ``source``: (L', H, count).
ColumnReader = Callable[[CapturedWindow, torch.Tensor, int, int, int], torch.Tensor]
ROW_BUILDERS = Implementations[RowBuilder](REFINEMENTS, "refinement")
COLUMN_READERS = Implementations[ColumnReader](REFINEMENTS, "refinement with columns", lambda spec: spec.columns)
rows_of = ROW_BUILDERS.register
columns_of = COLUMN_READERS.register

RANK_RTOL = 1e-5
ROW_BLOCK = 16  # rows refined at once: bounds the (rows x layers x kv x d x d) Gram block
NORM_TOTAL_ROWS = 512  # rows per attention pass of the norm totals (about 30 ms at 4,096 tokens)


def select_layers(tensor: torch.Tensor, layers: torch.Tensor) -> torch.Tensor:
    """``tensor[layers]`` as a view when the layers are contiguous (the common "all layers" case)."""
    if len(layers) and int(layers[-1]) - int(layers[0]) + 1 == len(layers) and bool((layers.diff() == 1).all()):
        return tensor[int(layers[0]) : int(layers[-1]) + 1]
    return tensor[layers]


def _prefix_grams(win: CapturedWindow, layers: torch.Tensor, first: int, count: int) -> torch.Tensor:
    """P(p) = sum_{t < p} t_t^T t_t for p = first .. first + count - 1: (count, L', KV, d, d) float64."""
    checkpoint = first // GRAM_CHECKPOINT
    base = select_layers(win.gram, layers)[:, :, checkpoint].clone()  # (L', KV, d, d)
    begin = checkpoint * GRAM_CHECKPOINT
    if first > begin:
        block = select_layers(win.value, layers)[:, :, begin:first].double()
        base += torch.matmul(block.transpose(-1, -2), block)
    if count == 1:
        return base[None]
    steps = select_layers(win.value, layers)[:, :, first : first + count - 1].double()  # (L', KV, count-1, d)
    outer = steps[..., :, None] * steps[..., None, :]  # (L', KV, count-1, d, d)
    running = torch.cumsum(outer, dim=2)
    grams = torch.cat([base[:, :, None], base[:, :, None] + running], dim=2)
    return grams.permute(2, 0, 1, 3, 4)


def _pinv_psd(gram: torch.Tensor) -> torch.Tensor:
    """Pseudo-inverse of symmetric PSD matrices (..., d, d) with the module's rank tolerance."""
    eigenvalues, vectors = torch.linalg.eigh(gram)
    cutoff = eigenvalues[..., -1:].clamp_min(0) * RANK_RTOL**2
    keep = eigenvalues > cutoff
    inverse = torch.where(keep, 1.0 / torch.where(keep, eigenvalues, torch.ones_like(eigenvalues)), 0.0)
    return (vectors * inverse[..., None, :]) @ vectors.transpose(-1, -2)


def solve_psd(gram: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """G^+ rhs for PSD ``gram`` (B, d, d) and ``rhs`` (B, d, k), in float64.

    An eigen-decomposition is 10-30x slower than Cholesky at d = 64, so well-conditioned
    matrices (nearly all rows with more sources than d) are solved by Cholesky and two
    triangular solves. A matrix goes to the eigen path, which applies the rank cut-off exactly,
    when Cholesky fails or a pivot L_kk^2 falls within a factor 100 of the cut-off: a small pivot
    is what a (near-)duplicate value vector produces.
    """
    factor, info = torch.linalg.cholesky_ex(gram)
    cutoff = gram.diagonal(dim1=-2, dim2=-1).sum(-1) * RANK_RTOL**2  # trace >= lambda_max
    pivots = factor.diagonal(dim1=-2, dim2=-1).square().amin(-1)
    ok = (info == 0) & (pivots > 100 * cutoff)
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    safe = torch.where(ok[:, None, None], factor, eye)
    half = torch.linalg.solve_triangular(safe, rhs, upper=False)
    result = torch.linalg.solve_triangular(safe.mT, half, upper=True)
    if not bool(ok.all()):
        bad = ~ok
        result[bad] = _pinv_psd(gram[bad]) @ rhs[bad]
    return result


def _allowed(win: CapturedWindow, layers: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Whether query ``rows`` may attend to ``cols`` (broadcast against each other), per layer."""
    causal = cols <= rows
    masks = []
    for layer in layers.tolist():
        window = win.sliding_window[layer]
        masks.append(causal & (cols > rows - window) if window else causal)
    return torch.stack(masks).to(win.query.device)


def source_mask(win: CapturedWindow, layers: torch.Tensor, first: int, count: int, sources: int) -> torch.Tensor:
    """Allowed (row, source) pairs per layer: (L', count, sources) bool."""
    return _allowed(win, layers, torch.arange(first, first + count)[:, None], torch.arange(sources)[None, :])


def column_mask(win: CapturedWindow, layers: torch.Tensor, source: int, first: int, count: int) -> torch.Tensor:
    """Whether rows first..first+count-1 may attend to ``source``, per layer: (L', count) bool.

    The column of ``source_mask`` without building the (count x sources) matrices.
    """
    return _allowed(win, layers, torch.arange(first, first + count), torch.tensor(source))


@rows_of("raw")
def raw_rows(win: CapturedWindow, layers: torch.Tensor, first: int, count: int) -> torch.Tensor:
    """Softmax attention rows first..first+count-1 for ``layers``: (L', H, count, first+count)."""
    sources = first + count
    heads, kv_heads, d = win.query.shape[1], win.key.shape[1], win.query.shape[3]
    groups = heads // kv_heads
    # Fold the query heads of each KV group into the row axis: one batched matmul per KV head.
    q = select_layers(win.query, layers)[:, :, first:sources].float().reshape(len(layers), kv_heads, groups * count, d)
    k = select_layers(win.key, layers)[:, :, :sources].float()
    scores = torch.matmul(q, k.transpose(-1, -2)).reshape(len(layers), kv_heads, groups, count, sources)
    scores = scores * win.scale[layers].to(scores.device)[:, None, None, None, None]
    allowed = source_mask(win, layers, first, count, sources)[:, None, None]
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1).reshape(len(layers), heads, count, sources)


def _effective(
    win: CapturedWindow, layers: torch.Tensor, first: int, count: int, attention: torch.Tensor
) -> torch.Tensor:
    """Brunner effective attention for the rows of ``attention`` (L', H, count, sources)."""
    heads, kv_heads, d = win.query.shape[1], win.key.shape[1], win.query.shape[3]
    groups = heads // kv_heads
    sources = first + count
    if sources <= d:
        return _effective_in_source_space(win, layers, first, count, attention)
    values = select_layers(win.value, layers)[:, :, :sources].float()  # (L', KV, S, d)
    a = attention.reshape(len(layers), kv_heads, groups * count, sources)
    # The O(n) products stay in float32; only the d x d solve needs float64.
    outputs = torch.matmul(a, values).double().reshape(len(layers), kv_heads, groups, count, d)  # o_i
    grams = _prefix_grams(win, layers, first + 1, count)  # P(i + 1): (count, L', KV, d, d)
    windows = torch.tensor([w or 0 for w in (win.sliding_window[i] for i in layers.tolist())], dtype=torch.long)
    if bool((windows > 0).any()):
        for index, layer_window in enumerate(windows.tolist()):
            if not layer_window:
                continue
            for r in range(count):
                low = first + r + 1 - layer_window
                if low > 0:
                    grams[r, index] -= _prefix_grams(win, layers[index : index + 1], low, 1)[0, 0]
    # Solve G_i u = o_i for every (layer, KV head, row) with the group's query heads as columns.
    grams = grams.permute(1, 2, 0, 3, 4).reshape(-1, d, d)  # (L' * KV * count, d, d)
    rhs = outputs.permute(0, 1, 3, 4, 2).reshape(-1, d, groups)  # (L' * KV * count, d, G)
    solved = solve_psd(grams, rhs).reshape(len(layers), kv_heads, count, d, groups).permute(0, 1, 4, 2, 3)
    solved = solved.float().reshape(len(layers), kv_heads, groups * count, d)
    effective = torch.matmul(solved, values.transpose(-1, -2)).reshape(len(layers), kv_heads, groups, count, sources)
    allowed = source_mask(win, layers, first, count, sources)
    # No shortcut for rows with <= d sources: repeated tokens (identical value rows) make T
    # rank-deficient there, and the projection then splits weight between the duplicates.
    effective = effective.masked_fill(~allowed[:, None, None], 0.0)
    return effective.reshape(len(layers), heads, count, sources)


def _effective_in_source_space(
    win: CapturedWindow, layers: torch.Tensor, first: int, count: int, attention: torch.Tensor
) -> torch.Tensor:
    """Effective attention for rows with at most d_head sources, solved in source space.

    The effective row is the orthogonal projection of a_i onto the column space of T (S x d):
    a_eff = T G^+ T^T a_i = U_k U_k^T a_i, where U_k are the eigenvectors of the kernel
    K = T T^T (S x S) whose eigenvalues pass the same cut-off as G's (K and G share their
    non-zero eigenvalues). When S < d (early rows, and every row of a head_dim-256 model below
    256 tokens) the S x S problem is far smaller than the d x d one, and it is exactly the
    rank-deficient case the d x d path would send to its slow eigen branch.
    """
    heads, kv_heads = win.query.shape[1], win.key.shape[1]
    groups = heads // kv_heads
    sources = first + count
    values = select_layers(win.value, layers)[:, :, :sources].double()  # (L', KV, S, d)
    allowed = source_mask(win, layers, first, count, sources)  # (L', count, S)
    masked = values[:, :, None] * allowed[:, None, :, :, None]  # (L', KV, count, S, d)
    kernel = torch.matmul(masked, masked.transpose(-1, -2))  # (L', KV, count, S, S)
    eigenvalues, vectors = torch.linalg.eigh(kernel)
    cutoff = eigenvalues[..., -1:].clamp_min(0) * RANK_RTOL**2
    basis = vectors * (eigenvalues > cutoff)[..., None, :]  # U_k, other columns zeroed
    a = attention.double().reshape(len(layers), kv_heads, groups, count, sources).permute(0, 1, 3, 4, 2)
    projected = torch.matmul(basis, torch.matmul(basis.transpose(-1, -2), a))  # (L', KV, count, S, G)
    effective = projected.permute(0, 1, 4, 2, 3).float()  # (L', KV, G, count, S)
    effective = effective.masked_fill(~allowed[:, None, None], 0.0)
    return effective.reshape(len(layers), heads, count, sources)


def _normalise(rows: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    rows = rows.clamp_min(0)
    total = rows.sum(-1, keepdim=True)
    good = total > 0
    return torch.where(good, rows / torch.where(good, total, torch.ones_like(total)), fallback)


def _value_norms(win: CapturedWindow, layers: torch.Tensor, sources: int) -> torch.Tensor:
    """||f_h(j)|| for sources 0..sources-1, shaped to weight rows: (L', H, 1, sources)."""
    return select_layers(win.value_norm, layers)[:, :, :sources].float()[:, :, None, :]


@rows_of("norm")
def norm_rows(win: CapturedWindow, layers: torch.Tensor, first: int, count: int) -> torch.Tensor:
    attention = raw_rows(win, layers, first, count)
    return _normalise(attention * _value_norms(win, layers, first + count), attention)


@rows_of("effective")
def effective_rows(win: CapturedWindow, layers: torch.Tensor, first: int, count: int) -> torch.Tensor:
    attention = raw_rows(win, layers, first, count)
    return _normalise(_effective(win, layers, first, count, attention), attention)


@rows_of("effective+norm")
def effective_norm_rows(win: CapturedWindow, layers: torch.Tensor, first: int, count: int) -> torch.Tensor:
    attention = raw_rows(win, layers, first, count)
    effective = _effective(win, layers, first, count, attention).clamp_min(0)
    return _normalise(effective * _value_norms(win, layers, first + count), attention)


def refined_rows(win: CapturedWindow, layers: torch.Tensor, first: int, count: int, refinement: str) -> torch.Tensor:
    """Refined, clipped, renormalised rows first..first+count-1: (L', H, count, first+count).

    Callers refine long ranges block by block (see ``row_blocks``) and reduce each block, so
    that no layers x heads x n x n tensor is ever held.
    """
    return ROW_BUILDERS.get(refinement)(win, layers, first, count)


def refined_column(
    win: CapturedWindow, layers: torch.Tensor, source: int, first: int, count: int, refinement: str
) -> torch.Tensor:
    """The refined a_ij of rows first..first+count-1 at the fixed ``source`` j: (L', H, count).

    Only for refinements that declare ``columns``; the others rebuild rows.
    """
    return COLUMN_READERS.get(refinement)(win, layers, source, first, count)


def row_blocks(first: int, count: int, block: int = ROW_BLOCK) -> list[tuple[int, int]]:
    """(start, size) blocks covering rows first..first+count-1."""
    return [(start, min(block, first + count - start)) for start in range(first, first + count, block)]


@columns_of("raw")
def raw_column(win: CapturedWindow, layers: torch.Tensor, source: int, first: int, count: int) -> torch.Tensor:
    """Raw a_ij for the fixed source j and rows first..first+count-1: (L', H, count).

    Uses the stored per-row log-sum-exp, a_ij = exp(s q_i . k_j - lse_i), so no row is rebuilt.
    One layer's queries are upcast at a time, the heads of a KV group folded into rows: a column
    of every layer at once would upcast them all (225 MB at 4,096 tokens on Gemma 3), fresh pages
    that made the first request after an idle-time build several times slower than the next.
    """
    heads, kv_heads = win.query.shape[1], win.key.shape[1]
    groups = heads // kv_heads
    scores = torch.empty((len(layers), heads, count), dtype=torch.float32, device=win.query.device)
    for index, layer in enumerate(layers.tolist()):
        q = win.query[layer, :, first : first + count].float()  # (H, r, d)
        k = win.key[layer, :, source].float()  # (KV, d)
        grouped = torch.matmul(q.reshape(kv_heads, groups * count, -1), k[:, :, None])  # (KV, G r, 1)
        scores[index] = grouped.reshape(heads, count)
    scores *= win.scale[layers].to(scores.device)[:, None, None]
    values = torch.exp(scores - select_layers(win.lse, layers)[:, :, first : first + count].float())
    allowed = column_mask(win, layers, source, first, count)  # (L', r)
    return values * allowed[:, None, :]


def norm_totals(win: CapturedWindow, layers: torch.Tensor) -> torch.Tensor:
    """Z_i^h = sum_j a_ij ||f_h(j)|| for every row of ``layers``: (L', H, n), cached per window and layer.

    It is one fused attention pass per layer with the norms as the only value channel, so a norm
    column needs no row rebuild: norm_ij = a_ij ||f_h(j)|| / Z_i^h. Layers are computed only when
    first asked for (the default aggregate reads half of them), with a cancellation check between
    layers, and a window re-captured after an edit takes the unchanged rows from its prefix window.
    """
    totals = []
    for layer in layers.tolist():
        built = win.norm_total(layer)
        if built is None:
            cancellation.check()
            built = _layer_norm_totals(win, layer)
            win.keep_norm_total(layer, built)
        totals.append(built)
    return torch.stack(totals)


def _layer_norm_totals(win: CapturedWindow, layer: int) -> torch.Tensor:
    """Z^h_i of one layer: (H, n), NORM_TOTAL_ROWS rows per attention pass with a cancellation check
    between passes, so a build in the background gives way to a request within one pass.

    Rows [a, b) see keys [0, a) unmasked and [a, b) causally: the two halves run as one cached-prefix
    attention (merged by log-sum-exp), without an explicit (b - a) x b mask.
    """
    _, heads, n, d = win.query.shape
    groups = heads // win.key.shape[1]
    first, parts = 0, []
    inherited = win.prefix_norm_total(layer)
    if inherited is not None:  # rows before the edit saw the same keys: their totals still hold
        earlier, first = inherited
        parts = [earlier[:, :first]]
    values = torch.zeros((1, heads, n, d), dtype=torch.float32, device=win.query.device)
    values[0, :, :, 0] = win.value_norm[layer].float()
    key = win.key[layer].float().repeat_interleave(groups, dim=0)[None]
    scale = float(win.scale[layer])
    for start in range(first, n, NORM_TOTAL_ROWS):
        cancellation.check()
        end = min(n, start + NORM_TOTAL_ROWS)
        query = win.query[layer][None, :, start:end].float()
        if win.sliding_window[layer]:
            allowed = source_mask(win, torch.tensor([layer]), start, end - start, end)[0]
            bias = additive_bias(allowed, torch.float32)[None, None]
            out, _ = attention_with_lse(query, key[:, :, :end], values[:, :, :end], bias, False, scale)
        elif start == 0:
            out, _ = attention_with_lse(query, key[:, :, :end], values[:, :, :end], None, end > 1, scale)
        else:
            out, _ = cached_prefix_attention(query, key[:, :, :end], values[:, :, :end], start, scale)
        parts.append(out[0, :, :, 0].float())
    return torch.cat(parts, dim=1)


def prepare_columns(win: CapturedWindow, layers: torch.Tensor, refinement: str) -> None:
    """Build what reading columns of ``refinement`` needs besides the captured state (for ``norm``
    the totals of ``layers``), so that a first attendedBy request costs what any other does.

    Cancellable between passes; the layers already built are kept, so a cancelled build resumes
    from the layer it stopped in.
    """
    if refinement == "norm":
        norm_totals(win, layers)


@columns_of("norm")
def norm_column(win: CapturedWindow, layers: torch.Tensor, source: int, first: int, count: int) -> torch.Tensor:
    """Kobayashi-norm a_ij ||f_h(j)|| / Z_i^h for the fixed source j: (L', H, count)."""
    raw = raw_column(win, layers, source, first, count)
    norms = select_layers(win.value_norm, layers)[:, :, source].float()[:, :, None]
    totals = norm_totals(win, layers)[:, :, first : first + count]
    return raw * norms / totals.clamp_min(1e-30)


ROW_BUILDERS.check()
COLUMN_READERS.check()
