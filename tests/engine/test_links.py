"""Every token's strongest links (the HTML report's data) against the views one token at a time."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from atten_scope.engine.analysis import Analysis, run_analysis
from atten_scope.engine.capture import run_capture
from atten_scope.engine.model import model_info
from atten_scope.engine.recorder import install_capture_attention
from atten_scope.engine.tokens import TokenizedDocument
from atten_scope.report import log_codes
from atten_scope.views.attention import attention_vector
from atten_scope.views.links import links
from atten_scope.views.options import ViewOptions
from tests.conftest import build_tiny

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "tokenizer.py").read_text()[:1500]
K = 8


@pytest.fixture(scope="module")
def windowed(embedded: Any) -> Analysis:
    analysis = run_analysis(embedded, EXAMPLE, 160)
    assert len(analysis.windows) > 2
    return analysis


def assert_top_links(analysis: Analysis, options: ViewOptions, tokens: range) -> None:
    found = links(analysis, options, K)
    assert found.computed.all()
    for token in tokens:
        vector = attention_vector(analysis, token, options)
        expected = np.sort(vector)[::-1][:K]
        expected = expected[expected > 0]
        got = found.weights[token][: len(expected)]
        assert np.allclose(got, expected, atol=2e-6), token
        assert np.all(found.weights[token][len(expected) :] == 0)
        targets = found.targets[token][: len(expected)]
        assert np.allclose(vector[targets], got, atol=2e-6)  # the weights belong to those tokens
        assert np.all(found.targets[token][len(expected) :] == -1)


@pytest.mark.parametrize(
    "options",
    [
        ViewOptions(),  # norm / lastLayers, the default
        ViewOptions(refinement="raw", aggregate="headMean"),
        ViewOptions(layers=(2, 17, 29), heads=(0, 4, 5)),  # head groups of uneven size
        ViewOptions(refinement="raw", aggregate="perHead", layers=(20,), heads=(7,)),
        ViewOptions(drop_sink=False),
        ViewOptions(aggregate="headMax"),  # not linear: rows from the views, one at a time
        ViewOptions(refinement="effective"),
    ],
    ids=lambda o: f"{o.refinement}-{o.aggregate}-{o.layers}-{o.drop_sink}",
)
def test_top_links_of_every_row_equal_the_attention_vectors(windowed: Analysis, options: ViewOptions) -> None:
    tokens = range(0, windowed.token_count, 1 if options.refinement in ("raw", "norm") else 23)
    assert_top_links(windowed, options, tokens)


@pytest.mark.parametrize("drop_sink", [True, False])
def test_top_links_of_every_column_equal_the_attended_by_vectors(windowed: Analysis, drop_sink: bool) -> None:
    options = ViewOptions(direction="attendedBy", drop_sink=drop_sink)
    assert_top_links(windowed, options, range(0, windowed.token_count, 5))


def test_a_streamed_aggregate_computes_no_links(windowed: Analysis) -> None:
    found = links(windowed, ViewOptions(aggregate="rollout", refinement="raw", layers=(28, 29)), K)
    assert not found.computed.any() and np.all(found.targets == -1)


def test_sliding_window_layers_mask_old_sources() -> None:
    """Mistral's sliding window (9 tokens here): the rebuilt rows leave out what the layer cannot see."""
    model = build_tiny("mistral-sliding")
    install_capture_attention(model)
    ids = torch.randint(2, 128, (60,), generator=torch.Generator().manual_seed(3)).tolist()
    win = run_capture(model, ids, 0)
    document = TokenizedDocument(
        text="x" * len(ids),
        ids=ids,
        starts=list(range(len(ids))),
        ends=list(range(1, len(ids) + 1)),
        special=[False] * len(ids),
    )
    analysis = Analysis(document=document, windows=[win], info=model_info("tiny", model), max_tokens=64)
    for options in (ViewOptions(aggregate="headMean"), replace(ViewOptions(), direction="attendedBy")):
        assert_top_links(analysis, options, range(len(ids)))


def test_log_codes_follow_the_editors_scale() -> None:
    """From the 2nd percentile of the nonzero cells (and below it: the darkest colour) to the largest."""
    values = np.concatenate([[0.0], np.geomspace(1e-6, 0.5, 99)])
    codes, low, high = log_codes(values)
    assert codes[0] == 0  # no weight: no colour
    assert codes[1] == codes[2] == 1 and codes[-1] == 255
    assert list(codes[1:]) == sorted(codes[1:])
    assert high == 0.5 and low == pytest.approx(np.percentile(values[1:], 2))
