"""The logit lens's settling layer, the sentences about a lens and a contrast, and their params."""

from __future__ import annotations

from typing import Any

import pytest

from atten_scope import limits
from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.lens import settled_at
from atten_scope.protocol.builders import builder
from atten_scope.protocol.sentences import contrast_sentence, settles_sentence

POSITION = {"line": 1, "character": 2}


def backticks(text: str) -> str:
    return f"`{text}`"


@pytest.mark.parametrize(
    ("choices", "layer"),
    [
        ([7], 0),
        ([7, 7, 7], 0),
        ([1, 2, 7, 7], 2),
        ([7, 1, 7], 2),  # chosen early, dropped, chosen again: settled only at the last change
        ([1, 7, 7, 2, 7], 4),
    ],
)
def test_settled_at_is_the_first_layer_that_keeps_the_final_choice(choices: list[int], layer: int) -> None:
    assert settled_at(choices) == layer


def test_settled_at_needs_a_layer() -> None:
    with pytest.raises(ValueError):
        settled_at([])


def lens(firsts: list[str], settled: int) -> dict[str, Any]:
    return {
        "logitLens": [{"layer": i, "top": [{"id": i, "text": t, "probability": 0.5}]} for i, t in enumerate(firsts)],
        "settledAt": settled,
    }


def test_the_settling_sentence_counts_layers_from_one() -> None:
    assert settles_sentence(lens(["a", "b", ")", ")"], 2), backticks) == "settles on `)` at layer 3 of 4"
    assert settles_sentence(lens(["x"], 0), backticks) == "settles on `x` at layer 1 of 1"
    assert settles_sentence({"logitLens": [], "settledAt": 0}, backticks) is None


def test_the_contrast_sentence_names_each_part_with_its_sign() -> None:
    contrast = {
        "predicted": {"text": ")"},
        "alternative": {"text": ","},
        "difference": 3.2,
        "attention": 2.1,
        "mlp": 1.5,
        "residual": -0.3,
        "remainder": -0.1,
    }
    assert contrast_sentence(contrast, backticks) == (
        "Predicts `)` over `,` by 3.20 logits: attention +2.10, the MLPs +1.50, "
        "the token's own embedding -0.30, the rest -0.10"
    )


@pytest.mark.parametrize("value", [7, "foo", "\u00b7x"])
def test_an_alternative_is_an_id_or_a_text(value: Any) -> None:
    assert builder("contrast").parse({"position": POSITION, "alternative": value}).alternative == value


@pytest.mark.parametrize("value", [-1, True, 1.5, "", None, [3]])
def test_other_alternatives_are_refused_with_the_fields_name(value: Any) -> None:
    with pytest.raises(InvalidRequest, match="alternative must be a token id"):
        builder("contrast").parse({"position": POSITION, "alternative": value})


def test_the_lens_top_k_has_its_own_limit() -> None:
    top = limits.LENS_TOP
    assert builder("logitLens").parse({"position": POSITION}).top_k == top.default
    with pytest.raises(InvalidRequest, match="topK"):
        builder("logitLens").parse({"position": POSITION, "topK": top.maximum + 1})
