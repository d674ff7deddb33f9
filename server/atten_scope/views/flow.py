"""Information-flow routes and accumulative (ALTI) attention, from the contributions of ``contributions.py``.

Information flow (Ferrando & Voita 2024, arXiv 2403.00824): for one prediction, a graph whose
nodes are residual-stream states and whose edges are the contributions that built them:

    resid:0:i          the embedding of token i
    mid:l:i            after the attention block of layer l: x_i + sum_j z'_ij + b'_i
    mlp:l:i            the MLP block of layer l at token i (its output m_i)
    resid:l:i          after layer l: mid_i + m_i

Edges into mid:l:i are the attention contributions z'_ij of every source j <= i (heads summed)
from resid:l-1:j and the residual x_i from resid:l-1:i; into resid:l:i, mid:l:i (residual) and
mlp:l:i (whose input edge from mid:l:i carries the same weight). Each edge's weight is its
importance among the contributions to the same total (``contributions.importance``,
normalised). The graph is grown from resid:L:target down, layer by layer, keeping edges whose
importance is at least the threshold, until it holds ``max_nodes`` nodes. An attention edge
names its top heads: head h's share is the importance of z'_ijh within the edge's z'_ij.

ALTI rollout (Ferrando et al. 2022, arXiv 2203.04212): per layer, c^l[i, j] is the normalised
importance of T_i(x_j) in mid_i, with T_i(x_j) = z'_ij + [i = j] x_i (the residual joins the
token's own contribution, as in the paper). The token's row of C = c^L c^(L-1) ... c^1 is how
much each source token contributed to its state after the last layer's attention. Only rows with
weight are built, but in general that is every row before the token in every layer: O(L n^2 D).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from atten_scope.common import cancellation
from atten_scope.common.errors import InvalidRequest
from atten_scope.common.progress import ReportProgress, ignore_progress
from atten_scope.engine.analysis import Analysis
from atten_scope.engine.contributions import (
    Contributions,
    RowContributions,
    contributions,
    importance,
    normalised,
)
from atten_scope.limits import ALTI_TOKENS

TOP_HEADS = 3


@dataclass(frozen=True)
class FlowNode:
    id: str
    token: int  # document token index
    layer: int
    stage: str  # "resid" | "mid" | "mlp"


@dataclass(frozen=True)
class FlowEdge:
    source: str
    target: str
    kind: str  # "attention" | "residual" | "mlp"
    weight: float
    heads: list[tuple[int, float]]


@dataclass
class FlowGraph:
    target: int
    layers: int
    threshold: float
    max_nodes: int
    nodes: dict[str, FlowNode] = field(default_factory=dict)
    edges: list[FlowEdge] = field(default_factory=list)
    truncated: bool = False
    recomputed: int = 0

    def add(self, stage: str, layer: int, token: int) -> str | None:
        """The id of node (stage, layer, token), added if new and the graph has room; None if not."""
        name = f"{stage}:{layer}:{token}"
        if name in self.nodes:
            return name
        if len(self.nodes) >= self.max_nodes:
            self.truncated = True
            return None
        self.nodes[name] = FlowNode(name, token, layer, stage)
        return name

    def link(
        self, source: tuple[str, int, int], target: str, kind: str, weight: float, heads: list[tuple[int, float]]
    ) -> bool:
        """Add ``source`` (stage, layer, token) and the edge from it to ``target``; False when out of room."""
        name = self.add(*source)
        if name is None:
            return False
        self.edges.append(FlowEdge(name, target, kind, weight, heads))
        return True


def _window_ids(analysis: Analysis, token: int, model: Any) -> tuple[Any, list[int], int, int]:
    """The model to run, the owning window's ids up to ``token``, the window's start, ``token``'s row."""
    model = model if model is not None else analysis.model
    if model is None:
        raise InvalidRequest("This view runs the model again, and the analysis holds none: analyse the file again.")
    analysis.check_token(token)
    win, local = analysis.owner(token)
    return model, analysis.document.ids[win.start : token + 1], win.start, local


def window_parts(analysis: Analysis, token: int, model: Any = None) -> tuple[Contributions, int]:
    """The contributions over the owning window's tokens up to ``token``, and its index there, from
    a forward pass of ``model`` (the torch model that analysed ``analysis``; its own by default)."""
    model, ids, start, local = _window_ids(analysis, token, model)
    return contributions(model, ids, start, cancellation.check), local


def window_rows(analysis: Analysis, token: int, model: Any = None) -> tuple[RowContributions, int]:
    """The contributions of chosen rows of the owning window's tokens up to ``token`` (``RowContributions``),
    and ``token``'s index there; ``model``: as ``window_parts``."""
    model, ids, start, local = _window_ids(analysis, token, model)
    return RowContributions(model, ids, start, cancellation.check), local


def _head_shares(terms: torch.Tensor, total: torch.Tensor) -> list[tuple[int, float]]:
    """The top heads of one attention edge: importance of each z'_ijh (H, D) within z'_ij (D)."""
    shares = normalised(importance(terms, total))
    order = torch.argsort(shares, descending=True, stable=True)[:TOP_HEADS]
    return [(int(h), round(float(shares[h]), 4)) for h in order if float(shares[h]) > 0]


def flow_graph(analysis: Analysis, token: int, threshold: float, max_nodes: int, model: Any = None) -> FlowGraph:
    """The information-flow graph of ``token``'s prediction (see the module docstring); ``model``: as
    ``window_parts``. Only the rows the graph reaches are computed (``RowContributions``)."""
    rows, target = window_rows(analysis, token, model)
    offset = rows.start
    layers = rows.layers
    graph = FlowGraph(token, layers, threshold, max_nodes, recomputed=rows.n)
    graph.add("resid", layers, offset + target)
    frontier = [target]
    for layer in range(layers, 0, -1):
        cancellation.check()
        mids: list[int] = []
        rows.compute(frontier, layer)  # one pass for the rows this layer reaches first, up to it
        for i in frontier:
            parts = rows.row(i, layer)
            mid = parts.mid(layer, i, 1)[0]
            mlp = parts.mlp_output(layer, i)
            share = normalised(importance(torch.stack([mid, mlp]), parts.state(layer, i)))
            to_mid, to_mlp = float(share[0]), float(share[1])
            here = f"resid:{layer}:{offset + i}"
            reached = False
            if to_mlp >= threshold and graph.link(("mlp", layer, offset + i), here, "mlp", to_mlp, []):
                reached = graph.link(("mid", layer, offset + i), f"mlp:{layer}:{offset + i}", "mlp", to_mlp, [])
            if to_mid >= threshold:
                reached = graph.link(("mid", layer, offset + i), here, "residual", to_mid, []) or reached
            if reached:
                mids.append(i)
        following: set[int] = set()
        for i, sources, weights in rows.layer_terms(layer, mids):  # (i + 1, D): the heads summed
            parts = rows.row(i, layer)
            residual = parts.state(layer - 1, i)
            mid = residual + sources.sum(dim=0) + parts.bias_term(layer, i, 1)[0]
            # Each term's importance is its own: the sources' are taken in place, then the residual's.
            proximity = torch.cat([importance(sources, mid, consume=True), importance(residual[None], mid)])
            shares = normalised(proximity)
            here = f"mid:{layer}:{offset + i}"
            candidates = [(float(shares[j]), j) for j in torch.nonzero(shares[:-1] >= threshold).flatten().tolist()]
            if float(shares[-1]) >= threshold and graph.link(
                ("resid", layer - 1, offset + i), here, "residual", float(shares[-1]), []
            ):
                following.add(i)
            for weight, j in sorted(candidates, key=lambda c: (-c[0], c[1])):
                heads = parts.head_terms_of(layer, i, j, weights)  # (H, D); z'_ij is their sum
                if graph.link(
                    ("resid", layer - 1, offset + j), here, "attention", weight, _head_shares(heads, heads.sum(0))
                ):
                    following.add(j)
        frontier = sorted(following)
        if not frontier:
            break
    return graph


def alti_rollout(
    analysis: Analysis, token: int, model: Any = None, progress: ReportProgress = ignore_progress
) -> tuple[np.ndarray, int]:
    """The ALTI rollout row of ``token`` over all document tokens (summing to 1), and the tokens
    recomputed; ``model``: as ``window_parts``; ``progress``: the pass, then the layers' rows."""
    analysis.check_token(token)
    before = analysis.owner(token)[1]  # the tokens of its window before it
    if before + 1 > ALTI_TOKENS:
        raise InvalidRequest(
            f"The ALTI rollout covers at most {ALTI_TOKENS} tokens of context, the token included, and this token "
            f"has {before:,} before it in its window (the cost grows with their square): use it nearer the start "
            f"of the file, or set attenScope.maxTokens to {ALTI_TOKENS} or less."
        )
    progress(0.0, f"running the model over {before + 1:,} tokens")
    parts, target = window_parts(analysis, token, model)
    row = alti_row(parts, target, progress)
    out = np.zeros(analysis.token_count, dtype=np.float64)
    out[parts.start : parts.start + target + 1] = row.double().numpy()
    return out, parts.n


SOURCE_CHUNK = 32  # sources whose terms (chunk x rows x D) are built at once: they stay in cache
ROWS_AT_ONCE = 64  # rows of c^l built together (their weights, (S, rows, H), are laid out by source)


def by_source(parts: Contributions, layer: int, sources: int) -> torch.Tensor:
    """u_hj of ``layer`` for j < sources, through the post-attention norm's gain where the model has
    one, laid out by source: (S, H, D) float32, what ``alti_matrix_rows`` multiplies."""
    u = parts.projected_block(layer, 0, sources).transpose(0, 1).contiguous()
    gain = parts.norm_gain[layer - 1]
    return u.mul_(gain) if gain is not None else u


def alti_matrix_rows(
    parts: Contributions, layer: int, first: int, count: int, by_sources: torch.Tensor | None = None
) -> torch.Tensor:
    """c^l rows first..first+count-1 over sources 0..first+count-1 (residual on the diagonal);
    ``by_sources``: the layer's ``by_source`` (built when None).

    ||y_i - z'_ij||_1 for every pair, sources in chunks: one batched product per chunk builds
    z'_ij - y_i for every row at once into a buffer that is reused (a fresh one per block cost more
    in page faults than the arithmetic), and its L1 norm is read in the same cache-sized pass.
    With a post-norm, z'_ij = sum_h (a_hij r_i) (u_hj w): the row's scale joins the weights.
    """
    sources = first + count
    u = by_sources if by_sources is not None else by_source(parts, layer, sources)
    a = parts.attention_weights(layer, first, count)  # (H, r, S)
    rows = torch.arange(first, sources)
    if parts.norm_gain[layer - 1] is not None:
        a = a * parts.norm_scale[layer - 1, rows - parts.row_offset][None, :, None]
    by_pair = a.permute(2, 1, 0).contiguous()  # (S, r, H): one (r x H) factor per source
    residual = parts.hidden[layer - 1, first - parts.row_offset : sources - parts.row_offset].float()
    mid = residual + parts.attention_update(layer, first, count)
    width = int(mid.shape[-1])
    negative = (-mid)[None].expand(SOURCE_CHUNK, count, width)
    buffer = torch.empty((min(SOURCE_CHUNK, sources), count, width), dtype=torch.float32, device=mid.device)
    distance = torch.empty((sources, count), dtype=torch.float32, device=mid.device)
    for start in range(0, sources, SOURCE_CHUNK):
        end = min(sources, start + SOURCE_CHUNK)
        out = buffer[: end - start]
        torch.baddbmm(negative[: end - start], by_pair[start:end], u[start:end], out=out)  # z'_ij - y_i
        torch.linalg.vector_norm(out, ord=1, dim=-1, out=distance[start:end])
    # T_i(x_i) = z'_ii + x_i: the diagonal again, with the residual.
    own = torch.einsum("rh,rhd->rd", by_pair[rows, torch.arange(count)], u[rows]) + residual - mid
    distance[rows, torch.arange(count)] = own.abs().sum(-1)
    total = torch.linalg.vector_norm(mid, ord=1, dim=-1)
    proximity = (total[None] - distance).clamp_min_(0).T  # ALTI's max(0, ||y||_1 - ||y - z||_1)
    # A source the row does not see has z = 0 and proximity 0, which rounding must not make 1e-7.
    seen = (a > 0).any(0)
    seen[torch.arange(count), rows] = True
    return normalised(proximity.masked_fill_(~seen, 0.0))


def alti_row(parts: Contributions, target: int, progress: ReportProgress = ignore_progress) -> torch.Tensor:
    """Row ``target`` of c^L ... c^1 over sources 0..target: r <- r c^l from the last layer down,
    building only the rows of c^l whose weight in r is not zero, ``ROWS_AT_ONCE`` at a time."""
    vector = torch.zeros(target + 1, dtype=torch.float64)
    vector[target] = 1.0
    # The pass is about one layer's share of the rows' work at 512 tokens and less beyond.
    for layer in range(parts.layers, 0, -1):
        cancellation.check()
        done = parts.layers - layer
        progress(0.05 + 0.95 * done / parts.layers, f"layer {layer} of {parts.layers}: {target + 1:,} rows")
        mixed = torch.zeros_like(vector)
        live = torch.nonzero(vector).flatten().tolist()
        if not live:
            break
        u = by_source(parts, layer, live[-1] + 1)
        start = live[0]
        while start <= live[-1]:
            cancellation.check()
            count = min(ROWS_AT_ONCE, live[-1] + 1 - start)
            rows = alti_matrix_rows(parts, layer, start, count, u).double()  # (count, start + count)
            mixed[: start + count] += vector[start : start + count] @ rows
            start += count
        vector = mixed
    return vector.float()
