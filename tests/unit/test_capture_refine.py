"""Rebuilt and refined attention against slow, explicit reference implementations."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import torch

from atten_scope.common import cancellation
from atten_scope.common.errors import Cancelled
from atten_scope.engine import refine
from atten_scope.engine.architecture import output_projection
from atten_scope.engine.capture import run_capture
from atten_scope.engine.kernels import attention_with_lse, cached_prefix_attention, is_offset_causal, repeat_kv
from atten_scope.engine.recorder import install_capture_attention
from atten_scope.engine.refine import (
    RANK_RTOL,
    column_mask,
    norm_totals,
    raw_column,
    raw_rows,
    refined_rows,
    source_mask,
)
from atten_scope.engine.window import CapturedWindow
from tests.conftest import build_tiny, tiny_models

N = 80  # > head_dim (16), so the effective projection is not the identity for late rows


def eager_attentions(model: Any, ids: list[int]) -> list[torch.Tensor]:
    model.set_attn_implementation("eager")
    with torch.no_grad():
        out = model(torch.tensor([ids]), output_attentions=True)
    return [a[0] for a in out.attentions]  # (H, n, n) per layer


@pytest.fixture(scope="module", params=sorted(tiny_models()))
def captured(request: Any) -> tuple[str, Any, list[int], CapturedWindow, list[torch.Tensor]]:
    model = build_tiny(request.param)
    ids = torch.randint(2, 128, (N,), generator=torch.Generator().manual_seed(7)).tolist()
    reference = eager_attentions(model, ids)
    install_capture_attention(model)
    return request.param, model, ids, run_capture(model, ids, 0), reference


def test_rebuilt_rows_match_eager_attention(captured: Any) -> None:
    _, _, _, win, reference = captured
    layers = torch.arange(len(reference))
    rows = raw_rows(win, layers, 0, N)
    for layer, expected in enumerate(reference):
        assert torch.allclose(rows[layer], expected, atol=1e-4), f"layer {layer}"


def test_columns_from_lse_match_rows(captured: Any) -> None:
    _, _, _, win, reference = captured
    layers = torch.arange(len(reference))
    column = raw_column(win, layers, 5, 5, N - 5)
    for layer, expected in enumerate(reference):
        assert torch.allclose(column[layer], expected[:, 5:, 5], atol=1e-4)


def test_sliding_window_is_recorded(captured: Any) -> None:
    name, _, _, win, reference = captured
    if name == "mistral-sliding":
        assert win.sliding_window == [9] * len(reference)
        assert float(reference[0][0, 40, :31].abs().max()) == 0.0  # eager masks it too


def _reference_effective(a: torch.Tensor, values: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Project row a onto the column space of the allowed value rows, via an SVD of T."""
    t = values[allowed].double()
    u, s, _ = torch.linalg.svd(t, full_matrices=False)
    keep = s > s[0] * RANK_RTOL
    basis = u[:, keep]
    out = torch.zeros_like(a, dtype=torch.float64)
    out[allowed] = basis @ (basis.T @ a[allowed].double())
    return out


def _expected_rows(win: CapturedWindow, model: Any, refinement: str) -> torch.Tensor:
    layers = win.query.shape[0]
    heads, kv_heads, d = win.query.shape[1], win.key.shape[1], win.query.shape[3]
    raw = raw_rows(win, torch.arange(layers), 0, N)
    modules = [m for m in model.modules() if hasattr(m, "layer_idx") and m.__class__.__name__.endswith("Attention")]
    expected = torch.zeros_like(raw, dtype=torch.float64)
    for layer in range(layers):
        w_o = output_projection(modules[layer], heads, d).double()
        for h in range(heads):
            values = win.value[layer, h // (heads // kv_heads)].double()  # t_j
            f_norm = torch.linalg.norm(values @ w_o[h], dim=-1)  # ||t_j W_O^h||, explicitly
            for i in range(N):
                a = raw[layer, h, i].double()
                allowed = a > 0
                if refinement == "norm":
                    row = a * f_norm
                elif refinement.startswith("effective"):
                    row = _reference_effective(a, values, allowed).clamp_min(0)
                    if refinement == "effective+norm":
                        row = row * f_norm
                else:
                    row = a
                expected[layer, h, i] = row / row.sum()
    return expected


@pytest.mark.parametrize("refinement", ["norm", "effective", "effective+norm"])
def test_refinements_match_slow_references(captured: Any, refinement: str) -> None:
    _, model, _, win, _ = captured
    layers = torch.arange(win.query.shape[0])
    got = _blockwise(win, layers, refinement)
    expected = _expected_rows(win, model, refinement)
    assert torch.allclose(got.double(), expected, atol=2e-4), float((got.double() - expected).abs().max())
    sums = got.sum(-1)
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5)


def _blockwise(win: CapturedWindow, layers: torch.Tensor, refinement: str) -> torch.Tensor:
    out = torch.zeros((len(layers), win.query.shape[1], N, N))
    for start in range(0, N, 16):
        size = min(16, N - start)
        out[:, :, start : start + size, : start + size] = refined_rows(win, layers, start, size, refinement)
    return out


def test_effective_is_identity_for_rows_with_independent_values(captured: Any) -> None:
    _, _, _, win, _ = captured
    layers = torch.arange(1, win.query.shape[0])  # past layer 0, repeated tokens have distinct values
    d = win.query.shape[3]
    raw = raw_rows(win, layers, 0, d)
    eff = refined_rows(win, layers, 0, d, "effective")
    assert torch.allclose(raw, eff, atol=1e-4)


def test_prefix_reuse_equals_fresh_capture(captured: Any) -> None:
    _, model, ids, win, _ = captured
    edited = [*ids[:60], 3, *ids[61:]]
    fresh = run_capture(model, edited, 0)
    reused = run_capture(model, edited, 0, prefix=win, reuse=60)
    assert reused.recomputed == N - 60
    for name in ("query", "key", "value", "lse", "value_norm", "hidden"):
        assert torch.allclose(getattr(reused, name), getattr(fresh, name), atol=1e-4), name
    assert torch.allclose(reused.gram, fresh.gram, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("heads", "kv_heads", "new"), [(9, 3, 7), (4, 4, 1), (6, 1, 5)])
def test_cached_prefix_attention_equals_the_masked_kernel(heads: int, kv_heads: int, new: int) -> None:
    """New rows over a KV-cached prefix: split into an unmasked prefix part and a causal block, merged by lse."""
    torch.manual_seed(heads * 10 + new)
    n, d = 50, 16
    query = torch.randn(1, heads, new, d)
    key, value = torch.randn(1, kv_heads, n, d), torch.randn(1, kv_heads, n, d)
    mask = (torch.arange(n)[None, :] <= torch.arange(n - new, n)[:, None])[None, None]
    assert is_offset_causal(mask, new, n)
    bias = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
    groups = heads // kv_heads
    expected = attention_with_lse(query, repeat_kv(key, groups), repeat_kv(value, groups), bias, False, 0.3)
    out, lse = cached_prefix_attention(query, key, value, n - new, 0.3)
    assert torch.allclose(out, expected[0], atol=1e-5) and torch.allclose(lse, expected[1], atol=1e-5)
    padded = mask.clone()
    padded[..., 0] = False  # a padded batch row: not the plain causal pattern, so the masked kernel is used
    assert not is_offset_causal(padded, new, n)


def test_column_mask_is_the_column_of_the_source_mask(captured: Any) -> None:
    win = captured[3]
    layers = torch.arange(win.query.shape[0])
    for source, first in ((0, 0), (5, 3), (17, 17), (20, 30)):
        count = win.n - first
        full = source_mask(win, layers, first, count, win.n)[:, :, source]
        assert torch.equal(column_mask(win, layers, source, first, count), full)


def test_norm_totals_are_lazy_per_layer_and_reused_after_an_edit(captured: Any) -> None:
    _, model, ids, win, _ = captured
    layers = torch.arange(win.query.shape[0])
    last = layers[-1:]
    edited = [*ids[:40], 3, *ids[41:]]
    before = run_capture(model, ids, 0)
    norm_totals(before, last)
    assert list(before.norm_totals) == [int(last)]  # only the layer asked for was computed
    reused = run_capture(model, edited, 0, prefix=before, reuse=40)
    fresh = run_capture(model, edited, 0)
    # the reused window takes rows < 40 of the last layer from its prefix and computes the rest
    assert torch.allclose(norm_totals(reused, layers), norm_totals(fresh, layers), rtol=1e-4, atol=1e-6)
    # Z_i = sum_j a_ij ||f(j)||, checked against rows rebuilt from q, k
    rows = raw_rows(fresh, layers, 0, fresh.n)  # (L, H, n, n)
    expected = (rows * fresh.value_norm[:, :, None, :]).sum(-1)
    assert torch.allclose(norm_totals(fresh, layers), expected, rtol=1e-4, atol=1e-6)
    event = threading.Event()
    event.set()
    with cancellation.cancellable(event), pytest.raises(Cancelled):
        norm_totals(run_capture(model, ids, 0), layers)


def test_norm_totals_built_in_passes_of_rows_equal_one_pass(captured: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Passes of 7 rows (the first causal, the rest a cached prefix plus a causal block, sliding
    windows masked) give the totals of rows rebuilt from q and k, and resume after a cancel."""
    _, model, ids, _, _ = captured
    monkeypatch.setattr(refine, "NORM_TOTAL_ROWS", 7)
    win = run_capture(model, ids, 0)
    layers = torch.arange(win.query.shape[0])
    expected = (raw_rows(win, layers, 0, win.n) * win.value_norm[:, :, None, :]).sum(-1)
    calls = {"count": 0}
    event = threading.Event()

    def cancel_on_the_third_pass() -> None:
        calls["count"] += 1
        if calls["count"] == 3:
            event.set()
        if event.is_set():
            raise Cancelled("stop")

    monkeypatch.setattr(refine.cancellation, "check", cancel_on_the_third_pass)
    with pytest.raises(Cancelled):
        refine.prepare_columns(win, layers, "norm")
    assert win.norm_totals == {}  # a layer is kept only once it is whole
    event.clear()
    refine.prepare_columns(win, layers, "norm")
    assert sorted(win.norm_totals) == layers.tolist()
    assert torch.allclose(norm_totals(win, layers), expected, rtol=1e-4, atol=1e-6)


def test_a_dispatched_model_stays_where_accelerate_put_it_and_reuses_its_prefix(tmp_path: Any) -> None:
    """A model loaded with a device map (layers spread over GPUs on a large machine) is not moved by
    ``prepare``; its inputs go where its embeddings are, and each layer's reused prefix cache is
    placed on that layer's device. On the CPU every layer maps to the CPU, so this checks the path,
    not a second device."""
    from transformers import AutoModelForCausalLM

    from atten_scope.engine.architecture import layer_devices
    from atten_scope.engine.model import placement, prepare

    name = sorted(tiny_models())[0]
    build_tiny(name).save_pretrained(tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path, attn_implementation="sdpa")
    # What accelerate's dispatch leaves on a model (transformers sets it only when the map spans devices).
    model.hf_device_map = {"": "cpu"}
    loaded = prepare(name, model, None, torch.device("meta"))  # a dispatched model ignores the target
    assert loaded.device == torch.device("cpu")
    assert set(layer_devices(model).values()) == {torch.device("cpu")}
    assert sorted(layer_devices(model)) == list(range(loaded.info.layers))
    ids = torch.randint(2, 128, (40,), generator=torch.Generator().manual_seed(3)).tolist()
    first = run_capture(model, ids, 0)
    edited = [*ids[:30], 5, *ids[31:]]
    reused = run_capture(model, edited, 0, prefix=first, reuse=30)
    fresh = run_capture(model, edited, 0)
    assert reused.recomputed == 10
    assert torch.allclose(reused.lse, fresh.lse, atol=1e-4)
    assert placement(torch.device("cpu")) == {}
