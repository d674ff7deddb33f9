"""Predictions kept from the capturing pass equal a plain forward pass's softmax, across windows and edits."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from atten_scope import prediction
from atten_scope.analysis import Analysis, run_analysis
from atten_scope.capture import install_capture_attention, run_capture
from atten_scope.model import LoadedModel, model_info
from atten_scope.options import ViewOptions, ViewQuery
from atten_scope.results import attention_json, prediction_json, surprisal_json, surprise_result
from atten_scope.storage import spill

from .conftest import build_tiny

ALPHABET = "\n" + "".join(chr(c) for c in range(32, 127))  # ids 2.. in this order
TEXT = "def total(items):\n    return sum(item.price for item in items)\n\nprint(total([]))\n" * 2
WINDOW = 32  # windows of 32 tokens overlapping by 8: several windows over TEXT


class CharTokenizer:
    """One token per character of ALPHABET (ids 2..97 of the tiny models' 128), no special tokens."""

    is_fast = False
    all_special_ids = ()

    def __call__(self, text: str, add_special_tokens: bool = True, return_offsets_mapping: bool = False) -> Any:
        ids = [2 + ALPHABET.index(c) for c in text]
        return {"input_ids": ids, "offset_mapping": [(i, i + 1) for i in range(len(text))]}

    def convert_ids_to_tokens(self, ids: Any) -> Any:
        return [None for _ in ids] if isinstance(ids, list) else f"c{ids}"

    def decode(self, ids: list[int], **_: Any) -> str:
        return "".join(ALPHABET[i - 2] if 2 <= i < 2 + len(ALPHABET) else "?" for i in ids)


def tiny_loaded(name: str) -> LoadedModel:
    model = build_tiny(name)
    install_capture_attention(model)
    return LoadedModel(info=model_info(name, model), model=model, tokenizer=CharTokenizer(), device=torch.device("cpu"))


def plain_log_softmax(model: Any, ids: list[int]) -> torch.Tensor:
    """log p_i(v) of every row from the model's own logits (no capture recording)."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].double()
    return torch.log_softmax(logits, dim=-1)


def assert_matches_plain_pass(analysis: Analysis, model: Any, tokens: list[int]) -> None:
    """Each token's top-5, actual log-probability and rank equal those of a plain pass over the
    window that owns it (its context), to 1e-4."""
    ids = analysis.document.ids
    for token in tokens:
        win, local = analysis.owner(token)
        reference = plain_log_softmax(model, win.ids)[local]
        predicted = analysis.prediction(token)
        assert predicted is not None
        expected_top = torch.topk(reference, prediction.TOP)
        top_ids = [i for i, _ in predicted.top]
        top_probs = torch.tensor([p for _, p in predicted.top], dtype=torch.float64)
        assert torch.allclose(top_probs, expected_top.values.exp(), atol=1e-4), token
        assert torch.allclose(reference[top_ids].exp(), top_probs, atol=1e-4), token  # ids agree up to ties
        if token + 1 < len(ids):
            actual = ids[token + 1]
            assert predicted.next_id == actual
            assert abs(predicted.next_logprob - float(reference[actual])) < 1e-4, token
            assert predicted.next_rank == int((reference > reference[actual]).sum()) + 1, token
        else:
            assert predicted.next_id is None and math.isnan(predicted.next_logprob) and predicted.next_rank == 0


@pytest.fixture(scope="module", params=["llama-gqa", "gpt2", "mistral-sliding"])
def tiny(request: Any) -> LoadedModel:
    return tiny_loaded(request.param)


def test_predictions_equal_a_plain_pass_across_windows(tiny: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prediction, "BLOCK_ELEMENTS", 128 * 5)  # blocks of 5 rows: several per window
    analysis = run_analysis(tiny, TEXT, WINDOW)
    assert len(analysis.windows) >= 4
    last_of_windows = [w.start + w.n - 1 for w in analysis.windows]
    firsts = [w.start for w in analysis.windows]
    n = analysis.token_count
    assert_matches_plain_pass(analysis, tiny.model, sorted({0, 1, 17, *firsts, *last_of_windows, n - 2, n - 1}))
    # the last token of a window that does not end the document is owned by it and rates the next window's first
    assert analysis.owner(last_of_windows[0])[0] is analysis.windows[0]
    assert analysis.prediction(last_of_windows[0]).next_id == analysis.document.ids[last_of_windows[0] + 1]


def test_surprisal_is_the_previous_tokens_rating_of_this_one(tiny: LoadedModel) -> None:
    analysis = run_analysis(tiny, TEXT, WINDOW)
    bits = analysis.surprisal_bits()
    assert math.isnan(bits[0]) and np.isfinite(bits[1:]).all()
    for token in (1, 33, analysis.token_count - 1):
        previous = analysis.prediction(token - 1)
        assert previous is not None
        assert bits[token] == pytest.approx(-previous.next_logprob / math.log(2), abs=1e-9)
    query = ViewQuery({"rows": [1, 5]}, {}, 3)
    answer = surprise_result(analysis, query)
    assert answer["start"] == 1 and answer["end"] == 5 and answer["version"] == 3 and answer["unit"] == "bits"
    assert answer["bits"] == pytest.approx([round(float(b), 3) for b in bits[1:5]], abs=1e-9)
    assert len(answer["ranges"]) == 16 and answer["ranges"][:4] == [0, 1, 0, 2]
    whole = surprise_result(analysis, ViewQuery({}, {}, None))
    assert whole["bits"][0] is None and len(whole["bits"]) == analysis.token_count


def test_an_edit_keeps_the_prefix_numbers_and_equals_a_fresh_analysis(tiny: LoadedModel) -> None:
    before = run_analysis(tiny, TEXT, WINDOW)
    for edited in (TEXT.replace("sum(", "max(", 1), TEXT + "x = 1\n", TEXT[:-9]):
        again = run_analysis(tiny, edited, WINDOW, previous=before)
        fresh = run_analysis(tiny, edited, WINDOW)
        assert again.reused_tokens > 0
        for token in range(fresh.token_count):
            a, b = again.prediction(token), fresh.prediction(token)
            assert a is not None and b is not None
            assert [i for i, _ in a.top] == [i for i, _ in b.top], (edited[-6:], token)
            assert np.allclose([p for _, p in a.top], [p for _, p in b.top], atol=1e-5)
            assert a.next_id == b.next_id and a.next_rank == b.next_rank
            assert (math.isnan(a.next_logprob) and math.isnan(b.next_logprob)) or abs(
                a.next_logprob - b.next_logprob
            ) < 1e-4


def test_a_reused_row_whose_next_token_changed_is_recomputed(tiny: LoadedModel) -> None:
    model = tiny.model
    ids = [2 + ALPHABET.index(c) for c in TEXT[:40]]
    edited = [*ids[:20], 5, *ids[21:]]
    before = run_capture(model, ids, 0)
    reused = run_capture(model, edited, 0, prefix=before, reuse=20)
    fresh = run_capture(model, edited, 0)
    assert reused.recomputed == 40 - 19  # row 19's next token changed: it is computed again
    assert reused.predictions is not None and fresh.predictions is not None
    assert torch.allclose(reused.predictions.next_logprob, fresh.predictions.next_logprob, atol=1e-5, equal_nan=True)
    assert torch.equal(reused.predictions.top_ids[:19], before.predictions.top_ids[:19])  # copied
    # an unchanged next token: the prefix rows are copied as they are
    kept = run_capture(model, [*ids[:20], *edited[20:]], 0, prefix=run_capture(model, edited, 0), reuse=20)
    assert kept.recomputed == 20


def test_a_spilled_window_keeps_its_predictions(tiny: LoadedModel, tmp_path: Path) -> None:
    win = run_capture(tiny.model, [2 + ALPHABET.index(c) for c in TEXT[:30]], 0, next_id=7)
    assert win.predictions is not None
    expected = win.predictions.rows(0, win.n)
    spill(win, tmp_path)
    for name in ("top_ids", "top_probs", "next_logprob", "next_rank"):
        assert torch.equal(getattr(win.predictions, name), getattr(expected, name)), name
    assert win.following(win.n - 1) == 7 and int(win.predictions.next_rank[-1]) >= 1


def test_the_embedded_model_predicts_as_its_plain_pass(embedded: Any) -> None:
    text = "import os\n\n\ndef read(path):\n    with open(path) as handle:\n        return handle.read()\n"
    analysis = run_analysis(embedded, text, 16)  # windows of 16 tokens
    assert len(analysis.windows) >= 2
    n = analysis.token_count
    assert_matches_plain_pass(analysis, embedded.model, [0, 5, 15, 16, n - 2, n - 1])
    answer = attention_json(analysis, 8, ViewOptions())
    shown = answer["prediction"]
    assert shown is not None and len(shown["top"]) == prediction.TOP
    assert shown["actual"]["text"] == answer["token"]["label"] or shown["actual"]["id"] == analysis.document.ids[9]
    assert shown["actual"]["text"] == attention_json(analysis, 9, ViewOptions())["token"]["label"]
    assert attention_json(analysis, n - 1, ViewOptions())["prediction"]["actual"] is None
    third = prediction_json(analysis, 3)
    assert third is not None and third["top"][0]["probability"] >= third["top"][1]["probability"]
    assert surprisal_json(analysis, 9)["probability"] == pytest.approx(shown["actual"]["probability"], rel=1e-6)


def test_a_head_that_does_not_reproduce_the_models_logits_keeps_no_predictions(
    tiny: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model whose logits are post-processed in a way the head does not know: no numbers rather
    than wrong ones, and every answer says so with null."""
    real = prediction.head_logits
    monkeypatch.setattr(prediction, "head_logits", lambda model, hidden: real(model, hidden) * 2.0)
    analysis = run_analysis(tiny, TEXT, WINDOW)
    assert all(win.predictions is None for win in analysis.windows)
    answer = attention_json(analysis, 10, ViewOptions())
    assert answer["prediction"] is None and answer["surprisal"] is None
    assert set(surprise_result(analysis, ViewQuery({}, {}, None))["bits"]) == {None}
    assert analysis.owned_predictions() is None
