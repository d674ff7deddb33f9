"""Predictions computed on demand from the kept hidden rows equal a plain forward pass's softmax,
across windows and edits; the analysis itself never runs the LM head over its tokens."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from atten_scope.engine import prediction
from atten_scope.engine.analysis import Analysis, run_analysis, window_shape
from atten_scope.engine.capture import run_capture
from atten_scope.engine.model import LoadedModel, model_info
from atten_scope.engine.recorder import install_capture_attention
from atten_scope.engine.storage import MemoryBudget, is_spilled, spill
from atten_scope.engine.tokens import TokenizedDocument
from atten_scope.protocol.builders import view_result
from atten_scope.protocol.builders.attention import attention_json
from atten_scope.protocol.encode import prediction_json, surprisal_json
from atten_scope.views.options import ViewOptions
from tests.conftest import build_tiny

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


def char_document(ids: list[int]) -> TokenizedDocument:
    text = "".join(ALPHABET[i - 2] for i in ids)
    starts = list(range(len(ids)))
    return TokenizedDocument(
        text=text, ids=ids, starts=starts, ends=[s + 1 for s in starts], special=[False] * len(ids)
    )


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
            # the surprise heat's row blocks give the same log-probability
            assert abs(analysis.next_logprobs()[token] - float(reference[actual])) < 1e-4, token
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
        # the heat's row blocks and the hover's single row are two products of the same numbers
        assert bits[token] == pytest.approx(-previous.next_logprob / math.log(2), abs=1e-5)
        assert analysis.surprisal(token) == pytest.approx(bits[token], abs=1e-9)
    answer = view_result("surprise", analysis, {"rows": [1, 5]}, version=3)
    assert answer["start"] == 1 and answer["end"] == 5 and answer["version"] == 3 and answer["unit"] == "bits"
    assert answer["bits"] == pytest.approx([round(float(b), 3) for b in bits[1:5]], abs=1e-9)
    assert len(answer["ranges"]) == 16 and answer["ranges"][:4] == [0, 1, 0, 2]
    whole = view_result("surprise", analysis, {})
    assert whole["bits"][0] is None and len(whole["bits"]) == analysis.token_count


def test_the_surprisal_of_a_range_runs_the_head_over_that_range_only(tiny: LoadedModel) -> None:
    """A range of rows (the surprise request's ``rows``) equals the whole heat's slice, and fills the
    log-probabilities of the windows it touches, not the others'."""
    analysis = run_analysis(tiny, TEXT, WINDOW)
    assert len(analysis.windows) >= 4
    last = analysis.windows[-1]
    start, end = last.start + 2, analysis.token_count
    part = analysis.surprisal_between(start, end)
    untouched = [w for w in analysis.windows if w.start + w.n < start]
    assert untouched and all(w.logprobs is None or w.logprobs_missing(0, w.n) for w in untouched)
    whole = analysis.surprisal_bits()
    assert np.allclose(part, whole[start:end], equal_nan=True) and np.isfinite(part).all()
    for first, stop in ((0, 1), (0, 5), (1, 2), (7, analysis.token_count), (3, 3)):
        assert np.array_equal(analysis.surprisal_between(first, stop), whole[first:stop], equal_nan=True)


def test_a_cursor_request_without_prediction_reads_no_lm_head(tiny: LoadedModel) -> None:
    """``prediction: false`` (the extension's tint requests): the same weights, no prediction."""

    analysis = run_analysis(tiny, TEXT, WINDOW)
    position = {"line": 0, "character": 20}
    full = view_result("attention", analysis, {"position": position}, version=1)
    calls: list[int] = []
    original = analysis.prediction
    analysis.prediction = lambda token: calls.append(token) or original(token)  # type: ignore[method-assign]
    lean = view_result("attention", analysis, {"position": position, "prediction": False}, version=1)
    assert full["prediction"] is not None and full["surprisal"] is not None
    assert lean["prediction"] is None and lean["surprisal"] is None and not calls
    assert lean["targets"] == full["targets"] and lean["lines"] == full["lines"]


def test_an_edit_keeps_the_prefix_numbers_and_equals_a_fresh_analysis(tiny: LoadedModel) -> None:
    before = run_analysis(tiny, TEXT, WINDOW)
    before.next_logprobs()  # kept on the windows: an edit copies what still holds
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
        assert np.allclose(again.next_logprobs(), fresh.next_logprobs(), atol=1e-4, equal_nan=True)


def test_an_edit_copies_the_prefix_rows_and_the_log_probabilities_that_still_hold(tiny: LoadedModel) -> None:
    model = tiny.model
    ids = [2 + ALPHABET.index(c) for c in TEXT[:40]]
    edited = [*ids[:20], 5, *ids[21:]]
    head = prediction.Head.of(model)
    assert head is not None
    before = Analysis(char_document(ids), [run_capture(model, ids, 0)], tiny.info, 64, head=head)
    before.next_logprobs()  # every row's log-probability, kept on the window
    win = before.windows[0]
    reused = run_capture(model, edited, 0, prefix=win, reuse=20)
    fresh = run_capture(model, edited, 0)
    assert reused.recomputed == 20 and reused.hidden is not None and fresh.hidden is not None
    assert torch.equal(reused.hidden[:20], win.hidden[:20])  # copied
    assert torch.allclose(reused.hidden, fresh.hidden, atol=1e-5)
    # row 19 rated the old token 20: its log-probability is not copied, rows 0-18 are
    assert reused.logprobs_known is not None and reused.logprobs is not None
    assert reused.logprobs_known[:19].all() and not reused.logprobs_known[19:].any()
    assert torch.equal(reused.logprobs[:19], win.logprobs[:19])
    again = Analysis(char_document(edited), [reused], tiny.info, 64, head=head)
    reference = plain_log_softmax(model, edited)
    expected = torch.tensor([float(reference[i, edited[i + 1]]) for i in range(39)], dtype=torch.float64)
    assert np.allclose(again.next_logprobs()[:39], expected.numpy(), atol=1e-4)
    assert math.isnan(again.next_logprobs()[39])


def test_a_spilled_window_keeps_its_hidden_rows(tiny: LoadedModel, tmp_path: Path) -> None:
    win = run_capture(tiny.model, [2 + ALPHABET.index(c) for c in TEXT[:30]], 0, next_id=7)
    assert win.hidden is not None
    expected = win.hidden.clone()
    head = prediction.Head.of(tiny.model)
    assert head is not None
    analysis = Analysis(char_document([*win.ids]), [win], tiny.info, 64, head=head)
    before = analysis.prediction(29)
    spill(win, tmp_path)
    assert torch.equal(win.hidden, expected)
    assert win.following(win.n - 1) == 7
    after = Analysis(char_document([*win.ids]), [win], tiny.info, 64, head=head).prediction(29)
    assert before is not None and after == before and after.next_id == 7 and after.next_rank >= 1


def test_the_analysis_does_not_run_the_lm_head_over_its_tokens(tiny: LoadedModel) -> None:
    """The head sees only each pass's last row, which the model computes itself (logits_to_keep=1);
    a prediction is one row of it, and the surprise heat one row per token, once."""
    rows: list[int] = []
    head_module = tiny.model.get_output_embeddings()

    def count(_module: Any, inputs: Any, _output: Any) -> None:
        rows.append(inputs[0].reshape(-1, inputs[0].shape[-1]).shape[0])

    handle = head_module.register_forward_hook(count)
    try:
        analysis = run_analysis(tiny, TEXT, WINDOW)
        assert rows == [1] * len(analysis.windows)
        rows.clear()
        assert analysis.prediction(40) is not None
        # the owning window's last row, checked against the model's once; rows 39 and 40 in one product
        assert rows == [1, 2]
        rows.clear()
        assert analysis.prediction(39) is not None and analysis.prediction(40) is not None
        assert analysis.surprisal(40) == pytest.approx(-analysis.prediction(39).next_logprob / math.log(2))
        assert rows == []  # kept
        assert analysis.prediction(41) is not None
        assert rows == [1]
        rows.clear()
        analysis.surprisal_bits()
        checks = len(analysis.windows) - 1  # the other windows' last rows
        assert sum(rows) == analysis.token_count + checks
        rows.clear()
        analysis.surprisal_bits()
        assert analysis.surprisal(50) == pytest.approx(float(analysis.surprisal_bits()[50]))
        assert rows == []
    finally:
        handle.remove()


def test_a_compact_analysis_predicts_to_float16_precision(tiny: LoadedModel, tmp_path: Path) -> None:
    """Under a memory budget the hidden rows are kept in float16 (and spilled with their window):
    the probabilities move by the rounding of the rows only."""
    exact = run_analysis(tiny, TEXT, WINDOW)
    budget = MemoryBudget(1, tmp_path)
    budget.limit_bytes = window_shape(tiny).capture_bytes(WINDOW)  # room for about one window: the rest spill
    compact = run_analysis(tiny, TEXT, WINDOW, budget=budget)
    assert all(w.hidden is not None and w.hidden.dtype == torch.float16 for w in compact.windows)
    assert any(is_spilled(w) for w in compact.windows)
    ours, theirs = compact.next_logprobs(), exact.next_logprobs()
    assert np.isfinite(ours[:-1]).all()
    assert np.allclose(np.exp(ours[:-1]), np.exp(theirs[:-1]), atol=2e-3)
    for token in (0, 30, compact.token_count - 2):
        a, b = compact.prediction(token), exact.prediction(token)
        assert a is not None and b is not None
        assert np.allclose([p for _, p in a.top], [p for _, p in b.top], atol=2e-3)


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
    real = prediction.Head.logits
    monkeypatch.setattr(prediction.Head, "logits", lambda head, hidden: real(head, hidden) * 2.0)
    analysis = run_analysis(tiny, TEXT, WINDOW)
    assert not any(analysis.predicts(win) for win in analysis.windows)
    answer = attention_json(analysis, 10, ViewOptions())
    assert answer["prediction"] is None and answer["surprisal"] is None
    assert set(view_result("surprise", analysis, {})["bits"]) == {None}
    assert analysis.owned_predictions() is None
