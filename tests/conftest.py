"""Shared fixtures: tiny randomly initialised models (no download) and the embedded model."""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def tiny_models() -> dict[str, Any]:
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        GPTBigCodeConfig,
        GPTBigCodeForCausalLM,
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    common = {"vocab_size": 128, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}
    llama = {"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 3, "num_attention_heads": 4}
    return {
        "llama-gqa": (LlamaForCausalLM, LlamaConfig(**common, **llama, num_key_value_heads=2)),
        "qwen2-value-bias": (Qwen2ForCausalLM, Qwen2Config(**common, **llama, num_key_value_heads=2)),
        "mistral-sliding": (
            MistralForCausalLM,
            MistralConfig(**common, **llama, num_key_value_heads=2, sliding_window=9),
        ),
        "gpt2": (GPT2LMHeadModel, GPT2Config(**common, n_embd=64, n_layer=3, n_head=4, n_positions=256)),
        "gptbigcode-mqa": (
            GPTBigCodeForCausalLM,
            GPTBigCodeConfig(**common, n_embd=64, n_layer=3, n_head=4, n_positions=256, multi_query=True),
        ),
    }


def build_tiny(name: str) -> Any:
    torch.manual_seed(1234)
    cls, config = tiny_models()[name]
    model = cls(config).eval()
    if name == "qwen2-value-bias":
        # Random init leaves biases at zero; make the value bias matter.
        for layer in model.model.layers:
            torch.nn.init.normal_(layer.self_attn.v_proj.bias, std=0.5)
    return model


@pytest.fixture(scope="session")
def embedded() -> Any:
    from atten_scope.engine.model import load_model

    return load_model("embedded:smollm2-135m", "cpu")
