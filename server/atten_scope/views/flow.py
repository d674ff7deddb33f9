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
from atten_scope.engine.analysis import Analysis
from atten_scope.engine.contributions import (
    ROW_BLOCK_BYTES,
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


def alti_rollout(analysis: Analysis, token: int, model: Any = None) -> tuple[np.ndarray, int]:
    """The ALTI rollout row of ``token`` over all document tokens (summing to 1), and the tokens
    recomputed; ``model``: as ``window_parts``."""
    analysis.check_token(token)
    before = analysis.owner(token)[1]  # the tokens of its window before it
    if before + 1 > ALTI_TOKENS:
        raise InvalidRequest(
            f"The ALTI rollout covers at most {ALTI_TOKENS} tokens of context, the token included, and this token "
            f"has {before:,} before it in its window (the cost grows with their square): use it nearer the start "
            f"of the file, or set attenScope.maxTokens to {ALTI_TOKENS} or less."
        )
    parts, target = window_parts(analysis, token, model)
    row = alti_row(parts, target)
    out = np.zeros(analysis.token_count, dtype=np.float64)
    out[parts.start : parts.start + target + 1] = row.double().numpy()
    return out, parts.n


def by_source(parts: Contributions, layer: int, sources: int) -> torch.Tensor:
    """u_hj of ``layer`` for j < sources laid out by source, (S, H, D) float32: what ``alti_matrix_rows``
    multiplies (the layer's (H, S, D) copy is dropped)."""
    u = parts.projected_values(layer, sources).transpose(0, 1).contiguous()
    parts._projected.clear()
    return u


def alti_matrix_rows(
    parts: Contributions, layer: int, first: int, count: int, by_sources: torch.Tensor | None = None
) -> torch.Tensor:
    """c^l rows first..first+count-1 over sources 0..first+count-1 (residual on the diagonal);
    ``by_sources``: the layer's ``by_source`` (built when None)."""
    sources = first + count
    u = by_sources if by_sources is not None else by_source(parts, layer, sources)
    a = parts.attention_weights(layer, first, count)  # (H, r, S)
    # One (r x H)(H x D) product per source j: every row's term from j at once, (S, r, D). Laid out
    # by source, a batched product of H-wide factors runs 1.5 times faster than einsum's contraction.
    terms = torch.bmm(a.permute(2, 1, 0), u[:sources])
    rows = torch.arange(first, sources)
    gain = parts.norm_gain[layer - 1]
    if gain is not None:
        terms.mul_(parts.norm_scale[layer - 1, rows - parts.row_offset][:, None] * gain)
    residual = parts.hidden[layer - 1, first - parts.row_offset : sources - parts.row_offset].float()
    mid = residual + parts.attention_update(layer, first, count)
    terms[rows, torch.arange(count)] += residual  # T_i(x_i) = z'_ii + x_i
    distance = terms.sub_(mid[None]).abs_().sum(-1)  # (S, r): ||y_i - T_i(x_j)||_1
    proximity = (mid.abs().sum(-1)[None] - distance).clamp_min_(0)  # ALTI's max(0, ||y||_1 - ||y - z||_1)
    return normalised(proximity.T)


def alti_row(parts: Contributions, target: int) -> torch.Tensor:
    """Row ``target`` of c^L ... c^1 over sources 0..target: r <- r c^l from the last layer down,
    building only the rows of c^l whose weight in r is not zero, in blocks of bounded size."""
    width = int(parts.hidden.shape[-1])
    vector = torch.zeros(target + 1, dtype=torch.float64)
    vector[target] = 1.0
    for layer in range(parts.layers, 0, -1):
        cancellation.check()
        mixed = torch.zeros_like(vector)
        live = torch.nonzero(vector).flatten().tolist()
        if not live:
            break
        u = by_source(parts, layer, live[-1] + 1)
        start = live[0]
        while start <= live[-1]:
            cancellation.check()
            block = max(1, min(64, ROW_BLOCK_BYTES // max(1, 4 * width * (start + 1))))
            count = min(block, live[-1] + 1 - start)
            rows = alti_matrix_rows(parts, layer, start, count, u).double()  # (count, start + count)
            mixed[: start + count] += vector[start : start + count] @ rows
            start += count
        vector = mixed
    return vector.float()
