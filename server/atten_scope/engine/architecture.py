"""Where a loaded model keeps what the engine reads: its attention modules, their output
projections W_O and biases b_O, its decoder layers' parts and its final hidden states.

Names come from the model's family (``families.py``); this module finds them on a model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.families import GENERIC, Family, family_of


class UnsupportedArchitecture(InvalidRequest):
    """The model's layers do not decompose into attention, residual and MLP as the engine assumes."""


@dataclass
class LayerModules:
    """The parts of one decoder layer the contribution decomposition reads."""

    layer: Any
    attention: Any
    mlp: Any
    post_attention: Any | None  # the sandwich norm on the attention output, if any
    post_mlp: Any | None


def attention_modules(model: Any, family: Family | None = None) -> Iterator[tuple[str, Any]]:
    """(name, module) of every attention module of ``model``: those with a ``layer_idx`` whose class
    name ends with the family's attention suffix."""
    suffix = (family or family_of(model)).attention_suffix
    for name, module in model.named_modules():
        if getattr(module, "layer_idx", None) is not None and module.__class__.__name__.endswith(suffix):
            yield name, module


def layer_devices(model: Any) -> dict[int, torch.device]:
    """The device of each attention layer's weights, by layer index."""
    places: dict[int, torch.device] = {}
    for _, module in attention_modules(model):
        weight = next(module.parameters(), None)
        if weight is not None:
            places[int(module.layer_idx)] = weight.device
    return places


def _projection(module: Any, heads: int, head_dim: int, family: Family) -> tuple[Any, torch.Tensor] | None:
    """The output projection module of attention ``module`` and its W_O as (H * d, hidden)."""
    from transformers.pytorch_utils import Conv1D

    for name in family.projections:
        projection = getattr(module, name, None)
        if projection is None or not hasattr(projection, "weight"):
            continue
        weight = projection.weight.detach()
        matrix = weight if isinstance(projection, Conv1D) else weight.t()
        if matrix.shape[0] == heads * head_dim:
            return projection, matrix
    return None


def output_projection(module: Any, heads: int, head_dim: int, family: Family = GENERIC) -> torch.Tensor:
    """W_O as (H, d, hidden): head h's slice of the attention output projection.

    Llama-style models call it ``o_proj`` (nn.Linear, weight out x in); GPT-2 ``c_proj`` (Conv1D,
    weight in x out); GPTBigCode ``c_proj`` (nn.Linear); others ``out_proj`` or ``dense``.
    """
    found = _projection(module, heads, head_dim, family)
    if found is None:
        raise ValueError(f"Cannot find the attention output projection of {type(module).__name__}.")
    matrix = found[1]
    return matrix.reshape(heads, head_dim, matrix.shape[1])


def output_bias(module: Any, heads: int, head_dim: int, family: Family = GENERIC) -> torch.Tensor | None:
    """b_O (hidden,) of the projection ``output_projection`` reads, if it has one."""
    found = _projection(module, heads, head_dim, family)
    bias = getattr(found[0], "bias", None) if found is not None else None
    return bias.detach() if bias is not None else None


def value_norm_metric(module: Any, heads: int, head_dim: int, family: Family = GENERIC) -> torch.Tensor:
    """M_h = W_O^h W_O^h^T (H, d, d), so that ||t W_O^h||^2 = t M_h t^T without the hidden size."""
    cached = getattr(module, "_atten_scope_metric", None)
    if cached is not None and cached.shape[0] == heads:
        return cached  # type: ignore[no-any-return]
    w = output_projection(module, heads, head_dim, family).float()
    metric = torch.matmul(w, w.transpose(1, 2))
    module._atten_scope_metric = metric
    return metric


def decoder_layers(model: Any) -> list[LayerModules]:
    """The decoder layers of ``model`` in order: each attention module and the parts of its parent."""
    family = family_of(model)
    named = dict(model.named_modules())
    found: dict[int, LayerModules] = {}
    for name, module in attention_modules(model, family):
        if "." not in name:
            continue
        layer = named[name.rsplit(".", 1)[0]]
        mlp = getattr(layer, family.mlp, None)
        if mlp is None:
            raise UnsupportedArchitecture(f"{type(layer).__name__} has no MLP block named {family.mlp}.")
        post_attention = post_mlp = None
        if family.sandwich is not None and hasattr(layer, family.sandwich[1]):
            post_attention = getattr(layer, family.sandwich[0], None)
            post_mlp = getattr(layer, family.sandwich[1])
        found[int(module.layer_idx)] = LayerModules(layer, module, mlp, post_attention, post_mlp)
    count = int(model.config.get_text_config().num_hidden_layers)
    if sorted(found) != list(range(count)):
        raise UnsupportedArchitecture("every layer of the model must have one attention block")
    return [found[i] for i in range(count)]


def norm_epsilon(norm: Any, family: Family = GENERIC) -> float | None:
    """The epsilon of a norm module under the family's attribute names; None when it has none."""
    for name in family.norm_eps:
        value = getattr(norm, name, None)
        if value is not None:
            return float(value)
    return None


def hidden_states_module(model: Any) -> Any | None:
    """The decoder whose output (``last_hidden_state``, after the final norm) the LM head maps to
    logits; None for a model without a separate one."""
    base = getattr(model, "base_model", None)
    return None if base is None or base is model else base


def final_norm(model: Any) -> Any:
    """The decoder's norm before the LM head (``last_hidden_state`` is its output), by the family's
    names (``Family.final_norm``); ``UnsupportedArchitecture`` when the decoder has none of them."""
    base = hidden_states_module(model)
    family = family_of(model)
    for name in family.final_norm:
        norm = getattr(base, name, None) if base is not None else None
        if isinstance(norm, torch.nn.Module):
            return norm
    raise UnsupportedArchitecture(
        f"{type(model).__name__} has no final norm named {', '.join(family.final_norm)}: "
        "its residual stream cannot be read through the LM head"
    )
