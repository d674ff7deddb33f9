"""Each decoder layer's update split into the contributions of source tokens, heads, the residual
and the MLP, from one hooked forward pass over a window's tokens up to a target.

For layer l with input rows x_i (the residual stream after layer l - 1; x = the embeddings for
l = 1), attention weights a^h_ij of head h (KV group g(h)), values v_j, output projection W_O^h
and bias b_O, the attention block's output at token i is

    o_i = sum_h sum_j z_ijh + b_O,    z_ijh = a^h_ij v^g(h)_j W_O^h.

A model with sandwich norms (Gemma 2/3, OLMo 2) adds N(o_i) rather than o_i, N an RMSNorm with
gain w: N(o) = o / rms(o) * w. A norm applied to a sum is linearised by fixing its real scale
r_i = 1 / sqrt(mean(o_i^2) + eps) at that token: N(o_i) = sum_jh z_ijh r_i w + b_O r_i w, which
is exact, so the parts still add up. The states after attention and after the layer are

    mid_i = x_i + sum_jh z'_ijh + b'_i      (z' = z r_i w with a post-norm, z without)
    y_i = mid_i + m_i                       (m_i: the MLP block's output, after its post-norm)

Importance (ALTI, Ferrando et al. 2022) of a contribution z to the total y it is part of:
imp(z, y) = max(0, ||y||_1 - ||y - z||_1), normalised over the contributions to y.

The pass records q, k, v through the capturing attention function (``recorder.recording``) and
the residual states with forward hooks of this pass only (``hooks.hooked``: another thread's pass
over the shared model leaves them alone, and they are always removed); states stay in the
model's dtype, the sums are taken in float32. After the pass the target's row is rebuilt from its parts
and compared with the model's own: an architecture whose layers do something else fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from atten_scope.engine.architecture import (
    LayerModules,
    UnsupportedArchitecture,
    decoder_layers,
    norm_epsilon,
    output_bias,
    output_projection,
)
from atten_scope.engine.families import Family, family_of
from atten_scope.engine.hooks import Hooks, hooked
from atten_scope.engine.recorder import Recorder, recording

ROW_BLOCK_BYTES = 64 << 20  # float32 bytes of (rows x sources x hidden) contributions built at once


@dataclass
class Contributions:
    """The parts of every layer's update for tokens [start, start + n) of a document.

    ``hidden[0]`` is the embedding (the first layer's input), ``hidden[l]`` the output of layer l;
    layer indices of the other fields are 0-based (field[l - 1] belongs to layer l).
    """

    start: int
    hidden: torch.Tensor  # (L + 1, n, D) model dtype
    mlp: torch.Tensor  # (L, n, D) m_i
    query: torch.Tensor  # (L, H, n, d) post-RoPE
    key: torch.Tensor  # (L, KV, n, d)
    value: torch.Tensor  # (L, KV, n, dv)
    scale: list[float]
    sliding_window: list[int | None]
    projection: list[torch.Tensor]  # (H, dv, D) W_O^h per layer
    bias: list[torch.Tensor | None]  # (D,) b_O per layer
    norm_scale: torch.Tensor  # (L, n) float32 r_i (1 without a post-norm)
    norm_gain: list[torch.Tensor | None]  # (D,) float32 w of the post-attention norm
    _projected: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)

    @property
    def layers(self) -> int:
        return int(self.mlp.shape[0])

    @property
    def n(self) -> int:
        return int(self.hidden.shape[1])

    @property
    def heads(self) -> int:
        return int(self.query.shape[1])

    def attention_weights(self, layer: int, first: int, count: int) -> torch.Tensor:
        """a^h_ij of layer ``layer`` (1-based) for rows first..first+count-1: (H, count, first+count) float32."""
        index = layer - 1
        sources = first + count
        heads, kv_heads = self.heads, int(self.key.shape[1])
        q = self.query[index, :, first:sources].float()  # (H, r, d)
        k = self.key[index, :, :sources].float().repeat_interleave(heads // kv_heads, dim=0)  # (H, S, d)
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale[index]
        rows = torch.arange(first, sources, device=q.device)[:, None]
        cols = torch.arange(sources, device=q.device)[None, :]
        allowed = cols <= rows
        window = self.sliding_window[index]
        if window:
            allowed &= cols > rows - window
        return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)

    def projected_values(self, layer: int, sources: int) -> torch.Tensor:
        """u_hj = v^g(h)_j W_O^h for j < sources: (H, sources, D) float32, cached per layer."""
        cached = self._projected.get(layer)
        if cached is not None and cached.shape[1] >= sources:
            return cached[:, :sources]
        index = layer - 1
        heads, kv_heads = self.heads, int(self.key.shape[1])
        v = self.value[index, :, :sources].float().repeat_interleave(heads // kv_heads, dim=0)  # (H, S, dv)
        projected = torch.matmul(v, self.projection[index].float())
        self._projected = {layer: projected}  # one layer at a time: H x n x D floats
        return projected

    def _post_norm(self, layer: int, rows: torch.Tensor, terms: torch.Tensor) -> torch.Tensor:
        """``terms`` (r, ..., D) of rows ``rows`` through the post-attention norm linearised at each row."""
        gain = self.norm_gain[layer - 1]
        if gain is None:
            return terms
        scale = self.norm_scale[layer - 1, rows].reshape(-1, *([1] * (terms.dim() - 1)))
        return terms * scale * gain

    def head_terms(self, layer: int, row: int) -> torch.Tensor:
        """z'_ijh for token ``row`` (window index) of ``layer``: (H, row + 1, D) float32."""
        a = self.attention_weights(layer, row, 1)[:, 0]  # (H, S)
        terms = a[:, :, None] * self.projected_values(layer, row + 1)
        return self._post_norm(layer, torch.tensor([row]), terms[None])[0]

    def source_terms(self, layer: int, first: int, count: int) -> torch.Tensor:
        """z'_ij = sum_h z'_ijh for rows first..first+count-1: (count, first+count, D) float32."""
        a = self.attention_weights(layer, first, count)
        terms = torch.einsum("hrj,hjd->rjd", a, self.projected_values(layer, first + count))
        return self._post_norm(layer, torch.arange(first, first + count), terms)

    def bias_term(self, layer: int, first: int, count: int) -> torch.Tensor:
        """b'_i for rows first..: (count, D) float32 (zeros without an output bias)."""
        bias = self.bias[layer - 1]
        width = self.hidden.shape[-1]
        if bias is None:
            return torch.zeros((count, width), dtype=torch.float32, device=self.hidden.device)
        rows = torch.arange(first, first + count)
        return self._post_norm(layer, rows, bias.float().expand(count, width).clone())

    def attention_update(self, layer: int, first: int, count: int) -> torch.Tensor:
        """sum_jh z'_ijh + b'_i for rows first..: (count, D) float32, without building the terms.

        The weights are applied to the values before the projection, sum_h (a^h_i V^g(h)) W_O^h,
        so a row costs O(H S dv + H dv D) rather than the O(H S D) of its terms.
        """
        index = layer - 1
        heads, kv_heads = self.heads, int(self.key.shape[1])
        a = self.attention_weights(layer, first, count)  # (H, r, S)
        v = self.value[index, :, : first + count].float().repeat_interleave(heads // kv_heads, dim=0)
        mixed = torch.einsum("hrd,hde->re", torch.matmul(a, v), self.projection[index].float())
        rows = torch.arange(first, first + count)
        return self._post_norm(layer, rows, mixed) + self.bias_term(layer, first, count)

    def mid(self, layer: int, first: int, count: int) -> torch.Tensor:
        """mid_i (after the attention block of ``layer``) rebuilt from its parts: (count, D) float32."""
        return self.hidden[layer - 1, first : first + count].float() + self.attention_update(layer, first, count)


def importance(terms: torch.Tensor, total: torch.Tensor, consume: bool = False) -> torch.Tensor:
    """ALTI proximity max(0, ||y||_1 - ||y - z||_1) of each term z (..., k, D) to its total y (..., D).

    ``consume``: overwrite ``terms`` rather than allocate y - z; on (rows x sources x D) blocks the
    allocations, not the arithmetic, are most of the time (five times faster in place).
    """
    distance = terms.sub_(total[..., None, :]) if consume else terms - total[..., None, :]
    return (total.abs().sum(-1)[..., None] - distance.abs_().sum(-1)).clamp_min(0)


def normalised(values: torch.Tensor) -> torch.Tensor:
    """Rows of ``values`` divided by their sums (rows summing to 0 stay 0)."""
    totals = values.sum(-1, keepdim=True)
    return torch.where(totals > 0, values / torch.where(totals > 0, totals, torch.ones_like(totals)), 0.0)


def rms_gain(norm: Any, width: int, family: Family) -> tuple[torch.Tensor, float]:
    """The gain w and epsilon of an RMSNorm module: N(o) = o / sqrt(mean(o^2) + eps) * w.

    w is read off the module itself, N applied to a vector of ones (rms 1), so every RMSNorm
    variant (Gemma's 1 + weight, casts) gives its own gain.
    """
    eps = norm_epsilon(norm, family)
    if eps is None or getattr(norm, "bias", None) is not None:
        raise UnsupportedArchitecture(f"the post-norm {type(norm).__name__} is not an RMSNorm")
    weight = next(norm.parameters())
    ones = torch.ones(width, dtype=weight.dtype, device=weight.device)
    with torch.inference_mode():
        gain = norm(ones[None])[0].float() * (1.0 + eps) ** 0.5
    return gain, eps


def _first(value: Any) -> torch.Tensor:
    return value[0] if isinstance(value, tuple) else value


@dataclass
class _Store:
    hidden: torch.Tensor | None = None
    mlp: torch.Tensor | None = None
    scale: torch.Tensor | None = None
    delta_last: dict[int, torch.Tensor] = field(default_factory=dict)


def _register(
    hooks: Hooks,
    layers: list[LayerModules],
    store: _Store,
    family: Family,
    check: Callable[[], None] | None,
) -> None:
    """Register the hooks of this pass that fill ``store``."""
    count = len(layers)

    def ensure(like: torch.Tensor) -> None:
        if store.hidden is None:
            n, width = like.shape[1], like.shape[2]
            store.hidden = torch.empty((count + 1, n, width), dtype=like.dtype, device=like.device)
            store.mlp = torch.empty((count, n, width), dtype=like.dtype, device=like.device)
            store.scale = torch.ones((count, n), dtype=torch.float32, device=like.device)

    for index, parts in enumerate(layers):

        def before(_module: Any, args: Any, kwargs: Any, index: int = index) -> None:
            if check is not None:
                check()
            hidden = args[0] if args else kwargs["hidden_states"]
            ensure(hidden)
            assert store.hidden is not None
            store.hidden[index] = hidden[0]

        def after(_module: Any, _args: Any, output: Any, index: int = index) -> None:
            assert store.hidden is not None
            store.hidden[index + 1] = _first(output)[0]

        def mlp_out(_module: Any, _args: Any, output: Any, index: int = index) -> None:
            assert store.mlp is not None
            store.mlp[index] = _first(output)[0]

        def attention_out(
            _module: Any, args: Any, output: Any, index: int = index, norm: Any = parts.post_attention
        ) -> None:
            assert store.scale is not None
            if norm is not None:
                o = args[0][0].float()
                eps = norm_epsilon(norm, family) or 0.0
                store.scale[index] = torch.rsqrt(o.pow(2).mean(-1) + eps)
            store.delta_last[index] = _first(output)[0, -1].float().clone()

        hooks.pre(parts.layer, before, with_kwargs=True)
        hooks.forward(parts.layer, after)
        hooks.forward(parts.post_mlp or parts.mlp, mlp_out)
        hooks.forward(parts.post_attention or parts.attention, attention_out)


def contributions(
    model: Any, ids: list[int], start: int = 0, check_cancelled: Callable[[], None] | None = None
) -> Contributions:
    """One forward pass over ``ids`` (tokens start.. of a document) and every layer's parts.

    Raises ``UnsupportedArchitecture`` when the last token's attention update or layer output,
    rebuilt from the parts, differs from the model's own.
    """
    family = family_of(model)
    layers = decoder_layers(model)
    count = len(layers)
    device = next(model.parameters()).device
    store = _Store()
    recorder = Recorder(layer_count=count)
    with hooked() as hooks:
        _register(hooks, layers, store, family, check_cancelled)
        with torch.inference_mode(), recording(recorder):
            model(input_ids=torch.tensor([ids], dtype=torch.long, device=device), use_cache=False, logits_to_keep=1)
    if store.hidden is None or store.mlp is None or store.scale is None or recorder.query is None:
        raise UnsupportedArchitecture("the forward pass ran no decoder layer")
    assert recorder.key is not None and recorder.value is not None
    heads, head_dim = recorder.query.shape[1], recorder.value.shape[3]
    width = store.hidden.shape[-1]
    gains: list[torch.Tensor | None] = []
    for parts in layers:
        gains.append(rms_gain(parts.post_attention, width, family)[0] if parts.post_attention is not None else None)
    with torch.inference_mode():
        result = Contributions(
            start=start,
            hidden=store.hidden,
            mlp=store.mlp,
            query=recorder.query,
            key=recorder.key,
            value=recorder.value,
            scale=[recorder.scales[i] for i in range(count)],
            sliding_window=[recorder.windows[i] for i in range(count)],
            projection=[output_projection(p.attention, heads, head_dim, family) for p in layers],
            bias=[output_bias(p.attention, heads, head_dim, family) for p in layers],
            norm_scale=store.scale,
            norm_gain=gains,
        )
        _check_last_row(result, store.delta_last)
    return result


def _check_last_row(parts: Contributions, delta_last: dict[int, torch.Tensor]) -> None:
    """Rebuild the last token's attention update and layer output from the parts; refuse if they differ."""
    last = parts.n - 1
    tolerance = 1e-3 if parts.hidden.dtype == torch.float32 else 5e-2
    for layer in range(1, parts.layers + 1):
        mid = parts.mid(layer, last, 1)[0]
        delta = mid - parts.hidden[layer - 1, last].float()
        real = delta_last[layer - 1]
        output = mid + parts.mlp[layer - 1, last].float()
        real_output = parts.hidden[layer, last].float()
        for rebuilt, actual, what in ((delta, real, "attention update"), (output, real_output, "output")):
            error = float((rebuilt - actual).norm() / actual.norm().clamp_min(1e-6))
            if error > tolerance:
                raise UnsupportedArchitecture(
                    f"layer {layer}'s {what} does not decompose into token contributions "
                    f"(relative error {error:.2g}): this architecture is not supported by the flow views"
                )
