"""One forward pass that records, per layer, what any attention row or column can be rebuilt from.

Instead of eager attention with ``output_attentions=True`` (layers x heads x n x n floats), a
registered transformers attention function (``recorder.py``) delegates to the fused SDPA kernel
and keeps only post-RoPE queries and keys, values, the softmax scale, the sliding-window rule and
the per-row log-sum-exp normaliser. Memory is linear in tokens. With that state:

    a_ij = exp(s * q_i . k_j - lse_i)   for j allowed by the mask (j <= i, i - j < window)

From the values it also keeps the Kobayashi norms ||t_j W_O^h|| and running Gram sums
sum_k t_k^T t_k at checkpoints, which the norm and effective refinements need. This module drives
the pass and assembles its ``CapturedWindow`` (``window.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from atten_scope.engine.architecture import attention_modules, hidden_states_module, layer_devices, value_norm_metric
from atten_scope.engine.families import family_of
from atten_scope.engine.hooks import Hooks, hooked
from atten_scope.engine.kv_cache import buffer_cache, placed_cache
from atten_scope.engine.prediction import Reference
from atten_scope.engine.recorder import Recorder, recording
from atten_scope.engine.window import CapturedWindow, gram_checkpoints


def run_capture(
    model: Any,
    ids: list[int],
    start: int,
    prefix: CapturedWindow | None = None,
    reuse: int = 0,
    check_cancelled: Callable[[], None] | None = None,
    next_id: int | None = None,
) -> CapturedWindow:
    """Run one forward pass over ``ids`` and return its captured state and final hidden states.

    With ``prefix`` and ``reuse`` > 0, the first ``reuse`` tokens' state is copied from ``prefix``
    (a causal model's prefix does not depend on what follows) and only the rest is computed,
    with the prefix keys and values fed to the model as its KV cache; the prefix's hidden rows and
    the log-probabilities computed from them are copied too (but the last copied row's when the
    token after it changed). The LM head is not run over the rows (``prediction.py``).
    ``next_id`` is the document's token after ``ids`` (None at the end of the document).
    ``check_cancelled`` is called before each attention layer of this pass (not of another
    thread's pass over the same model).
    """
    parameter = next(model.parameters())
    device = parameter.device
    family = family_of(model)
    reuse = max(0, min(reuse, len(ids) - 1)) if prefix is not None else 0
    new_ids = ids[reuse:]
    kwargs: dict[str, Any] = {"use_cache": reuse > 0, "logits_to_keep": 1}
    layer_count = int(model.config.get_text_config().num_hidden_layers)
    recorder = Recorder(layer_count=layer_count, offset=reuse, prefix=prefix)
    if reuse > 0 and prefix is not None:
        places = layer_devices(model)
        if prefix.key.shape[0] == layer_count and set(places.values()) <= {device}:
            # One device: the pass reads the prefix from the buffers it fills (no cache copies).
            _, heads, _, d = prefix.query.shape
            kv_heads, dv = prefix.key.shape[1], prefix.key.shape[3]
            recorder.allocate(len(ids), heads, kv_heads, d, dv, parameter.dtype, device)
            assert recorder.key is not None and recorder.value is not None
            kwargs["past_key_values"] = buffer_cache(recorder.key, recorder.value, reuse)
        else:
            kwargs["past_key_values"] = placed_cache(prefix.key, prefix.value, reuse, places, device)
        kwargs["position_ids"] = torch.arange(reuse, len(ids), device=device)[None]
    input_ids = torch.tensor([new_ids], dtype=torch.long, device=device)
    with hooked() as hooks:
        if check_cancelled is not None:
            # Cancellation is checked between layers, so a long pass stops within one layer's time.
            for _, module in attention_modules(model, family):
                hooks.pre(module, lambda *_: check_cancelled())
        hidden_states = keep_final_hidden_states(hooks, model)
        with torch.inference_mode(), recording(recorder):
            output = model(input_ids=input_ids, **kwargs)
            reference = Reference.of(getattr(output, "logits", None))
            del output
            hidden = _hidden_rows(hidden_states, len(new_ids), reuse, prefix)
    return finish_window(model, recorder, ids, start, reuse, prefix, hidden, reference, next_id)


def finish_window(
    model: Any,
    recorder: Recorder,
    ids: list[int],
    start: int,
    reuse: int,
    prefix: CapturedWindow | None,
    hidden: torch.Tensor | None,
    reference: Reference | None,
    next_id: int | None,
) -> CapturedWindow:
    """The window of tokens ``ids`` from the first ``len(ids)`` rows of ``recorder``'s buffers (the first
    ``reuse`` copied from ``prefix``, the rest computed by this thread's passes): the value norms and
    Gram checkpoints of the computed rows are built here. ``hidden``: the window's final hidden rows."""
    n = len(ids)
    family = family_of(model)
    layer_count = recorder.layer_count
    layers = sorted(recorder.modules)
    if recorder.query is None or recorder.key is None or recorder.value is None or recorder.lse is None:
        raise RuntimeError("the model ran no attention layer through the capturing attention function")
    # Buffers allocated ahead for several passes (generation) hold more rows than were filled.
    query, key = recorder.query[:, :, :n], recorder.key[:, :, :n]
    value, lse = recorder.value[:, :, :n], recorder.lse[:, :, :n]
    if layers != list(range(layer_count)):  # some layers have no attention (hybrid models)
        chosen = torch.tensor(layers, dtype=torch.long)
        query, key, value, lse = query[chosen], key[chosen], value[chosen], lse[chosen]
    heads, head_dim = query.shape[1], query.shape[3]
    kv_heads = key.shape[1]
    with torch.inference_mode():
        value_norm = torch.empty(lse.shape, dtype=torch.float32, device=lse.device)
        if reuse > 0 and prefix is not None:
            value_norm[:, :, :reuse] = prefix.value_norm[:, :, :reuse]
        for position, layer in enumerate(layers):
            metric = value_norm_metric(recorder.modules[layer], heads, head_dim, family).to(value.device)
            t = value[position, :, reuse:].float().repeat_interleave(heads // kv_heads, dim=0)  # (H, m, d)
            value_norm[position, :, reuse:] = torch.einsum("hmd,hde,hme->hm", t, metric, t).clamp_min(0).sqrt()
    gram = gram_checkpoints(value, prefix.gram if prefix is not None and reuse > 0 else None, reuse)
    # Keyword arguments of the record (alike in shape with other records' constructors only).
    window = CapturedWindow(
        start=start,
        ids=list(ids),
        query=query,
        key=key,
        value=value,
        lse=lse,
        value_norm=value_norm,
        gram=gram,
        scale=torch.tensor([recorder.scales[i] for i in layers], dtype=torch.float32),
        sliding_window=[recorder.windows[i] for i in layers],
        recomputed=n - reuse,
        hidden=hidden,
        reference=reference if hidden is not None else None,
        next_id=next_id,
    )
    if reuse > 0 and prefix is not None:
        window.inherit(prefix, reuse)
    return window


def keep_final_hidden_states(hooks: Hooks, model: Any) -> list[torch.Tensor]:
    """A list where this thread's forward passes leave their final hidden states (1, m, hidden):
    the decoder's output (``last_hidden_state``, after the final norm), which the LM head maps to
    logits. Nothing lands for a model without a separate decoder."""
    found: list[torch.Tensor] = []

    def keep(_module: Any, _inputs: Any, output: Any) -> None:
        hidden = getattr(output, "last_hidden_state", None)
        if hidden is None and isinstance(output, tuple | list):
            hidden = output[0]
        if isinstance(hidden, torch.Tensor):
            found.append(hidden.detach())

    base = hidden_states_module(model)
    if base is not None:
        hooks.forward(base, keep)
    return found


def _hidden_rows(
    found: list[torch.Tensor], computed: int, reuse: int, prefix: CapturedWindow | None
) -> torch.Tensor | None:
    """The window's final hidden rows (n, hidden): the prefix's first ``reuse`` rows, then this pass's."""
    if not found:
        return None
    hidden = found[-1][0]  # (m, hidden): this pass's rows
    if hidden.dim() != 2 or hidden.shape[0] != computed:
        return None
    if reuse == 0:
        return hidden
    if prefix is None or prefix.hidden is None:
        return None
    return torch.cat([prefix.hidden[:reuse].to(device=hidden.device, dtype=hidden.dtype), hidden])
