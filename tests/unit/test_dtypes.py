"""The captured state in the model's own dtype and device: what a GPU run keeps (bf16 / fp16 on CUDA).

The CPU bf16 case always runs; the CUDA cases run wherever PyTorch sees a GPU. Rows are rebuilt in
float32 from the half-precision state and compared with the model's own eager attention in that
dtype, to the dtype's precision.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from atten_scope.engine.capture import run_capture
from atten_scope.engine.recorder import install_capture_attention
from atten_scope.engine.refine import raw_rows, refined_rows
from tests.conftest import build_tiny

N = 48
CASES = [("cpu", torch.bfloat16)]
if torch.cuda.is_available():
    CASES += [("cuda", torch.bfloat16), ("cuda", torch.float16), ("cuda", torch.float32)]
# bf16 keeps 8 bits of mantissa (a relative step of 2^-8): scores of a few units round by ~1e-2,
# which moves a softmax weight by about that much; fp16 keeps 11 bits.
TOLERANCE = {torch.bfloat16: 1e-2, torch.float16: 5e-3, torch.float32: 1e-4}


def eager_rows(model: Any, ids: torch.Tensor) -> torch.Tensor:
    model.set_attn_implementation("eager")
    with torch.no_grad():
        attentions = model(ids, output_attentions=True).attentions
    return torch.stack([a[0].float() for a in attentions])  # (L, H, n, n)


@pytest.mark.parametrize(("device", "dtype"), CASES, ids=[f"{d}-{str(t).removeprefix('torch.')}" for d, t in CASES])
@pytest.mark.parametrize("name", ["llama-gqa", "mistral-sliding"])
def test_state_stays_in_the_models_dtype_and_rows_match_eager(name: str, device: str, dtype: torch.dtype) -> None:
    model = build_tiny(name).to(device=device, dtype=dtype)
    ids = torch.randint(2, 128, (N,), generator=torch.Generator().manual_seed(11))
    reference = eager_rows(model, ids[None].to(device))
    install_capture_attention(model)
    win = run_capture(model, ids.tolist(), 0)
    assert win.query.dtype == dtype and win.key.dtype == dtype and win.query.device.type == device
    layers = torch.arange(win.query.shape[0])
    rows = raw_rows(win, layers, 0, N)
    assert rows.dtype == torch.float32  # refinements compute in float32 whatever the state's dtype
    assert torch.allclose(rows, reference, atol=TOLERANCE[dtype]), float((rows - reference).abs().max())
    sums = refined_rows(win, layers, 0, N, "norm").sum(-1)
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-4)
