"""The embedded model on real code: exactness against eager attention, windows, edits, directions."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from atten_scope.common import cancellation
from atten_scope.common.errors import Cancelled
from atten_scope.engine import refine
from atten_scope.engine.aggregate import combine
from atten_scope.engine.analysis import plan_windows, run_analysis
from atten_scope.engine.refine import raw_rows, refined_rows
from atten_scope.views.attention import (
    attention_matrix,
    attention_vector,
    combined_rows,
    head_vectors,
    prepare_attended_by,
)
from atten_scope.views.options import ViewOptions

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "tokenizer.py").read_text()


@pytest.fixture(scope="module")
def analysis(embedded: Any) -> Any:
    return run_analysis(embedded, EXAMPLE, 4096)


def test_embedded_model_rows_match_eager(embedded: Any, analysis: Any) -> None:
    model = embedded.model
    ids = analysis.document.ids
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            reference = model(torch.tensor([ids]), output_attentions=True).attentions
    finally:
        from atten_scope.engine.recorder import install_capture_attention

        install_capture_attention(model)
    win = analysis.windows[0]
    for layer in (0, 7, 15, 29):
        rows = raw_rows(win, torch.tensor([layer]), len(ids) - 40, 40)[0]
        expected = reference[layer][0, :, len(ids) - 40 :, :]
        assert torch.allclose(rows, expected, atol=1e-4)


@pytest.mark.parametrize("refinement", ["raw", "norm", "effective", "effective+norm"])
def test_rows_sum_to_one_without_the_sink(analysis: Any, refinement: str) -> None:
    weights = attention_vector(analysis, 200, ViewOptions(refinement=refinement))
    assert weights[0] == 0.0
    assert abs(weights.sum() - 1.0) < 1e-6
    assert np.all(weights[201:] == 0)


def test_attended_by_column_matches_rows(analysis: Any) -> None:
    options = ViewOptions(direction="attendedBy", refinement="norm", drop_sink=False)
    column = attention_vector(analysis, 150, options)
    rows = np.array(
        [attention_vector(analysis, i, ViewOptions(refinement="norm", drop_sink=False))[150] for i in range(150, 170)]
    )
    # The column is row_i[150] for each later token i, normalised over i: a constant ratio.
    ratio = column[150:170] / rows
    assert np.allclose(ratio, ratio[0], rtol=1e-4)
    assert np.all(column[:150] == 0)


def test_attended_by_built_ahead_reads_only_the_weighed_layers(embedded: Any) -> None:
    """The background build makes the norm totals of the layers lastLayers weighs, in every window;
    the first attendedBy request then builds nothing, and a cancelled build resumes."""
    analysis = run_analysis(embedded, EXAMPLE[:1500], 160)
    assert len(analysis.windows) > 1
    options = ViewOptions(direction="attendedBy")
    event = threading.Event()
    event.set()
    with cancellation.cancellable(event), pytest.raises(Cancelled):
        prepare_attended_by(analysis, options)
    prepare_attended_by(analysis, options)
    last_half = list(range(15, 30))
    assert all(sorted(win.norm_totals) == last_half for win in analysis.windows)
    before = [dict(win.norm_totals) for win in analysis.windows]
    column = attention_vector(analysis, 100, options)
    assert abs(column.sum() - 1) < 1e-6
    assert all(
        win.norm_totals.keys() == built.keys() and all(win.norm_totals[k] is built[k] for k in built)
        for win, built in zip(analysis.windows, before, strict=True)
    )


@pytest.mark.parametrize(("aggregate", "layers"), [("lastLayers", None), ("headMean", (3, 9, 20)), ("perHead", (12,))])
def test_rows_of_a_linear_aggregate_refine_only_the_layers_it_weighs(
    analysis: Any, monkeypatch: pytest.MonkeyPatch, aggregate: str, layers: tuple[int, ...] | None
) -> None:
    """A cursor's rows refine just the layers the aggregate gives weight (the last half for
    lastLayers) and equal the aggregate of every selected layer's rows."""
    options = ViewOptions(
        refinement="norm", aggregate=aggregate, layers=layers, heads=(4,) if aggregate == "perHead" else None
    )
    win, first, count = analysis.windows[0], 180, 20
    read: list[list[int]] = []
    original = refine.ROW_BUILDERS.get("norm")

    def spy(win: Any, chosen: torch.Tensor, first: int, count: int) -> torch.Tensor:
        read.append(chosen.tolist())
        return original(win, chosen, first, count)

    monkeypatch.setitem(refine.ROW_BUILDERS.functions, "norm", spy)
    rows = combined_rows(analysis, win, options, first, count)
    monkeypatch.undo()
    selected = list(layers) if layers is not None else list(range(30))
    weighed = selected[len(selected) // 2 :] if aggregate == "lastLayers" else selected
    assert read and all(chosen == weighed for chosen in read)
    every = refined_rows(win, torch.tensor(selected), first, count, "norm")[:, list(options.heads or range(9))]
    assert torch.allclose(rows, combine(every, aggregate), atol=1e-6)


@pytest.mark.parametrize("refinement", ["norm", "raw"])
def test_head_max_attended_by_reads_columns_over_row_totals(embedded: Any, refinement: str) -> None:
    """headMax (Gemma 3's default aggregate) is not linear in the rows; with its row totals built
    ahead, an attendedBy column reads no row and equals the one rebuilt from rows, in every window."""
    analysis = run_analysis(embedded, EXAMPLE[:1500], 160)
    assert len(analysis.windows) > 1
    options = ViewOptions(direction="attendedBy", refinement=refinement, aggregate="headMax", drop_sink=False)
    rebuilt = {token: attention_vector(analysis, token, options) for token in (3, 90, 150)}
    prepare_attended_by(analysis, options)
    assert all(len(win.combined_totals) == 1 for win in analysis.windows)
    built: list[int] = []
    original = refine.ROW_BUILDERS.get(refinement)

    def spy(win: Any, chosen: torch.Tensor, first: int, count: int) -> torch.Tensor:
        built.append(count)
        return original(win, chosen, first, count)

    refine.ROW_BUILDERS.functions[refinement] = spy
    try:
        for token, expected in rebuilt.items():
            column = attention_vector(analysis, token, options)
            assert np.allclose(column, expected, atol=1e-6), token
            assert abs(column.sum() - 1) < 1e-6
    finally:
        refine.ROW_BUILDERS.functions[refinement] = original
    assert not built


def test_raw_attended_by_fast_path_matches_block_path(analysis: Any) -> None:
    fast = attention_vector(analysis, 120, ViewOptions(direction="attendedBy", refinement="raw"))
    slow = attention_vector(analysis, 120, ViewOptions(direction="attendedBy", refinement="raw", aggregate="headMax"))
    assert abs(fast.sum() - 1) < 1e-6 and abs(slow.sum() - 1) < 1e-6
    assert np.argmax(fast) >= 120


def test_windows_cover_long_files_and_overlap() -> None:
    plan = plan_windows(10_000, 4096)
    assert plan[0] == (0, 4096) and plan[-1][1] == 10_000
    for (_, e1), (s2, _) in itertools.pairwise(plan):
        assert s2 < e1 and e1 - s2 == 1024


def test_windowed_analysis_and_owner(embedded: Any) -> None:
    analysis = run_analysis(embedded, EXAMPLE, 64)
    assert len(analysis.windows) > 2
    token = analysis.token_count - 1
    win, _ = analysis.owner(token)
    weights = attention_vector(analysis, token, ViewOptions())
    assert abs(weights.sum() - 1) < 1e-6
    assert np.all(weights[: win.start] == 0)  # nothing outside the owning window
    matrix = attention_matrix(analysis, ViewOptions(refinement="raw"), 40, 60)
    assert matrix.shape == (60, 60)


def test_progress_names_the_window_of_a_long_file(embedded: Any) -> None:
    messages: list[str] = []
    analysis = run_analysis(embedded, EXAMPLE, 64, progress=lambda _, message: messages.append(message))
    count = len(analysis.windows)
    assert count > 2
    for number in (1, 2, count):
        assert any(m.startswith(f"Window {number} of {count}: running the model") for m in messages), messages[:5]
    assert any(f"(window 2 of {count}: tokens " in m for m in messages)


def test_edit_reuses_prefix_and_equals_fresh(embedded: Any, analysis: Any) -> None:
    cut = int(len(EXAMPLE) * 0.9)
    edited = EXAMPLE[:cut] + "x" + EXAMPLE[cut:]
    incremental = run_analysis(embedded, edited, 4096, previous=analysis)
    fresh = run_analysis(embedded, edited, 4096)
    assert incremental.reused_tokens > 0.8 * analysis.token_count
    assert incremental.windows[0].recomputed < 0.2 * incremental.token_count
    token = incremental.token_count - 1
    for refinement in ("raw", "effective+norm"):
        a = attention_vector(incremental, token, ViewOptions(refinement=refinement))
        b = attention_vector(fresh, token, ViewOptions(refinement=refinement))
        assert np.allclose(a, b, atol=1e-5)


def test_heads_and_rollout(analysis: Any) -> None:
    rows, start = head_vectors(analysis, 100, ViewOptions(refinement="raw"))
    assert rows.shape[:2] == (30, 9) and start == 0
    rolled = attention_vector(analysis, 60, ViewOptions(aggregate="rollout", refinement="raw", layers=(26, 27, 28, 29)))
    assert abs(rolled.sum() - 1) < 1e-6


def test_streamed_rollout_equals_the_matrix_product(analysis: Any) -> None:
    """Rollout rows and columns are streamed block by block; they equal R = A_hat_L ... A_hat_1 built whole."""
    layers = (3, 11, 20, 29)
    options = ViewOptions(aggregate="rollout", refinement="norm", layers=layers, drop_sink=False)
    win = analysis.windows[0]
    n = 90
    product = torch.eye(n, dtype=torch.float64)
    for layer in layers:
        rows = refined_rows(win, torch.tensor([layer]), 0, n, "norm")[0].mean(dim=0).double()  # (n, n)
        product = (0.5 * rows + 0.5 * torch.eye(n, dtype=torch.float64)) @ product
    row = attention_vector(analysis, n - 1, options)[:n]
    assert np.allclose(row, (product[n - 1] / product[n - 1].sum()).numpy(), atol=1e-6)
    column = attention_vector(analysis, 40, replace(options, direction="attendedBy"))
    expected = product[:, 40].numpy()
    # the column spans every later token of the file; compare on the first n rows after normalising
    scale = column[40] / expected[40]
    assert np.allclose(column[40:n], expected[40:n] * scale, rtol=1e-4, atol=1e-9)
    # The heatmap's rollout rows come from the same streamed rollout, many rows at once.
    matrix = attention_matrix(analysis, options, 0, n)
    tail = product[n - 10 :]
    assert np.allclose(matrix[n - 10 :], (tail / tail.sum(1, keepdim=True)).numpy(), atol=1e-6)


def test_a_cancelled_view_stops_between_blocks(analysis: Any) -> None:
    event = threading.Event()
    event.set()
    with cancellation.cancellable(event), pytest.raises(Cancelled):
        attention_vector(analysis, 40, ViewOptions(direction="attendedBy", refinement="effective"))
    with cancellation.cancellable(threading.Event()):  # not cancelled: answers
        assert abs(attention_vector(analysis, 250, ViewOptions(refinement="effective")).sum() - 1) < 1e-6
