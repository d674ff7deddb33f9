"""The information-flow graph and the ALTI rollout on tiny models: the graph's invariants, the
importances behind its edges, the rollout against dense matrix products, and the request checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.analysis import Analysis, run_analysis
from atten_scope.engine.contributions import Contributions, importance, normalised
from atten_scope.engine.model import LoadedModel, model_info
from atten_scope.engine.recorder import install_capture_attention
from atten_scope.protocol.builders import view_result
from atten_scope.views import flow
from atten_scope.views.flow import alti_matrix_rows, alti_rollout, alti_row, flow_graph, window_parts
from tests.conftest import build_tiny
from tests.engine.test_contributions import tiny_gemma3
from tests.unit.test_neuron import TEXT, CharTokenizer


def tiny_analysis(name: str, max_tokens: int = 48) -> Analysis:
    model = tiny_gemma3() if name == "gemma3" else build_tiny(name)
    install_capture_attention(model)
    loaded = LoadedModel(
        info=model_info(name, model), model=model, tokenizer=CharTokenizer(), device=torch.device("cpu")
    )
    return run_analysis(loaded, TEXT, max_tokens)


@pytest.fixture(scope="module", params=["llama-gqa", "gemma3"])
def analysis(request: Any) -> Analysis:
    analysis = tiny_analysis(request.param)
    assert len(analysis.windows) >= 2  # tokens late in the file are owned by a later window
    return analysis


def position(analysis: Analysis, token: int) -> dict[str, int]:
    start = analysis.document.starts[token]
    line = int(analysis.token_lines[token])
    return {"line": line, "character": start - analysis.lines.offset(line, 0)}


@pytest.mark.parametrize(("threshold", "max_nodes"), [(0.04, 60), (0.01, 12), (0.2, 300)])
def test_graph_invariants(analysis: Analysis, threshold: float, max_nodes: int) -> None:
    token = analysis.token_count - 3
    params = {"position": position(analysis, token), "threshold": threshold, "maxNodes": max_nodes}
    result = view_result("flow", analysis, params, version=4)
    layers = analysis.info.layers
    assert result["token"]["index"] == token and result["layers"] == layers and result["version"] == 4
    nodes = {n["id"]: n for n in result["nodes"]}
    assert len(nodes) == len(result["nodes"]) <= max_nodes
    assert f"resid:{layers}:{token}" in nodes
    win, local = analysis.owner(token)
    assert result["recomputedTokens"] == local + 1
    for node in nodes.values():
        assert node["id"] == f"{node['stage']}:{node['layer']}:{node['token']}"
        assert win.start <= node["token"] <= token and 0 <= node["layer"] <= layers
        assert node["stage"] == "resid" or node["layer"] >= 1
    assert {t["index"] for t in result["tokens"]} == {n["token"] for n in nodes.values()}
    kinds = {("resid", "mid"): {"attention", "residual"}, ("mid", "mlp"): {"mlp"}, ("mlp", "resid"): {"mlp"}}
    kinds[("mid", "resid")] = {"residual"}
    for edge in result["edges"]:
        source, target = nodes[edge["source"]], nodes[edge["target"]]
        assert threshold <= edge["weight"] <= 1.0
        assert edge["kind"] in kinds[(source["stage"], target["stage"])]
        same_layer = source["stage"] != "resid"
        assert source["layer"] == target["layer"] - (0 if same_layer else 1)
        if edge["kind"] == "attention":
            assert source["token"] <= target["token"]
            assert 1 <= len(edge["heads"]) <= 3
            assert all(0 <= h < analysis.info.heads and 0 < share <= 1 for h, share in edge["heads"])
            assert [s for _, s in edge["heads"]] == sorted((s for _, s in edge["heads"]), reverse=True)
        else:
            assert source["token"] == target["token"] and edge["heads"] == []
    # every node but the target feeds something
    fed = {e["source"] for e in result["edges"]}
    assert set(nodes) - fed == {f"resid:{layers}:{token}"}
    if len(nodes) < max_nodes:
        assert result["truncated"] is False


def test_a_tiny_threshold_keeps_every_contribution_of_the_target(analysis: Analysis) -> None:
    token = analysis.token_count - 1
    graph = flow_graph(analysis, token, 1e-9, 300)
    layers = analysis.info.layers
    into = [e for e in graph.edges if e.target == f"resid:{layers}:{token}"]
    assert sum(e.weight for e in into) == pytest.approx(1.0, abs=1e-5)
    mid = [e for e in graph.edges if e.target == f"mid:{layers}:{token}"]
    assert sum(e.weight for e in mid) == pytest.approx(1.0, abs=1e-5)
    assert len({(e.source, e.kind) for e in mid}) == len(mid)  # one edge per contribution
    assert not graph.truncated and len(graph.nodes) < 300
    small = flow_graph(analysis, token, 1e-9, 5)
    assert small.truncated and len(small.nodes) == 5


def test_alti_rollout_is_the_product_of_the_layer_matrices(analysis: Analysis) -> None:
    token = analysis.token_count - 2
    parts, target = window_parts(analysis, token)
    dense = torch.eye(target + 1, dtype=torch.float64)
    for layer in range(1, parts.layers + 1):
        c = alti_matrix_rows(parts, layer, 0, target + 1).double()
        assert torch.allclose(c.sum(-1), torch.ones(target + 1, dtype=torch.float64), atol=1e-5)
        assert bool((c.triu(1) == 0).all()) and bool((c >= 0).all())
        dense = c @ dense  # C = c^L ... c^1: the last layer leftmost
    expected = dense[target]
    assert torch.allclose(alti_row(parts, target).double(), expected, atol=1e-5)
    weights, recomputed = alti_rollout(analysis, token)
    win = analysis.owner(token)[0]
    assert recomputed == target + 1
    assert weights.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(weights[win.start : token + 1], expected.numpy(), atol=1e-5)
    assert not weights[: win.start].any() and not weights[token + 1 :].any()


def test_alti_refuses_beyond_its_cap(analysis: Analysis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flow, "ALTI_TOKENS", 4)
    with pytest.raises(InvalidRequest, match="at most 4 tokens"):
        view_result("altiRollout", analysis, {"position": position(analysis, 20)})
    result = view_result("altiRollout", analysis, {"position": position(analysis, 2), "topK": 2})
    assert [t["index"] for t in result["targets"]] and len(result["targets"]) <= 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"threshold": 0}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"maxNodes": 4}, "maxNodes"),
        ({"maxNodes": True}, "maxNodes"),
    ],
)
def test_bad_flow_params(analysis: Analysis, params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        view_result("flow", analysis, {"position": position(analysis, 5), **params})


def reference_graph(parts: Contributions, target: int, threshold: float, max_nodes: int) -> flow.FlowGraph:
    """The flow graph grown from the parts of one pass over the whole window (every row's states and
    every head's terms built), as the view computed it before it ran only the rows it reaches."""
    offset, layers = parts.start, parts.layers
    graph = flow.FlowGraph(offset + target, layers, threshold, max_nodes, recomputed=parts.n)
    graph.add("resid", layers, offset + target)
    frontier = [target]
    for layer in range(layers, 0, -1):
        mids = []
        for i in frontier:
            mid = parts.state(layer - 1, i) + parts.attention_update(layer, i, 1)[0]
            share = normalised(importance(torch.stack([mid, parts.mlp_output(layer, i)]), parts.state(layer, i)))
            here, reached = f"resid:{layer}:{offset + i}", False
            if float(share[1]) >= threshold and graph.link(
                ("mlp", layer, offset + i), here, "mlp", float(share[1]), []
            ):
                reached = graph.link(
                    ("mid", layer, offset + i), f"mlp:{layer}:{offset + i}", "mlp", float(share[1]), []
                )
            if float(share[0]) >= threshold:
                reached = graph.link(("mid", layer, offset + i), here, "residual", float(share[0]), []) or reached
            if reached:
                mids.append(i)
        following: set[int] = set()
        for i in mids:
            heads = parts.head_terms(layer, i)
            sources = heads.sum(dim=0)
            residual = parts.state(layer - 1, i)
            mid = residual + sources.sum(dim=0) + parts.bias_term(layer, i, 1)[0]
            shares = normalised(importance(torch.cat([sources, residual[None]]), mid))
            here = f"mid:{layer}:{offset + i}"
            if float(shares[-1]) >= threshold and graph.link(
                ("resid", layer - 1, offset + i), here, "residual", float(shares[-1]), []
            ):
                following.add(i)
            kept = [(float(shares[j]), j) for j in range(i + 1) if float(shares[j]) >= threshold]
            for weight, j in sorted(kept, key=lambda c: (-c[0], c[1])):
                named = flow._head_shares(heads[:, j], sources[j])
                if graph.link(("resid", layer - 1, offset + j), here, "attention", weight, named):
                    following.add(j)
        frontier = sorted(following)
        if not frontier:
            break
    return graph


@pytest.mark.parametrize("name", ["llama-gqa", "gemma3"])
def test_the_graph_equals_the_one_grown_from_the_whole_pass_on_a_long_input(name: str) -> None:
    """Windows of 160 tokens over 400 (the tokens deep in a later one), thresholds that keep tens of
    rows; the same nodes, the same edges, weights and heads within float rounding."""
    text = (TEXT * 6)[:400]
    model = tiny_gemma3() if name == "gemma3" else build_tiny(name)
    install_capture_attention(model)
    loaded = LoadedModel(
        info=model_info(name, model), model=model, tokenizer=CharTokenizer(), device=torch.device("cpu")
    )
    analysis = run_analysis(loaded, text, 160)
    assert len(analysis.windows) >= 2
    later = [t for t in range(analysis.token_count) if analysis.owner(t)[0].start > 0 and analysis.owner(t)[1] > 100]
    for token in (later[0], later[-1]):
        parts, target = window_parts(analysis, token)
        for threshold, max_nodes in ((0.004, 300), (0.01, 40)):
            got = flow_graph(analysis, token, threshold, max_nodes)
            expected = reference_graph(parts, target, threshold, max_nodes)
            assert got.nodes == expected.nodes and got.truncated == expected.truncated
            if threshold < 0.01:  # a graph over many rows, not just the token's own stream
                assert len(got.nodes) >= 30 and len({n.token for n in got.nodes.values()}) > 5
            assert [(e.source, e.target, e.kind) for e in got.edges] == [
                (e.source, e.target, e.kind) for e in expected.edges
            ]
            for mine, theirs in zip(got.edges, expected.edges, strict=True):
                assert mine.weight == pytest.approx(theirs.weight, abs=1e-4)
                assert [h for h, _ in mine.heads] == [h for h, _ in theirs.heads]
                assert [s for _, s in mine.heads] == pytest.approx([s for _, s in theirs.heads], abs=1e-3)


def reference_alti_rows(parts: Contributions, layer: int, first: int, count: int) -> torch.Tensor:
    """c^l rows from every head's terms (``head_terms``) of each row: ALTI's proximity by definition."""
    out = torch.zeros((count, first + count), dtype=torch.float64)
    for row in range(first, first + count):
        terms = parts.head_terms(layer, row).sum(0)  # (row + 1, D)
        residual = parts.state(layer - 1, row)
        mid = residual + terms.sum(0) + parts.bias_term(layer, row, 1)[0]
        terms[row] += residual
        out[row - first, : row + 1] = normalised(importance(terms, mid)).double()
    return out


@pytest.mark.parametrize("name", ["llama-gqa", "gemma3"])
def test_the_rollout_equals_the_product_of_rows_built_by_definition_on_a_long_input(name: str) -> None:
    text = (TEXT * 6)[:400]
    model = tiny_gemma3() if name == "gemma3" else build_tiny(name)
    install_capture_attention(model)
    info = model_info(name, model)
    loaded = LoadedModel(info=info, model=model, tokenizer=CharTokenizer(), device=torch.device("cpu"))
    analysis = run_analysis(loaded, text, 160)
    token = analysis.token_count - 1
    win, local = analysis.owner(token)
    assert win.start > 0 and local > 100
    parts, target = window_parts(analysis, token)
    dense = torch.eye(target + 1, dtype=torch.float64)
    for layer in range(1, parts.layers + 1):
        expected = reference_alti_rows(parts, layer, 0, target + 1)
        # Summed in another order (by source, not by row): equal up to float32 rounding.
        assert torch.allclose(alti_matrix_rows(parts, layer, 0, target + 1).double(), expected, atol=1e-4)
        assert torch.allclose(alti_matrix_rows(parts, layer, 50, 17).double(), expected[50:67, :67], atol=1e-4)
        dense = expected @ dense
    weights, recomputed = alti_rollout(analysis, token)
    assert recomputed == target + 1
    assert np.allclose(weights[win.start : token + 1], dense[target].numpy(), atol=1e-4)
    assert weights[win.start : token + 1].max() > 0.05  # not a flat row that any method would match


def test_the_rollout_reports_its_progress_layer_by_layer(analysis: Analysis) -> None:
    steps: list[tuple[float | None, str]] = []
    alti_rollout(
        analysis, analysis.token_count - 1, progress=lambda fraction, message: steps.append((fraction, message))
    )
    fractions = [f for f, _ in steps]
    assert len(steps) == analysis.info.layers + 1 and fractions == sorted(fractions) and fractions[0] == 0.0
    assert all(f is not None and f < 1.0 for f in fractions)
    assert "running the model over" in steps[0][1] and steps[1][1].startswith(f"layer {analysis.info.layers} of ")
