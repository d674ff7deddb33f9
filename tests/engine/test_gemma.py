"""The second embedded model, Gemma 3 270M: sliding-window and global layers, QK-norm, one KV head.

Rows and columns rebuilt from the captured state equal eager attention on a real code file longer
than 1,024 tokens (so the sliding-window layers cut sources off and the global ones do not), for
raw and for norm weighting, in windows longer and shorter than the sliding window.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

from atten_scope.engine.analysis import run_analysis
from atten_scope.engine.architecture import output_projection
from atten_scope.engine.embedded import GEMMA3
from atten_scope.engine.recorder import install_capture_attention
from atten_scope.engine.refine import refined_column, refined_rows
from atten_scope.protocol.builders import view_result
from tests.engine.test_lens import check_lens, hooked_pass, position

pytestmark = pytest.mark.skipif(not GEMMA3.installed(), reason=f"the Gemma 3 packages are missing: {GEMMA3.install}")

# A real file nobody here wrote, read from the installed standard library (not copied into the repo).
SOURCE = Path(textwrap.__file__).read_text(encoding="utf-8")[:4400]


@pytest.fixture(scope="module")
def gemma() -> Any:
    from atten_scope.engine.model import load_model

    return load_model(GEMMA3.id, "cpu")


@pytest.fixture(scope="module")
def analyses(gemma: Any) -> dict[int, Any]:
    """The file analysed in one window longer than the sliding window, and in windows shorter than it."""
    return {max_tokens: run_analysis(gemma, SOURCE, max_tokens) for max_tokens in (4096, 384)}


@pytest.fixture(scope="module")
def eager(gemma: Any, analyses: dict[int, Any]) -> tuple[list[int], list[torch.Tensor], list[torch.Tensor]]:
    """Token ids, eager attention (H, n, n) and the value vectors (n, d) of every layer."""
    ids = analyses[4096].document.ids
    model = gemma.model
    values: list[torch.Tensor] = []
    modules = [m for m in model.modules() if m.__class__.__name__.endswith("Attention") and hasattr(m, "v_proj")]
    hooks = [m.v_proj.register_forward_hook(lambda _m, _i, out: values.append(out[0].detach())) for m in modules]
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            attentions = model(torch.tensor([ids]), output_attentions=True).attentions
    finally:
        for hook in hooks:
            hook.remove()
        install_capture_attention(model)
    return ids, [a[0] for a in attentions], values


def test_gemma_is_a_sliding_window_model_on_a_long_file(gemma: Any, analyses: dict[int, Any]) -> None:
    ids = analyses[4096].document.ids
    assert gemma.info.layers == 18 and gemma.info.heads == 4 and gemma.info.kv_heads == 1 and gemma.info.head_dim == 256
    assert len(ids) > 1024
    windows = analyses[4096].windows[0].sliding_window
    assert windows.count(None) == 3 and windows.count(512) == 15  # global attention on every sixth layer


@pytest.mark.parametrize("max_tokens", [4096, 384])  # one window longer, several shorter than 512
def test_gemma_rows_and_columns_equal_eager_attention(
    gemma: Any, analyses: dict[int, Any], eager: Any, max_tokens: int
) -> None:
    ids, attentions, values = eager
    analysis = analyses[max_tokens]
    assert analysis.document.ids == ids
    modules = [m for m in gemma.model.modules() if m.__class__.__name__.endswith("Attention") and hasattr(m, "v_proj")]
    win = analysis.windows[0]
    first, count = win.n - 24, 24  # the last rows of the first window see up to its start
    heads, d = gemma.info.heads, gemma.info.head_dim
    for layer in (0, 5, 11, 17):
        # Eager attention of a window that starts at 0 equals the full file's rows over that prefix.
        expected_raw = attentions[layer][:, first : first + count, : first + count]
        rows = refined_rows(win, torch.tensor([layer]), first, count, "raw")[0]
        assert torch.allclose(rows, expected_raw, atol=1e-4)
        norms = torch.stack(
            [
                torch.linalg.norm(
                    values[layer][: first + count] @ output_projection(modules[layer], heads, d)[h], dim=-1
                )
                for h in range(heads)
            ]
        )  # ||t_j W_O^h||: (H, sources)
        weighted = expected_raw * norms[:, None, :]
        expected_norm = weighted / weighted.sum(-1, keepdim=True)
        assert torch.allclose(
            refined_rows(win, torch.tensor([layer]), first, count, "norm")[0], expected_norm, atol=1e-4
        )
        # attendedBy: the column of a source read straight from q, k and the row's log-sum-exp
        source = first - 300 if first > 300 else 1
        column = refined_column(win, torch.tensor([layer]), source, first, count, "raw")[0]
        assert torch.allclose(column, attentions[layer][:, first : first + count, source], atol=1e-4)
        norm_column = refined_column(win, torch.tensor([layer]), source, first, count, "norm")[0]
        full = attentions[layer][:, first : first + count, : first + count] * norms[:, None, :]
        assert torch.allclose(norm_column, full[..., source] / full.sum(-1), atol=1e-4)


@pytest.fixture(scope="module")
def short(gemma: Any) -> Any:
    """A few hundred tokens in windows of 96: the token asked about is owned by a later window."""
    return run_analysis(gemma, SOURCE[:900], 96)


def test_gemma_logit_lens_equals_hooked_layers_through_the_norm_and_head(gemma: Any, short: Any) -> None:
    token = short.token_count - 4
    assert short.owner(token)[1] > 0
    check_lens(short, gemma, token, atol=2e-4)


def test_gemma_contrast_adds_up_to_the_logit_difference(gemma: Any, short: Any) -> None:
    token = short.token_count - 4
    prediction = short.prediction(token)
    assert prediction is not None
    params = {"position": position(short, token), "alternative": prediction.top[1][0]}
    result = view_result("contrast", short, params, model=gemma)
    win, local = short.owner(token)
    logits = hooked_pass(gemma.model, win.ids[: local + 1])["logits"]
    expected = float(logits[prediction.top[0][0]] - logits[prediction.top[1][0]])
    assert result["difference"] == pytest.approx(expected, abs=2e-3)
    parts = result["attention"] + result["mlp"] + result["residual"] + result["remainder"]
    assert parts == pytest.approx(result["difference"], abs=1e-9)
    # Gemma 3 has no final soft-cap and its sandwich norms are read at the token's own scale.
    assert abs(result["remainder"]) < 1e-3
    layers = result["layers"]
    assert sum(entry["attention"] for entry in layers) == pytest.approx(result["attention"], abs=1e-6)
    assert sum(entry["mlp"] for entry in layers) == pytest.approx(result["mlp"], abs=1e-6)
