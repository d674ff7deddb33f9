"""The answers that run the model again over the text up to a token: information flow and ALTI rollout."""

from __future__ import annotations

import time
from typing import Any

from atten_scope.protocol.encode import context_json, targets_and_lines, token_json
from atten_scope.protocol.params import AltiRolloutParams, FlowParams
from atten_scope.protocol.request import ViewRequest, builds
from atten_scope.views.attention import drop_sinks
from atten_scope.views.evidence import method_faithfulness
from atten_scope.views.flow import alti_rollout, flow_graph


def _torch_model(request: ViewRequest[Any]) -> Any:
    """The loaded model's torch module when the caller holds it (the server); else the analysis' own is used."""
    return request.model.model if request.model is not None else None


@builds("flow", FlowParams)
def flow_result(request: ViewRequest[FlowParams]) -> dict[str, Any]:
    """``flow.flow_graph`` of the token at ``position`` (docs/PROTOCOL.md)."""
    began = time.perf_counter()
    analysis, params = request.analysis, request.params
    token = request.token(params.position)
    threshold, max_nodes = params.threshold, params.max_nodes
    graph = flow_graph(analysis, token, threshold, max_nodes, model=_torch_model(request))
    nodes = list(graph.nodes.values())
    return {
        "version": request.version,
        "token": token_json(analysis, token),
        "layers": graph.layers,
        "threshold": threshold,
        "maxNodes": max_nodes,
        "nodes": [{"id": n.id, "token": n.token, "layer": n.layer, "stage": n.stage} for n in nodes],
        "edges": [
            {
                "source": e.source,
                "target": e.target,
                "kind": e.kind,
                "weight": round(e.weight, 6),
                "heads": [[h, share] for h, share in e.heads],
            }
            for e in graph.edges
        ],
        "tokens": [token_json(analysis, t) for t in sorted({n.token for n in nodes})],
        "truncated": graph.truncated,
        "recomputedTokens": graph.recomputed,
        "elapsedMs": round((time.perf_counter() - began) * 1000, 1),
    }


@builds("altiRollout", AltiRolloutParams)
def alti_rollout_result(request: ViewRequest[AltiRolloutParams]) -> dict[str, Any]:
    """``flow.alti_rollout`` of the token at ``position``, in the shape of the attention view's answer."""
    began = time.perf_counter()
    analysis, params = request.analysis, request.params
    token = request.token(params.position)
    weights, recomputed = alti_rollout(analysis, token, model=_torch_model(request), progress=request.progress)
    drop_sink = params.drop_sink
    if drop_sink:
        weights = drop_sinks(weights, analysis.sinks(analysis.owner(token)[0]))
    targets, lines = targets_and_lines(analysis, weights, params.top_k)
    return {
        "version": request.version,
        "token": token_json(analysis, token),
        "targets": targets,
        "lines": lines,
        **context_json(analysis, weights, params.top_k),
        "dropSink": drop_sink,
        "faithfulness": method_faithfulness(analysis.info.id, "altiRollout", drop_sink, language=request.language),
        "recomputedTokens": recomputed,
        "elapsedMs": round((time.perf_counter() - began) * 1000, 1),
    }
