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

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from atten_scope.engine.architecture import (
    LayerModules,
    UnsupportedArchitecture,
    decoder_layers,
    layer_devices,
    norm_epsilon,
    output_bias,
    output_projection,
)
from atten_scope.engine.families import Family, family_of
from atten_scope.engine.hooks import Hooks, hooked
from atten_scope.engine.kv_cache import buffer_cache, fixed_cache
from atten_scope.engine.recorder import Recorder, recording

TERMS_BYTES = 48 << 20  # float32 bytes of the (sources x hidden) terms of rows built together
SOURCE_BLOCK = 512  # sources whose u (H x block x hidden) is built at once
PREFILL_CHUNK = 1024  # tokens a pass that only fills keys and values runs at once


@dataclass
class Contributions:
    """The parts of every layer's update for tokens [start, start + n) of a document.

    ``hidden[0]`` is the embedding (the first layer's input), ``hidden[l]`` the output of layer l;
    layer indices of the other fields are 0-based (field[l - 1] belongs to layer l). ``hidden``,
    ``mlp``, ``query`` and ``norm_scale`` hold the window's rows [row_offset, n) (all of them for a
    pass over the window, one for a row's own pass, ``RowContributions``); ``key`` and ``value``
    hold rows [0, n) or more (rows beyond the last are never read).
    """

    start: int
    hidden: torch.Tensor  # (L + 1, m, D) model dtype
    mlp: torch.Tensor  # (L, m, D) m_i
    query: torch.Tensor  # (L, H, m, d) post-RoPE
    key: torch.Tensor  # (L, KV, >= n, d)
    value: torch.Tensor  # (L, KV, >= n, dv)
    scale: list[float]
    sliding_window: list[int | None]
    projection: list[torch.Tensor]  # (H, dv, D) W_O^h per layer
    bias: list[torch.Tensor | None]  # (D,) b_O per layer
    norm_scale: torch.Tensor  # (L, m) float32 r_i (1 without a post-norm)
    norm_gain: list[torch.Tensor | None]  # (D,) float32 w of the post-attention norm
    row_offset: int = 0
    # (L, m, D) the attention block's own output (after its post-norm) at the rows held, when kept
    delta: torch.Tensor | None = None
    # u of one layer (``projected_values``): a dict that the rows of one ``RowContributions`` share.
    _projected: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)

    @property
    def layers(self) -> int:
        return int(self.mlp.shape[0])

    @property
    def n(self) -> int:
        """Window rows up to the last one held: the tokens [start, start + n) the parts describe."""
        return self.row_offset + int(self.hidden.shape[1])

    @property
    def heads(self) -> int:
        return int(self.query.shape[1])

    def state(self, layer: int, row: int) -> torch.Tensor:
        """x_row after layer ``layer`` (0: the embedding): (D,) float32."""
        return self.hidden[layer, row - self.row_offset].float()

    def mlp_output(self, layer: int, row: int) -> torch.Tensor:
        """m_row of layer ``layer`` (1-based), after its post-norm: (D,) float32."""
        return self.mlp[layer - 1, row - self.row_offset].float()

    def norm_scale_of(self, layer: int, row: int) -> torch.Tensor:
        """r_row of layer ``layer``'s post-attention norm (1 without one): float32 scalar."""
        return self.norm_scale[layer - 1, row - self.row_offset]

    def attention_weights(self, layer: int, first: int, count: int) -> torch.Tensor:
        """a^h_ij of layer ``layer`` (1-based) for rows first..first+count-1: (H, count, first+count) float32."""
        index = layer - 1
        sources = first + count
        heads, kv_heads = self.heads, int(self.key.shape[1])
        local = first - self.row_offset
        # The query heads of a KV group read the same keys: (KV, G, r, d) against (KV, 1, S, d), no repeat.
        q = self.query[index, :, local : local + count].float().reshape(kv_heads, heads // kv_heads, count, -1)
        k = self.key[index, :, :sources].float()[:, None]
        scores = torch.matmul(q, k.transpose(-1, -2)).reshape(heads, count, sources) * self.scale[index]
        rows = torch.arange(first, sources, device=q.device)[:, None]
        cols = torch.arange(sources, device=q.device)[None, :]
        allowed = cols <= rows
        window = self.sliding_window[index]
        if window:
            allowed &= cols > rows - window
        return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)

    def projected_block(self, layer: int, first: int, last: int) -> torch.Tensor:
        """u_hj = v^g(h)_j W_O^h for first <= j < last: (H, last - first, D) float32."""
        index = layer - 1
        heads, kv_heads = self.heads, int(self.key.shape[1])
        v = self.value[index, :, first:last].float()[:, None]  # (KV, 1, c, dv)
        projection = self.projection[index].float()
        projection = projection.reshape(kv_heads, heads // kv_heads, *projection.shape[1:])  # (KV, G, dv, D)
        return torch.matmul(v, projection).reshape(heads, last - first, -1)

    def projected_values(self, layer: int, sources: int) -> torch.Tensor:
        """u_hj for j < sources: (H, sources, D) float32.

        Built for every row of ``value`` once per layer and kept for one layer at a time (H x n x D
        floats): the rows a view visits in a layer share it.
        """
        cached = self._projected.get(layer)
        if cached is None or cached.shape[1] < sources:
            self._projected.clear()  # before the new one: one layer's at a time
            cached = self.projected_block(layer, 0, int(self.value.shape[2]))
            self._projected[layer] = cached
        return cached[:, :sources]

    def _post_norm(self, layer: int, rows: torch.Tensor, terms: torch.Tensor) -> torch.Tensor:
        """``terms`` (r, ..., D) of rows ``rows`` through the post-attention norm linearised at each row."""
        gain = self.norm_gain[layer - 1]
        if gain is None:
            return terms
        scale = self.norm_scale[layer - 1, rows - self.row_offset].reshape(-1, *([1] * (terms.dim() - 1)))
        return terms * scale * gain

    def head_terms(self, layer: int, row: int) -> torch.Tensor:
        """z'_ijh for token ``row`` (window index) of ``layer``: (H, row + 1, D) float32."""
        a = self.attention_weights(layer, row, 1)[:, 0]  # (H, S)
        terms = a[:, :, None] * self.projected_values(layer, row + 1)
        return self._post_norm(layer, torch.tensor([row]), terms[None])[0]

    def row_terms(self, layer: int, row: int) -> tuple[torch.Tensor, torch.Tensor]:
        """z'_ij = sum_h z'_ijh of token ``row`` over its sources j <= row, (row + 1, D) float32, and its
        attention weights (H, row + 1), without the (H, row + 1, D) terms of ``head_terms``."""
        a = self.attention_weights(layer, row, 1)[:, 0]  # (H, S)
        u = self.projected_values(layer, row + 1)
        # A sum of H scaled rows, in place: four times faster than einsum's batched products of H terms.
        terms = a[0, :, None] * u[0]
        for h in range(1, self.heads):
            terms.addcmul_(a[h, :, None], u[h])
        return self._post_norm(layer, torch.tensor([row]), terms[None])[0], a

    def head_terms_of(self, layer: int, row: int, source: int, weights: torch.Tensor) -> torch.Tensor:
        """z'_ijh of token ``row`` from ``source`` for every head, (H, D) float32; ``weights``: a^h_ij
        of the row, as ``row_terms`` returns them."""
        terms = weights[:, source, None] * self.projected_block(layer, source, source + 1)[:, 0]
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
        groups = heads // kv_heads
        v = self.value[index, :, : first + count].float()[:, None]  # (KV, 1, S, dv)
        weighted = torch.matmul(a.reshape(kv_heads, groups, count, -1), v).reshape(heads, count, -1)  # (H, r, dv)
        mixed = torch.einsum("hrd,hde->re", weighted, self.projection[index].float())
        rows = torch.arange(first, first + count)
        return self._post_norm(layer, rows, mixed) + self.bias_term(layer, first, count)

    def mid(self, layer: int, first: int, count: int) -> torch.Tensor:
        """mid_i (after the attention block of ``layer``): (count, D) float32, the model's own where the
        pass kept it (``delta``), else rebuilt from its parts."""
        local = first - self.row_offset
        residual = self.hidden[layer - 1, local : local + count].float()
        if self.delta is not None:
            return residual + self.delta[layer - 1, local : local + count].float()
        return residual + self.attention_update(layer, first, count)


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
    delta: torch.Tensor | None = None  # (L, m, D) the attention block's output, when kept
    delta_last: dict[int, torch.Tensor] = field(default_factory=dict)
    last_only: bool = False  # keep the pass's last row only
    keep_delta: bool = False


class _StopPass(Exception):
    """Raised by a hook after the last layer a pass needs: the layers above it are not run."""


def _register(
    hooks: Hooks,
    layers: list[LayerModules],
    store: _Store,
    family: Family,
    check: Callable[[], None] | None,
    stop_after: int | None = None,
) -> None:
    """Register the hooks of this pass that fill ``store``; with ``stop_after`` = l, the pass ends
    (``_StopPass``) once layer l (1-based) has run."""
    count = len(layers)
    rows = slice(-1, None) if store.last_only else slice(None)

    def ensure(like: torch.Tensor) -> None:
        if store.hidden is None:
            n, width = (1 if store.last_only else like.shape[1]), like.shape[2]
            store.hidden = torch.empty((count + 1, n, width), dtype=like.dtype, device=like.device)
            store.mlp = torch.empty((count, n, width), dtype=like.dtype, device=like.device)
            store.scale = torch.ones((count, n), dtype=torch.float32, device=like.device)
            if store.keep_delta:
                store.delta = torch.empty((count, n, width), dtype=like.dtype, device=like.device)

    for index, parts in enumerate(layers):

        def before(_module: Any, args: Any, kwargs: Any, index: int = index) -> None:
            if check is not None:
                check()
            hidden = args[0] if args else kwargs["hidden_states"]
            ensure(hidden)
            assert store.hidden is not None
            store.hidden[index] = hidden[0, rows]

        def after(_module: Any, _args: Any, output: Any, index: int = index) -> None:
            assert store.hidden is not None
            store.hidden[index + 1] = _first(output)[0, rows]
            if stop_after is not None and index + 1 >= stop_after:
                raise _StopPass

        def mlp_out(_module: Any, _args: Any, output: Any, index: int = index) -> None:
            assert store.mlp is not None
            store.mlp[index] = _first(output)[0, rows]

        def attention_out(
            _module: Any, args: Any, output: Any, index: int = index, norm: Any = parts.post_attention
        ) -> None:
            assert store.scale is not None
            if norm is not None:
                o = args[0][0, rows].float()
                eps = norm_epsilon(norm, family) or 0.0
                store.scale[index] = torch.rsqrt(o.pow(2).mean(-1) + eps)
            out = _first(output)[0]
            if store.delta is not None:
                store.delta[index] = out[rows]
            store.delta_last[index] = out[-1].float().clone()

        hooks.pre(parts.layer, before, with_kwargs=True)
        hooks.forward(parts.layer, after)
        hooks.forward(parts.post_mlp or parts.mlp, mlp_out)
        hooks.forward(parts.post_attention or parts.attention, attention_out)


@dataclass(frozen=True)
class _Weights:
    """What every pass's parts share: the layers' output projections, biases and post-norm gains."""

    projection: list[torch.Tensor]
    bias: list[torch.Tensor | None]
    norm_gain: list[torch.Tensor | None]

    @staticmethod
    def of(model: Any, heads: int, head_dim: int, width: int) -> _Weights:
        family = family_of(model)
        layers = decoder_layers(model)
        with torch.inference_mode():
            return _Weights(
                projection=[output_projection(p.attention, heads, head_dim, family) for p in layers],
                bias=[output_bias(p.attention, heads, head_dim, family) for p in layers],
                norm_gain=[
                    rms_gain(p.post_attention, width, family)[0] if p.post_attention is not None else None
                    for p in layers
                ],
            )


def _hooked_pass(
    model: Any,
    ids: list[int],
    check_cancelled: Callable[[], None] | None,
    store: _Store | None = None,
    recorder: Recorder | None = None,
    stop_after: int | None = None,
    **kwargs: Any,
) -> tuple[_Store, Recorder]:
    """One forward pass over ``ids`` with the parts' hooks filling ``store`` and ``recorder`` (new
    ones when None); ``stop_after``: as ``_register``; ``kwargs``: the model's."""
    layers = decoder_layers(model)
    device = next(model.parameters()).device
    store = store if store is not None else _Store()
    recorder = recorder if recorder is not None else Recorder(layer_count=len(layers))
    with hooked() as hooks:
        _register(hooks, layers, store, family_of(model), check_cancelled, stop_after)
        with torch.inference_mode(), recording(recorder):
            try:
                model(input_ids=torch.tensor([ids], dtype=torch.long, device=device), logits_to_keep=1, **kwargs)
            except _StopPass:
                pass
    if store.hidden is None or store.mlp is None or store.scale is None or recorder.query is None:
        raise UnsupportedArchitecture("the forward pass ran no decoder layer")
    return store, recorder


def _assemble(
    store: _Store,
    recorder: Recorder,
    weights: _Weights,
    start: int,
    key: torch.Tensor,
    value: torch.Tensor,
    row_offset: int = 0,
    projected: dict[int, torch.Tensor] | None = None,
    check: bool = True,
) -> Contributions:
    """The parts of a hooked pass, checked against the model's own last row (``check``)."""
    assert store.hidden is not None and store.mlp is not None and store.scale is not None
    assert recorder.query is not None
    count = len(weights.projection)
    with torch.inference_mode():
        result = Contributions(
            start=start,
            hidden=store.hidden,
            mlp=store.mlp,
            query=recorder.query,
            key=key,
            value=value,
            scale=[recorder.scales[i] for i in range(count)],
            sliding_window=[recorder.windows[i] for i in range(count)],
            projection=weights.projection,
            bias=weights.bias,
            norm_scale=store.scale,
            norm_gain=weights.norm_gain,
            row_offset=row_offset,
            delta=store.delta,
            _projected=projected if projected is not None else {},
        )
        if check:
            _check_last_row(result, store.delta_last)
    return result


def contributions(
    model: Any, ids: list[int], start: int = 0, check_cancelled: Callable[[], None] | None = None
) -> Contributions:
    """One forward pass over ``ids`` (tokens start.. of a document) and every layer's parts.

    Raises ``UnsupportedArchitecture`` when the last token's attention update or layer output,
    rebuilt from the parts, differs from the model's own.
    """
    store, recorder = _hooked_pass(model, ids, check_cancelled, use_cache=False)
    assert recorder.key is not None and recorder.value is not None and store.hidden is not None
    assert recorder.query is not None
    heads, head_dim, width = int(recorder.query.shape[1]), int(recorder.value.shape[3]), int(store.hidden.shape[-1])
    weights = _Weights.of(model, heads, head_dim, width)
    return _assemble(store, recorder, weights, start, recorder.key, recorder.value)


class RowContributions:
    """The parts of chosen rows only: one pass over the window's tokens that keeps their keys and
    values (in the model's dtype) and the last row's parts, then, for the rows asked for together,
    one pass of those tokens alone that reads the kept keys as its cache, each row masked to the
    keys a causal pass shows it (``Recorder.positions``), up to the deepest layer asked for.

    A causal model's row i depends on tokens [0, i] only, through their keys and values, so the
    parts of row i from that second pass are those of ``contributions`` at row i (up to float
    rounding). A view that reads r rows of a window of n tokens holds 2 L KV n d keys and values
    and one layer's u (``projected_values``) instead of every layer's states, queries, keys and
    values: at 4,096 tokens on the embedded model about 270 MB rather than 1.3 GB.
    """

    def __init__(
        self, model: Any, ids: list[int], start: int = 0, check_cancelled: Callable[[], None] | None = None
    ) -> None:
        self.model, self.ids, self.start, self.check_cancelled = model, ids, start, check_cancelled
        self.device = next(model.parameters()).device
        self.layers = len(decoder_layers(model))
        store = _Store(last_only=True, keep_delta=True)
        recorder = Recorder(layer_count=self.layers, keys_only=True, capacity=len(ids))
        # In chunks: the pass's activations are those of PREFILL_CHUNK tokens, whatever the window's
        # length; each chunk reads the keys and values before it from the buffers being filled.
        for first in range(0, len(ids), PREFILL_CHUNK):
            last = min(len(ids), first + PREFILL_CHUNK)
            kwargs: dict[str, Any] = {"use_cache": first > 0}
            if first > 0:
                assert recorder.key is not None and recorder.value is not None
                kwargs["past_key_values"] = buffer_cache(recorder.key, recorder.value, first)
                kwargs["position_ids"] = torch.arange(first, last, device=self.device)[None]
            recorder.offset = first
            _hooked_pass(model, ids[first:last], check_cancelled, store=store, recorder=recorder, **kwargs)
        assert recorder.key is not None and recorder.value is not None and recorder.query is not None
        assert store.hidden is not None
        self.key, self.value = recorder.key, recorder.value  # (L, KV, n, d)
        self.heads = int(recorder.query.shape[1])
        head_dim, self.width = int(self.value.shape[3]), int(store.hidden.shape[-1])
        self._weights = _Weights.of(model, self.heads, head_dim, self.width)
        self._cache: Any = None
        self._projected: dict[int, torch.Tensor] = {}
        self._scales, self._windows = recorder.scales, recorder.windows  # the same in every pass
        last = self.n - 1
        self._rows = {
            last: _assemble(store, recorder, self._weights, start, self.key, self.value, last, self._projected)
        }
        self._depth = {last: self.layers}

    @property
    def n(self) -> int:
        return len(self.ids)

    def compute(self, rows: list[int], depth: int | None = None) -> None:
        """Run one pass for the rows of ``rows`` not yet computed up to layer ``depth`` (1-based; all
        layers when None): a row's stream, MLP outputs and queries of layers 1..depth."""
        depth = self.layers if depth is None else depth
        wanted = sorted({i for i in rows if self._depth.get(i, 0) < depth})
        if not wanted:
            return
        if wanted[0] < 0 or wanted[-1] >= self.n:
            raise IndexError(f"rows {wanted[0]}..{wanted[-1]} are not all among the window's {self.n} rows")
        if self._cache is None:
            self._cache = fixed_cache(self.key, self.value, layer_devices(self.model), self.device)
        positions = torch.tensor(wanted, dtype=torch.long, device=self.device)
        store, recorder = _hooked_pass(
            self.model,
            [self.ids[i] for i in wanted],
            self.check_cancelled,
            store=_Store(keep_delta=True),
            recorder=Recorder(layer_count=self.layers, positions=positions),
            stop_after=depth if depth < self.layers else None,
            past_key_values=self._cache,
            use_cache=True,
            position_ids=positions[None],
        )
        assert store.hidden is not None and store.mlp is not None and store.scale is not None
        assert store.delta is not None and recorder.query is not None
        for k, i in enumerate(wanted):
            part = _Store(
                hidden=store.hidden[:, k : k + 1],
                mlp=store.mlp[:, k : k + 1],
                scale=store.scale[:, k : k + 1],
                delta=store.delta[:, k : k + 1],
            )
            recorded = Recorder(layer_count=self.layers, query=recorder.query[:, :, k : k + 1])
            recorded.scales, recorded.windows = self._scales, self._windows
            self._rows[i] = _assemble(
                part, recorded, self._weights, self.start, self.key, self.value, i, self._projected, check=False
            )
            self._depth[i] = depth

    def row(self, i: int, depth: int | None = None) -> Contributions:
        """The parts of window row ``i`` up to layer ``depth`` (``compute``). The decomposition is
        checked on the last row (``UnsupportedArchitecture``, as ``contributions``)."""
        self.compute([i], depth)
        return self._rows[i]

    def layer_terms(self, layer: int, rows: list[int]) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """``(i, z'_i, a_i)`` for each row i of ``rows`` at ``layer``: its sources' terms (i + 1, D)
        float32 and attention weights (H, i + 1), as ``Contributions.row_terms``.

        u is built in blocks of sources and each block serves every row of a group at once, so
        neither one layer's u (H x n x D) nor more than ``TERMS_BYTES`` of rows' terms are held.
        """
        self.compute(rows, layer)
        width = self.width
        group: list[int] = []
        for i in [*rows, None]:
            if i is not None and (not group or 4 * width * (sum(group) + len(group) + i + 1) <= TERMS_BYTES):
                group.append(i)
                continue
            if group:
                yield from self._group_terms(layer, group, width)
            group = [] if i is None else [i]

    def _group_terms(
        self, layer: int, group: list[int], width: int
    ) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        parts = [self._rows[i] for i in group]
        weights = [p.attention_weights(layer, i, 1)[:, 0] for p, i in zip(parts, group, strict=True)]
        sums = [torch.zeros((i + 1, width), dtype=torch.float32, device=self.key.device) for i in group]
        reach = max(group) + 1
        for first in range(0, reach, SOURCE_BLOCK):
            last = min(reach, first + SOURCE_BLOCK)
            u = parts[0].projected_block(layer, first, last)  # (H, c, D)
            for i, a, total in zip(group, weights, sums, strict=True):
                end = min(last, i + 1)
                if end <= first:
                    continue
                block = total[first:end]
                # A sum of H scaled rows, in place: four times faster than einsum's batched products.
                for h in range(self.heads):
                    block.addcmul_(a[h, first:end, None], u[h, : end - first])
        for part, i, a, total in zip(parts, group, weights, sums, strict=True):
            gain = part.norm_gain[layer - 1]
            if gain is not None:
                total.mul_(part.norm_scale_of(layer, i) * gain)
            yield i, total, a


def _check_last_row(parts: Contributions, delta_last: dict[int, torch.Tensor]) -> None:
    """Rebuild the last token's attention update and layer output from the parts; refuse if they differ."""
    last = parts.n - 1
    tolerance = 1e-3 if parts.hidden.dtype == torch.float32 else 5e-2
    for layer in range(1, parts.layers + 1):
        delta = parts.attention_update(layer, last, 1)[0]
        mid = parts.state(layer - 1, last) + delta
        real = delta_last[layer - 1]
        output = mid + parts.mlp_output(layer, last)
        real_output = parts.state(layer, last)
        for rebuilt, actual, what in ((delta, real, "attention update"), (output, real_output, "output")):
            error = float((rebuilt - actual).norm() / actual.norm().clamp_min(1e-6))
            if error > tolerance:
                raise UnsupportedArchitecture(
                    f"layer {layer}'s {what} does not decompose into token contributions "
                    f"(relative error {error:.2g}): this architecture is not supported by the flow views"
                )
