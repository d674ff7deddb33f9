"""Captured windows under a memory budget: compact storage against eager attention, spilling to
disk and back, refusals that say what to do; out-of-memory as a sentence."""

from __future__ import annotations

import gc
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from atten_scope.common.errors import DocumentError, is_out_of_memory
from atten_scope.engine import storage
from atten_scope.engine.analysis import run_analysis, window_shape
from atten_scope.engine.capture import run_capture
from atten_scope.engine.recorder import install_capture_attention
from atten_scope.engine.refine import refined_column, refined_rows
from atten_scope.engine.storage import MemoryBudget, WindowShape, compact, is_spilled, resident_bytes, spill
from tests.conftest import build_tiny, tiny_models

# float16 rounds q, k and v to 2^-11 relative; a refined weight of one head moves by at most
# ~3e-3 on the embedded model (measured 2.5e-3 raw, 2.3e-3 norm, 1.4e-3 effective over 2,048
# tokens of real code). The editor shows weights as percentages with one decimal and in 5-8 colour
# buckets, so this moves the last shown digit of a single head's weight by at most 0.5 and a
# colour only for weights within 0.5 % of a bucket's edge; head means average it down further.
COMPACT_ATOL = 5e-3
REFINEMENTS = ["raw", "norm", "effective", "effective+norm"]
EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "tokenizer.py").read_text()


def eager_attentions(model: Any, ids: list[int]) -> list[torch.Tensor]:
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model(torch.tensor([ids]), output_attentions=True)
    finally:
        install_capture_attention(model)
    return [a[0] for a in out.attentions]  # (H, n, n) per layer


@pytest.mark.parametrize("name", sorted(tiny_models()))
def test_compact_windows_rebuild_eager_attention_within_the_display_tolerance(name: str) -> None:
    model = build_tiny(name)
    ids = torch.randint(2, 128, (80,), generator=torch.Generator().manual_seed(7)).tolist()
    reference = eager_attentions(model, ids)
    win = run_capture(model, ids, 0)
    full = replace(win, norm_totals={})
    compact(win)
    assert win.query.dtype == torch.float16 and win.key.dtype == torch.float16 and win.value.dtype == torch.float16
    layers = torch.arange(len(reference))
    rows = refined_rows(win, layers, 0, 80, "raw")
    for layer, expected in enumerate(reference):
        assert torch.allclose(rows[layer], expected, atol=COMPACT_ATOL), f"layer {layer}"
    for refinement in REFINEMENTS:
        got = refined_rows(win, layers, 40, 40, refinement)
        exact = refined_rows(full, layers, 40, 40, refinement)
        assert torch.allclose(got, exact, atol=COMPACT_ATOL), (refinement, float((got - exact).abs().max()))
        assert torch.allclose(got.sum(-1), torch.ones(got.shape[:-1]), atol=1e-5)


@pytest.fixture(scope="module")
def compact_analysis(embedded: Any, tmp_path_factory: Any) -> Any:
    budget = MemoryBudget(4096, tmp_path_factory.mktemp("windows"))
    return run_analysis(embedded, EXAMPLE, 4096, budget=budget), budget


def test_a_budgeted_analysis_is_compact_and_matches_eager_on_the_embedded_model(
    embedded: Any, compact_analysis: Any
) -> None:
    analysis, budget = compact_analysis
    win = analysis.windows[0]
    assert win.query.dtype == torch.float16 and budget.resident() == resident_bytes(win)
    ids = analysis.document.ids
    reference = eager_attentions(embedded.model, ids)
    for layer in (0, 7, 15, 29):
        rows = refined_rows(win, torch.tensor([layer]), len(ids) - 40, 40, "raw")[0]
        expected = reference[layer][:, len(ids) - 40 :, :]
        assert torch.allclose(rows, expected, atol=COMPACT_ATOL), layer


def test_compact_norm_columns_agree_with_compact_rows(compact_analysis: Any) -> None:
    analysis, _ = compact_analysis
    win = analysis.windows[0]
    layers = torch.arange(20, 30)
    rows = refined_rows(win, layers, 30, 60, "norm")  # (L', H, 60, 90)
    column = refined_column(win, layers, 25, 30, 60, "norm")  # (L', H, 60)
    assert torch.allclose(column, rows[..., 25], atol=COMPACT_ATOL)


def test_an_edit_over_compact_windows_equals_a_fresh_compact_analysis(embedded: Any, tmp_path: Path) -> None:
    budget = MemoryBudget(4096, tmp_path)
    before = run_analysis(embedded, EXAMPLE, 4096, budget=budget)
    edited = EXAMPLE.replace("def ", "def  ", 3)
    after = run_analysis(embedded, edited, 4096, previous=before, budget=budget)
    fresh = run_analysis(embedded, edited, 4096, budget=budget)
    assert after.reused_tokens > 0
    layers = torch.arange(30)
    n = after.token_count
    for refinement in ("raw", "norm"):
        got = refined_rows(after.windows[0], layers, n - 20, 20, refinement)
        expected = refined_rows(fresh.windows[0], layers, n - 20, 20, refinement)
        assert torch.allclose(got, expected, atol=COMPACT_ATOL), refinement


def test_a_spilled_window_reads_the_same_rows_and_leaves_no_file(tmp_path: Path) -> None:
    model = build_tiny("llama-gqa")
    install_capture_attention(model)
    ids = list(range(2, 90))
    win = run_capture(model, ids, 0)
    compact(win)
    layers = torch.arange(3)
    before = {r: refined_rows(win, layers, 50, 38, r) for r in REFINEMENTS}
    spill(win, tmp_path)
    assert is_spilled(win) and resident_bytes(win) == 0
    for refinement, expected in before.items():
        assert torch.equal(refined_rows(win, layers, 50, 38, refinement), expected), refinement
    if os.name == "posix":  # unlinked once mapped: the space returns with the window, even after a crash
        assert list(tmp_path.iterdir()) == []


def test_windows_over_the_budget_are_spilled_oldest_first_and_forgotten_when_dropped(tmp_path: Path) -> None:
    model = build_tiny("llama-gqa")
    install_capture_attention(model)
    windows = [run_capture(model, list(range(2 + k, 90)), 0) for k in range(3)]
    size = 0
    for win in windows:
        compact(win)
        size = max(size, resident_bytes(win))
    budget = MemoryBudget(1, tmp_path)
    budget.limit_bytes = 2 * size  # two windows fit in memory
    for win in windows:
        budget.admit(win)
    assert [is_spilled(w) for w in windows] == [True, False, False]
    assert budget.resident() <= budget.limit_bytes
    del windows[1:], win
    gc.collect()
    assert budget.resident() == 0  # the dropped windows left the accounting by themselves


def test_an_analysis_that_cannot_fit_is_refused_before_it_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    shape = WindowShape(layers=30, heads=9, kv_heads=3, head_dim=64)
    budget = MemoryBudget(256, tmp_path)
    with pytest.raises(DocumentError, match=r"raise attenScope\.memoryBudgetMB or lower attenScope\.maxTokens"):
        budget.check_fits(shape, [4096])
    budget.check_fits(shape, [1024])  # one window of 1,024 tokens fits in 256 MB
    monkeypatch.setattr(storage, "_free_disk", lambda _: 10 << 20)
    with pytest.raises(DocumentError, match="free disk space, set ATTEN_SCOPE_CACHE_DIR"):
        budget.check_fits(shape, [1024] * 20)


def test_the_window_shape_counts_what_a_capture_holds(embedded: Any, compact_analysis: Any) -> None:
    analysis, _ = compact_analysis
    win = analysis.windows[0]
    assert window_shape(embedded).window_bytes(win.n, compact=True) == win.nbytes()


def test_allocation_failures_read_as_out_of_memory() -> None:
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes"))
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape '[30, 3]' is invalid for input of size 0"))


async def test_out_of_memory_in_a_view_is_a_request_failed_sentence() -> None:
    from atten_scope.lsp.rpc_errors import REQUEST_FAILED, RequestFailed, translate_errors

    @translate_errors
    async def view(*_: Any) -> None:
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 2147483648 bytes")

    with pytest.raises(RequestFailed) as raised:
        await view()
    assert raised.value.code == REQUEST_FAILED
    assert "attenScope.memoryBudgetMB" in str(raised.value)


def test_the_memory_budget_setting_is_checked_against_its_limit() -> None:
    from atten_scope.limits import MEMORY_BUDGET_MB
    from atten_scope.lsp.settings import parse_settings

    settings, warnings = parse_settings({"memoryBudgetMB": 8192})
    assert settings.memory_budget_mb == 8192 and warnings == []
    kept, warnings = parse_settings({"memoryBudgetMB": MEMORY_BUDGET_MB.minimum - 1}, settings)
    assert kept.memory_budget_mb == 8192
    assert warnings == [
        f"Setting attenScope.memoryBudgetMB: expected a whole number from {MEMORY_BUDGET_MB.minimum} to "
        f"{MEMORY_BUDGET_MB.maximum}; the previous value is kept."
    ]
