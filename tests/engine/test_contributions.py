"""The decomposition of every layer's update adds up to the layer's real output.

The reference is taken with forward hooks of this test's own on the decoder layers, not with the
engine's code: for every token i and layer l,
    sum_j sum_h z'_ijh + b'_i + x_i + m_i = y_i.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from atten_scope.engine.contributions import RowContributions, contributions, importance, normalised
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


LONG_IDS = [0, *[(13 * i + 5) % 120 + 2 for i in range(299)]]


@pytest.mark.parametrize("name", ["llama-gqa", "gemma3", "gpt2", "qwen2-value-bias", "mistral-sliding"])
def test_rows_of_their_own_pass_equal_the_rows_of_the_whole_pass(name: str) -> None:
    """Row i computed by a pass of chosen tokens over the kept keys equals row i of the pass over
    the whole window: streams, MLP outputs, updates, queries and attention weights, at every layer
    (sliding windows included: 300 tokens against a window of 9 on Gemma 3's sliding layers)."""
    model = build(name)
    positions = getattr(model.config, "n_positions", None) or len(LONG_IDS)
    ids = LONG_IDS[:positions]
    whole = contributions(model, ids)
    rows = RowContributions(model, ids)
    n = len(ids)
    chosen = [0, 1, 17, n // 2, n - 2, n - 1]
    rows.compute(chosen[:3])
    early = rows.row(17)
    rows.compute(chosen)
    assert rows.row(17) is early  # the rows already computed are not run again
    assert rows.n == whole.n == n
    for i in chosen:
        part = rows.row(i)
        assert part.row_offset == i and part.n == i + 1
        for layer in range(whole.layers + 1):
            assert torch.allclose(part.state(layer, i), whole.state(layer, i), atol=2e-5)
        for layer in range(1, whole.layers + 1):
            assert torch.allclose(part.mlp_output(layer, i), whole.mlp_output(layer, i), atol=2e-5)
            assert torch.allclose(part.mid(layer, i, 1), whole.mid(layer, i, 1), atol=2e-5)
            assert torch.allclose(part.attention_weights(layer, i, 1), whole.attention_weights(layer, i, 1), atol=1e-5)
            sources, weights = part.row_terms(layer, i)
            assert torch.allclose(sources, whole.head_terms(layer, i).sum(0), atol=2e-5)
            assert torch.allclose(
                part.head_terms_of(layer, i, i // 2, weights), whole.head_terms(layer, i)[:, i // 2], atol=2e-5
            )


def test_a_row_asked_up_to_a_layer_runs_that_far_and_deeper_when_asked() -> None:
    model = build("llama-gqa")
    whole = contributions(model, LONG_IDS)
    rows = RowContributions(model, LONG_IDS)
    rows.compute([40, 41], depth=1)
    shallow = rows.row(40, 1)
    assert torch.allclose(shallow.state(1, 40), whole.state(1, 40), atol=2e-5)
    deep = rows.row(40)  # every layer: a pass of its own
    assert deep is not shallow
    assert torch.allclose(deep.state(whole.layers, 40), whole.state(whole.layers, 40), atol=2e-5)
    with pytest.raises(IndexError):
        rows.row(len(LONG_IDS))
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_layer_terms_in_blocks_and_groups_equal_each_rows_terms(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sources in blocks of 7 and rows in groups of at most ~2: the same terms as one row's at a time."""
    import atten_scope.engine.contributions as module

    model = build("gemma3")
    rows = RowContributions(model, LONG_IDS)
    monkeypatch.setattr(module, "SOURCE_BLOCK", 7)
    monkeypatch.setattr(module, "TERMS_BYTES", 4 * 64 * 2 * 200)
    chosen = [3, 90, 91, 200, 299]
    got = list(rows.layer_terms(2, chosen))
    assert [i for i, _, _ in got] == chosen
    for i, sources, weights in got:
        expected, expected_weights = rows.row(i).row_terms(2, i)
        assert torch.allclose(sources, expected, atol=2e-5)
        assert torch.allclose(weights, expected_weights, atol=1e-6)
