"""The table of model families: every tested architecture resolves to its entry, anything else to
the generic fallback, and what the engine reads of a model follows the entry."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from atten_scope.engine.architecture import decoder_layers, output_bias, output_projection
from atten_scope.engine.families import ALL_PROJECTIONS, DIVIDE, FAMILIES, GENERIC, SCALE, SOFTCAP, family_of
from atten_scope.engine.model import model_info
from atten_scope.engine.prediction import Head
from tests.conftest import build_tiny, tiny_models

EXPECTED = {
    "llama-gqa": "llama",
    "qwen2-value-bias": "llama",
    "mistral-sliding": "llama",
    "gpt2": "gpt2",
    "gptbigcode-mqa": "gpt2",
}


def gemma3_configs() -> list[Any]:
    from transformers import Gemma3Config, Gemma3TextConfig

    return [Gemma3TextConfig(), Gemma3Config()]  # the text model and its multimodal wrapper


@pytest.mark.parametrize("name", sorted(tiny_models()))
def test_each_tiny_architecture_resolves_to_its_family(name: str) -> None:
    assert set(EXPECTED) == set(tiny_models())
    config = tiny_models()[name][1]
    assert family_of(config).name == EXPECTED[name]


def test_gemma3_resolves_to_the_sandwich_and_softcap_family() -> None:
    for config in gemma3_configs():
        family = family_of(config)
        assert family.name == "gemma"
        assert family.sandwich == ("post_attention_layernorm", "post_feedforward_layernorm")
        assert family.logits == (SOFTCAP,)


def test_an_unknown_model_type_falls_back_to_the_generic_family() -> None:
    from transformers import PretrainedConfig

    assert family_of(PretrainedConfig()) is GENERIC
    assert family_of(object()) is GENERIC
    # The fallback tries every name any family uses, as the engine did before families were named.
    assert GENERIC.projections == ALL_PROJECTIONS
    assert GENERIC.logits == (SCALE, DIVIDE, SOFTCAP)
    assert set(ALL_PROJECTIONS) >= {name for family in FAMILIES for name in family.projections}


def test_no_model_type_is_in_two_families() -> None:
    types = [model_type for family in FAMILIES for model_type in family.model_types]
    assert len(types) == len(set(types))


@pytest.mark.parametrize("name", sorted(tiny_models()))
def test_a_tiny_model_reads_the_same_under_its_family_as_under_the_generic_one(name: str) -> None:
    model = build_tiny(name)
    family = family_of(model)
    info = model_info(name, model)
    assert (info.layers, info.heads, info.head_dim) == (3, 4, 16)
    assert info.kv_heads == {"gpt2": 4, "gptbigcode-mqa": 1}.get(name, 2)  # MQA: one, by its config flag
    parts = decoder_layers(model)
    assert len(parts) == 3 and all(p.post_attention is None and p.post_mlp is None for p in parts)
    for p in parts:
        w = output_projection(p.attention, info.heads, info.head_dim, family)
        assert torch.equal(w, output_projection(p.attention, info.heads, info.head_dim, GENERIC))
        bias = output_bias(p.attention, info.heads, info.head_dim, family)
        generic = output_bias(p.attention, info.heads, info.head_dim, GENERIC)
        assert (bias is None) == (generic is None)
        assert bias is None or generic is None or torch.equal(bias, generic)


def test_the_head_applies_only_the_post_processing_its_family_declares() -> None:
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        final_logit_softcapping=2.0,
    )
    gemma = Gemma3ForCausalLM(config).eval()
    head = Head.of(gemma)
    assert head is not None and head.post == [("softcap", 2.0)]
    rows = torch.randn(3, 32)
    raw = gemma.get_output_embeddings()(rows).float()
    assert torch.allclose(head.logits(rows), torch.tanh(raw / 2.0) * 2.0, atol=1e-5)
    llama = build_tiny("llama-gqa")
    llama_head = Head.of(llama)
    assert llama_head is not None and llama_head.post == []
