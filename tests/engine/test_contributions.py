"""The decomposition of every layer's update adds up to the layer's real output.

The reference is taken with forward hooks of this test's own on the decoder layers, not with the
engine's code: for every token i and layer l,
    sum_j sum_h z'_ijh + b'_i + x_i + m_i = y_i.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from atten_scope.engine.contributions import contributions, importance, normalised
from atten_scope.engine.recorder import install_capture_attention
from tests.conftest import build_tiny

IDS = [0, *[(7 * i + 3) % 120 + 2 for i in range(40)]]


def tiny_gemma3() -> Any:
    """Gemma 3 text: sandwich norms, q/k norms, sliding and global layers, grouped KV heads."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(1234)
    config = Gemma3TextConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        sliding_window=9,
        layer_types=["sliding_attention", "sliding_attention", "full_attention"],
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    model = Gemma3ForCausalLM(config).eval()
    with torch.no_grad():  # random init leaves norm weights at 0 (gain 1): make the gains matter
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.normal_(0.0, 0.5)
    return model


def build(name: str) -> Any:
    model = tiny_gemma3() if name == "gemma3" else build_tiny(name)
    install_capture_attention(model)
    return model.float()


def real_outputs(model: Any, ids: list[int]) -> list[torch.Tensor]:
    """Each decoder layer's input (index 0) and output, from this test's own hooks."""
    layers = model.model.layers if hasattr(model, "model") else model.transformer.h
    found: dict[int, torch.Tensor] = {}
    hooks = [
        layers[0].register_forward_pre_hook(
            lambda _m, args, kwargs: found.__setitem__(0, (args[0] if args else kwargs["hidden_states"])[0].clone()),
            with_kwargs=True,
        )
    ]
    for index, layer in enumerate(layers, start=1):

        def keep(_m: Any, _a: Any, output: Any, index: int = index) -> None:
            found[index] = (output[0] if isinstance(output, tuple) else output)[0].clone()

        hooks.append(layer.register_forward_hook(keep))
    try:
        with torch.no_grad():
            model(input_ids=torch.tensor([ids]))
    finally:
        for hook in hooks:
            hook.remove()
    return [found[i] for i in range(len(layers) + 1)]


@pytest.mark.parametrize("name", ["llama-gqa", "gemma3", "qwen2-value-bias", "gpt2", "mistral-sliding"])
def test_every_head_and_source_plus_residual_and_mlp_adds_up_to_the_layer_output(name: str) -> None:
    model = build(name)
    if name in ("llama-gqa", "gemma3"):
        config = model.config
        assert config.num_key_value_heads < config.num_attention_heads
    parts = contributions(model, IDS)
    reference = real_outputs(model, IDS)
    n = len(IDS)
    assert torch.allclose(parts.hidden[0].float(), reference[0], atol=1e-5)
    worst = 0.0
    for layer in range(1, parts.layers + 1):
        for row in range(n):
            heads = parts.head_terms(layer, row)  # (H, row + 1, D)
            total = (
                heads.sum(dim=(0, 1))
                + parts.bias_term(layer, row, 1)[0]
                + reference[layer - 1][row]
                + parts.mlp[layer - 1, row].float()
            )
            worst = max(worst, float((total - reference[layer][row]).abs().max()))
    assert worst < 1e-4


def test_no_hook_is_left_behind() -> None:
    model = build("gemma3")
    contributions(model, IDS[:10])
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_importance_is_alti_proximity() -> None:
    total = torch.tensor([1.0, 2.0, -1.0])
    terms = torch.stack([torch.tensor([1.0, 2.0, -1.0]), torch.tensor([-1.0, 0.0, 0.0]), torch.zeros(3)])
    got = importance(terms, total)
    # ||y||_1 = 4; y - z: 0 (4), [2, 2, -1] (5 -> 0), y (0)
    assert got.tolist() == [4.0, 0.0, 0.0]
    assert normalised(got).tolist() == [1.0, 0.0, 0.0]
    consumed = terms.clone()
    assert torch.equal(importance(consumed, total, consume=True), got) and not torch.equal(consumed, terms)
    assert normalised(torch.zeros(3)).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", ["llama-gqa", "gemma3"])
def test_the_cheap_update_equals_the_sum_of_its_terms(name: str) -> None:
    """``attention_update`` projects the weighted values once; the terms project each source."""
    parts = contributions(build(name), IDS)
    for layer in range(1, parts.layers + 1):
        update = parts.attention_update(layer, 5, 30)
        terms = parts.source_terms(layer, 5, 30).sum(dim=1) + parts.bias_term(layer, 5, 30)
        assert torch.allclose(update, terms, atol=1e-5)
