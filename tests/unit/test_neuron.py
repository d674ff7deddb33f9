"""The neuron view against the rebuilt attention: its logit and weight are the head's own."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.analysis import Analysis, run_analysis
from atten_scope.engine.model import LoadedModel, model_info
from atten_scope.engine.recorder import install_capture_attention
from atten_scope.engine.refine import raw_rows
from atten_scope.protocol.builders import view_result
from atten_scope.views.neuron import neuron_pair, top_source
from tests.conftest import build_tiny

TEXT = "def area(r):\n    return 3.14159 * r * r\n\nprint(area(2), area(3))\n" * 2


class CharTokenizer:
    """One token per character (ids below the tiny models' vocabulary of 128)."""

    is_fast = True
    all_special_ids: tuple[int, ...] = ()

    def __call__(self, text: str, **_: Any) -> dict[str, Any]:
        return {
            "input_ids": [2 + ord(c) % 126 for c in text],
            "offset_mapping": [(i, i + 1) for i in range(len(text))],
        }

    def convert_ids_to_tokens(self, ids: list[int]) -> list[None]:
        return [None for _ in ids]


def tiny_analysis(name: str, max_tokens: int = 48) -> Analysis:
    model = build_tiny(name)
    install_capture_attention(model)
    loaded = LoadedModel(
        info=model_info(name, model), model=model, tokenizer=CharTokenizer(), device=torch.device("cpu")
    )
    return run_analysis(loaded, TEXT, max_tokens)


@pytest.fixture(scope="module", params=["llama-gqa", "gpt2", "mistral-sliding"])
def analysis(request: Any) -> Analysis:
    """RoPE with grouped KV heads, absolute positions, and a sliding window of 9, in overlapping windows."""
    analysis = tiny_analysis(request.param)
    assert len(analysis.windows) >= 2
    return analysis


def test_sum_times_scale_is_the_score_and_the_weight_is_the_rebuilt_row(analysis: Analysis) -> None:
    info = analysis.info
    for query in (5, 47, analysis.token_count - 1):
        win, local = analysis.owner(query)
        for layer in range(info.layers):
            rows = raw_rows(win, torch.tensor([layer]), local, 1)[0, :, 0].double()  # (H, sources)
            for head in range(info.heads):
                for source in range(win.start, query + 1):
                    pair = neuron_pair(analysis, layer, head, query, source)
                    kv = head // (info.heads // info.kv_heads)
                    score = float(win.scale[layer]) * float(
                        win.query[layer, head, local].double() @ win.key[layer, kv, source - win.start].double()
                    )
                    assert pair.score == pytest.approx(score, abs=1e-5)
                    assert pair.scale * sum(pair.products) == pytest.approx(pair.score, abs=1e-5)
                    assert pair.weight == pytest.approx(float(rows[head, source - win.start]), abs=1e-5)
                    assert pair.allowed == (float(rows[head, source - win.start]) > 0)


def test_rotary_pairs_split_the_logit(analysis: Analysis) -> None:
    pair = neuron_pair(analysis, 0, 1, 30, 20)
    d = analysis.info.head_dim
    if analysis.info.rotary_dims == 0:  # GPT-2: absolute positions, no pairs
        assert pair.pairs == [] and pair.pair_sums == [] and pair.wavelengths is None
        return
    assert pair.pairs == [(t, t + d // 2) for t in range(d // 2)]
    assert sum(pair.pair_sums) == pytest.approx(sum(pair.products), abs=1e-9)
    assert pair.wavelengths is not None and pair.wavelengths[0] == pytest.approx(2 * torch.pi)
    assert all(a < b for a, b in zip(pair.wavelengths, pair.wavelengths[1:], strict=False))


def test_sliding_window_forbids_old_sources() -> None:
    analysis = tiny_analysis("mistral-sliding")
    query = 30
    far = neuron_pair(analysis, 0, 0, query, query - 9)  # the window is 9 tokens, itself included
    near = neuron_pair(analysis, 0, 0, query, query - 8)
    assert (far.allowed, far.weight) == (False, 0.0) and near.allowed and near.weight > 0


def test_the_default_source_is_the_heads_strongest_and_bad_indices_get_a_sentence(analysis: Analysis) -> None:
    query = analysis.token_count - 1
    win, _ = analysis.owner(query)
    source = top_source(analysis, 1, 2, query)
    weights = [neuron_pair(analysis, 1, 2, query, j).weight for j in range(win.start, query + 1)]
    others = [w for j, w in zip(range(win.start, query + 1), weights, strict=True) if j not in analysis.sinks(win)]
    assert neuron_pair(analysis, 1, 2, query, source).weight == pytest.approx(max(others))
    line = analysis.lines.line_count - 1
    answer = view_result("neuron", analysis, {"position": {"line": line - 1, "character": 3}, "layer": 1, "head": 2})
    assert answer["layer"] == 1 and answer["head"] == 2 and len(answer["products"]) == analysis.info.head_dim
    assert answer["weight"] == pytest.approx(
        neuron_pair(analysis, 1, 2, answer["token"]["index"], answer["source"]["index"]).weight
    )
    for params, message in (
        ({"layer": 99, "head": 0}, "layer 99 does not exist"),
        ({"layer": 0, "head": 99}, "head 99 does not exist"),
        ({"layer": 0, "head": 0, "source": 10**6}, "is not a source of token"),
        ({"layer": "0", "head": 0}, "layer must be a whole number"),
    ):
        with pytest.raises(InvalidRequest, match=message):
            view_result("neuron", analysis, {"position": {"line": 1, "character": 2}, **params})
