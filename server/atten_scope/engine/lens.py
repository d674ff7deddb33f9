"""The residual stream of one token, layer by layer, and the logit lens that reads it.

The residual stream of token i: x^0 the first decoder layer's input (its embedding, scaled where
the model scales it) and x^l the output of layer l, l = 1..L. A causal model's keys and values of
tokens [0, i) do not depend on token i, so the captured window's keys and values of the tokens
before it are the KV cache of a pass over token i alone (as a re-capture after an edit reuses its
prefix, ``kv_cache.py``): the stream costs one token's forward pass however long the window is.
Forward hooks of this pass only (``hooks.hooked``) keep x^l at each decoder layer's output.

Logit lens (nostalgebraist 2020): the prediction of layer l is the residual after it read as if
no layer followed:

    z^l = post(W_U N(x^l))      N the final norm, post the family's logit steps (``prediction.Head``)
    p^l = softmax(z^l)

At l = L, N(x^L) is the decoder's own output, so p^L is the model's prediction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.architecture import decoder_layers, final_norm, layer_devices
from atten_scope.engine.hooks import hooked
from atten_scope.engine.kv_cache import placed_cache
from atten_scope.engine.prediction import Head
from atten_scope.engine.window import CapturedWindow


def _first(value: Any) -> torch.Tensor:
    return value[0] if isinstance(value, tuple) else value


@dataclass(frozen=True)
class TokenStream:
    """x^0..x^L of one token, (L + 1, hidden) in the model's dtype, and the tokens the pass ran."""

    residual: torch.Tensor
    computed: int


def token_stream(
    model: Any, win: CapturedWindow, local: int, check_cancelled: Callable[[], None] | None = None
) -> TokenStream:
    """The residual stream of the window's token ``local``.

    The window's keys and values of tokens [0, local) are the pass's KV cache (upcast to the
    model's dtype where they are stored compactly); a window whose captured layers are not the
    model's decoder layers one for one runs tokens [0, local] instead. ``check_cancelled`` is
    called before each decoder layer of this pass.
    """
    layers = decoder_layers(model)
    count = len(layers)
    parameter = next(model.parameters())
    device, dtype = parameter.device, parameter.dtype
    kwargs: dict[str, Any] = {"logits_to_keep": 1}
    if local > 0 and int(win.key.shape[0]) == count:
        kwargs["past_key_values"] = placed_cache(win.key, win.value, local, layer_devices(model), device, dtype)
        kwargs["position_ids"] = torch.tensor([[local]], dtype=torch.long, device=device)
        kwargs["use_cache"] = True
        ids = [win.ids[local]]
    else:
        kwargs["use_cache"] = False
        ids = win.ids[: local + 1]
    found: dict[int, torch.Tensor] = {}
    with hooked() as hooks:
        for index, parts in enumerate(layers):

            def before(_module: Any, args: Any, named: Any, index: int = index) -> None:
                if check_cancelled is not None:
                    check_cancelled()
                if index == 0:
                    found[0] = (args[0] if args else named["hidden_states"])[0, -1].detach().clone()

            def after(_module: Any, _args: Any, output: Any, index: int = index) -> None:
                found[index + 1] = _first(output)[0, -1].detach().clone()

            hooks.pre(parts.layer, before, with_kwargs=True)
            hooks.forward(parts.layer, after)
        with torch.inference_mode():
            model(input_ids=torch.tensor([ids], dtype=torch.long, device=device), **kwargs)
    if sorted(found) != list(range(count + 1)):
        raise InvalidRequest("The forward pass did not run every decoder layer: the residual stream is incomplete.")
    return TokenStream(torch.stack([found[i].to(device=device, dtype=dtype) for i in range(count + 1)]), len(ids))


@dataclass(frozen=True)
class Readout:
    """The model's final norm and LM head: what reads a residual as a prediction."""

    norm: Any
    head: Head

    @staticmethod
    def of(model: Any) -> Readout:
        """The readout of ``model``; ``InvalidRequest`` for a model without a separate LM head."""
        head = Head.of(model)
        if head is None:
            raise InvalidRequest("This model has no LM head that reads its decoder's rows: it shows no prediction.")
        return Readout(final_norm(model), head)

    def normed(self, residual: torch.Tensor) -> torch.Tensor:
        """N(x) of rows (m, hidden), in the norm's dtype."""
        weight = next(self.norm.parameters(), None)
        rows = residual if weight is None else residual.to(device=weight.device, dtype=weight.dtype)
        with torch.inference_mode():
            return self.norm(rows[None])[0]  # type: ignore[no-any-return]

    def logits(self, residual: torch.Tensor) -> torch.Tensor:
        """z = post(W_U N(x)) of rows (m, hidden): (m, vocabulary) float32."""
        return self.head.logits(self.normed(residual))


@dataclass(frozen=True)
class LayerTop:
    """The first choices of one layer's readout: ids and probabilities, best first."""

    ids: list[int]
    probabilities: list[float]


def settled_at(first_choices: list[int]) -> int:
    """The first layer (0-based) from which every later layer's first choice is the last layer's."""
    if not first_choices:
        raise ValueError("a logit lens has at least one layer")
    final = first_choices[-1]
    layer = len(first_choices) - 1
    while layer > 0 and first_choices[layer - 1] == final:
        layer -= 1
    return layer
