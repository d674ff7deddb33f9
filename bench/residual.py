"""Residual-aware token attributions for a pre-norm decoder (Llama family), for the faithfulness benchmark.

These are measured against the engine's views before any of them is offered to users. They are
built from a hooked eager forward pass, which holds layers x heads x n x n weights: fine for
benchmark snippets of a few hundred tokens, not for the editor.

A pre-norm decoder layer l maps its input h (rows h_i) to
    y_i = h_i + o_i,   o_i = sum_j Z_ij,   Z_ij = sum_h a^h_ij v^h_j W_O^h
    out_i = y_i + MLP(LN(y_i))
so T_i(x_j) = Z_ij + [i = j] h_i is source j's share of the post-attention residual y_i. Per layer:

- ``normSum`` (Kobayashi et al. 2020, whole layer): ||Z_ij||_2, no residual.
- ``globenc`` (Modarressi et al. 2022, arXiv 2205.03286): ||T_i(x_j)||_2. GlobEnc's second
  LayerNorm is not on the residual path of a pre-norm model, so none is applied.
- ``alti`` (Ferrando et al. 2022, arXiv 2203.04212): max(0, ||y_i||_1 - ||y_i - T_i(x_j)||_1).
- ``valueZeroing`` (Mohebbi et al. 2023, arXiv 2301.12971): zero source j's values in layer l and
  take the cosine distance 1 - cos(out_i, out_i^{-j}), with y_i^{-j} = y_i - Z_ij. Row i only: the
  full matrix needs n^2 MLP evaluations per layer, so it is not rolled out here.

Each row is normalised to sum to 1. Aggregates: ``layerMean`` (mean of the rows over layers),
``lastLayers`` (mean over the last half, as the engine's aggregate) and ``rollout`` (the row of
C_L ... C_1; the residual is inside C, so no 0.5 I is added).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from atten_scope.engine.architecture import output_projection
from atten_scope.engine.hooks import hooked

LAYER_METHODS = ("normSum", "globenc", "alti")
ROW_METHODS = ("valueZeroing",)
AGGREGATES = ("layerMean", "lastLayers", "rollout")


@dataclass
class LayerState:
    hidden: torch.Tensor  # (n, d) layer input h
    attention: torch.Tensor  # (H, n, n)
    values: torch.Tensor  # (H, n, d_model): v^h_j W_O^h
    mixed: torch.Tensor  # (n, d) attention block output o
    output: torch.Tensor  # (n, d) layer output


def layer_states(loaded: Any, ids: list[int]) -> tuple[list[LayerState], list[Any]]:
    """One eager forward pass over ``ids`` with hooks: every decoder layer's state and the layer modules."""
    model = loaded.model
    layers = list(model.model.layers)
    store: dict[int, dict[str, torch.Tensor]] = {i: {} for i in range(len(layers))}

    def keep(index: int, name: str, pick: Any) -> Any:
        def hook(_module: Any, args: Any, *rest: Any) -> None:
            store[index][name] = pick(args, *rest)

        return hook

    with hooked() as hooks:
        for index, layer in enumerate(layers):
            hooks.pre(
                layer,
                keep(index, "hidden", lambda args, kwargs: (args[0] if args else kwargs["hidden_states"])[0]),
                with_kwargs=True,
            )
            hooks.forward(layer, keep(index, "output", lambda _a, out: (out[0] if isinstance(out, tuple) else out)[0]))
            hooks.forward(layer.self_attn, keep(index, "attn", lambda _a, out: out))
            hooks.forward(layer.self_attn.v_proj, keep(index, "v", lambda _a, out: out[0]))
        previous = model.config._attn_implementation
        try:
            model.set_attn_implementation("eager")
            with torch.inference_mode():
                model(
                    input_ids=torch.tensor([ids], device=loaded.device),
                    output_attentions=True,
                    use_cache=False,
                    logits_to_keep=1,
                )
        finally:
            model.set_attn_implementation(previous)
    states = []
    config = model.config
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    for index, layer in enumerate(layers):
        saved = store[index]
        mixed, attention = saved["attn"][0][0], saved["attn"][1][0]
        v = saved["v"].reshape(len(ids), -1, head_dim).transpose(0, 1)  # (KV, n, dh)
        v = v.repeat_interleave(heads // v.shape[0], dim=0).float()
        w_o = output_projection(layer.self_attn, heads, head_dim).float()  # (H, dh, d)
        states.append(
            LayerState(
                hidden=saved["hidden"].float(),
                attention=attention.float(),
                values=torch.einsum("hnk,hkd->hnd", v, w_o),
                mixed=mixed.float(),
                output=saved["output"].float(),
            )
        )
    return states, layers


def _normalise(rows: torch.Tensor) -> torch.Tensor:
    rows = rows.clamp_min(0)
    return rows / rows.sum(-1, keepdim=True).clamp_min(1e-30)


def layer_matrices(state: LayerState, method: str) -> torch.Tensor:
    """Row-stochastic (n, n) contribution matrix of one layer for ``method`` in LAYER_METHODS."""
    parts = torch.einsum("hij,hjd->ijd", state.attention, state.values)  # Z: (n, n, d)
    if not torch.allclose(parts.sum(1), state.mixed, atol=1e-3, rtol=1e-3):
        raise RuntimeError("per-source parts do not add up to the attention output: unsupported layer layout")
    if method == "normSum":
        return _normalise(parts.norm(dim=-1))
    n = parts.shape[0]
    diagonal = torch.arange(n, device=parts.device)
    parts[diagonal, diagonal] += state.hidden
    if method == "globenc":
        return _normalise(parts.norm(dim=-1))
    if method == "alti":
        post = state.hidden + state.mixed  # y
        distance = (post[:, None, :] - parts).abs().sum(-1)
        return _normalise(post.abs().sum(-1)[:, None] - distance)
    raise ValueError(method)


def value_zeroing_row(state: LayerState, layer: Any, row: int) -> torch.Tensor:
    """Value-zeroing scores of ``row``'s sources in one layer: (row + 1,), normalised."""
    parts = torch.einsum("hj,hjd->jd", state.attention[:, row, : row + 1], state.values[:, : row + 1])
    post = state.hidden[row] + state.mixed[row]
    zeroed = post[None] - parts  # y_i^{-j}
    with torch.inference_mode():
        out = zeroed + layer.mlp(layer.post_attention_layernorm(zeroed))
    distance = 1 - torch.nn.functional.cosine_similarity(out, state.output[row][None], dim=-1)
    return _normalise(distance)


def _aggregate(rows: list[torch.Tensor], aggregate: str) -> torch.Tensor:
    stacked = torch.stack(rows)
    if aggregate == "layerMean":
        return stacked.mean(0)
    half = max(1, len(rows) // 2)
    return stacked[-half:].mean(0)


def attributions(loaded: Any, ids: list[int], row: int) -> dict[str, torch.Tensor]:
    """Every method x aggregate's weights over sources 0..row of token ``row``: name -> (row + 1,)."""
    states, layers = layer_states(loaded, ids)
    out: dict[str, torch.Tensor] = {}
    for method in LAYER_METHODS:
        matrices = [layer_matrices(state, method)[: row + 1, : row + 1] for state in states]
        for aggregate in ("layerMean", "lastLayers"):
            out[f"{method} / {aggregate}"] = _aggregate([m[row] for m in matrices], aggregate)
        vector = torch.zeros(row + 1, dtype=torch.float64, device=matrices[0].device)
        vector[row] = 1.0
        for matrix in reversed(matrices):
            vector = vector @ matrix.double()
        out[f"{method} / rollout"] = vector.float()
    zeroing = [value_zeroing_row(state, layer, row) for state, layer in zip(states, layers, strict=True)]
    for aggregate in ("layerMean", "lastLayers"):
        out[f"valueZeroing / {aggregate}"] = _aggregate(zeroing, aggregate)
    return out


def method_names() -> list[str]:
    names = [f"{m} / {a}" for m in LAYER_METHODS for a in AGGREGATES]
    return names + [f"{m} / {a}" for m in ROW_METHODS for a in ("layerMean", "lastLayers")]
