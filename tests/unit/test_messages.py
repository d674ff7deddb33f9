"""What the server tells a person: counts, bounds and line numbers that match the file, and user
values quoted short. A tiny model and one token per character: no model is downloaded."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch

from atten_scope.common.errors import ChangedSinceAnalysis, InvalidRequest, ModelLoadError
from atten_scope.common.quoting import QUOTED_CHARACTERS, quoted, shorten
from atten_scope.engine import embedded
from atten_scope.engine.analysis import Analysis, covered, plan_windows, run_analysis
from atten_scope.engine.model import LoadedModel, load_model, model_info
from atten_scope.engine.recorder import install_capture_attention
from atten_scope.lsp.hover import stale_markdown
from atten_scope.lsp.settings import parse_settings
from atten_scope.lsp.workers import load_failure
from atten_scope.protocol.builders.heatmap import token_span
from atten_scope.protocol.encode import token_at_position
from atten_scope.protocol.fields import line_ranges
from atten_scope.protocol.params import parse_options
from atten_scope.registry import REFINEMENTS, choice
from atten_scope.views import flow
from atten_scope.views.flow import alti_rollout
from atten_scope.views.options import ViewOptions
from tests.conftest import build_tiny

LONG = "org/" + "m" * 10_000  # a model id pasted by mistake: far too long to repeat


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


@pytest.fixture(scope="module")
def tiny() -> LoadedModel:
    model = build_tiny("llama-gqa")
    install_capture_attention(model)
    info = model_info("tiny", model)
    return LoadedModel(info=info, model=model, tokenizer=CharTokenizer(), device=torch.device("cpu"))


def analyse(tiny: LoadedModel, text: str, max_tokens: int, progress: Any = None) -> Analysis:
    if progress is None:
        return run_analysis(tiny, text, max_tokens)
    return run_analysis(tiny, text, max_tokens, progress=progress)


# ---- the ALTI rollout's limit: the tokens before the token, counted exactly


def test_the_alti_limit_counts_the_tokens_before_the_token(tiny: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    ALTI_TOKENS = 512
    monkeypatch.setattr(flow, "ALTI_TOKENS", ALTI_TOKENS)  # the check, at a size this test can run
    analysis = analyse(tiny, "ab\n" * 180, 600)  # 540 tokens in one window
    assert len(analysis.windows) == 1
    weights, recomputed = alti_rollout(analysis, ALTI_TOKENS - 1)  # the token and the 511 before it: covered
    assert recomputed == ALTI_TOKENS and weights.sum() == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(InvalidRequest) as refused:
        alti_rollout(analysis, ALTI_TOKENS)
    message = str(refused.value)
    assert f"this token has {ALTI_TOKENS} before it" in message, message
    assert f"at most {ALTI_TOKENS} tokens of context" in message and "the token included" in message
    assert f"{ALTI_TOKENS + 1}" not in message


# ---- heatmap rows and columns: what is wrong with a range


@pytest.mark.parametrize(
    ("span", "says", "not_said"),
    [
        ((5, 5), "is empty: its end (exclusive) must be greater than its start", "outside"),
        ((9, 4), "is empty: its end (exclusive) must be greater than its start", "outside"),
        ((-1, 4), "starts before token 0", "outside"),
        ((10, 383), "ends past the 382 analysed tokens: its end (exclusive) may be at most 382", "empty"),
        ((400, 500), "ends past the 382 analysed tokens", "empty"),
    ],
)
def test_a_bad_token_span_says_what_is_wrong(span: tuple[int, int], says: str, not_said: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        token_span(span, 382, "rows")
    message = str(refused.value)
    assert message.startswith(f"rows [{span[0]}, {span[1]}]"), message
    assert says in message and not_said not in message, message


def test_a_good_token_span_is_kept() -> None:
    assert token_span((0, 382), 382, "rows") == (0, 382)
    assert token_span((5, 6), 382, "columns") == (5, 6)
    assert token_span(None, 382, "rows") == (0, 382)


# ---- progress: every token counted once, in the file's count


def test_progress_counts_each_token_once_over_overlapping_windows(tiny: LoadedModel) -> None:
    text = "x = 1\n" * 7  # 42 tokens in windows of 16 that overlap by 4: more tokens run than the file has
    plan = plan_windows(len(text), 16)
    run = sum(end - start for start, end in plan)
    assert len(plan) > 1 and run > len(text)
    messages: list[str] = []
    analyse(tiny, text, 16, lambda _, message: messages.append(message))
    layers, count = tiny.info.layers, len(plan)
    for number, (start, end) in enumerate(plan, start=1):
        span = f"tokens {start}-{end - 1} of {len(text)}"
        assert f"Window {number} of {count}: running the model over {span}" in messages, messages
        assert f"Running layer {layers} of {layers} (window {number} of {count}: {span})" in messages, messages
    assert not any(re.search(rf"\b{run}\b", message) for message in messages), messages


def test_tokens_reused_over_overlapping_windows_are_counted_once(tiny: LoadedModel) -> None:
    """Re-analysing an unchanged multi-window file reuses every window; the count ("N reused" in the
    editor's log) is the file's tokens, not the windows' sum."""
    text = "x = 1\n" * 7
    plan = plan_windows(len(text), 16)
    assert sum(end - start for start, end in plan) > len(text)
    first = run_analysis(tiny, text, 16)
    again = run_analysis(tiny, text, 16, previous=first)
    assert again.reused_tokens == again.token_count == len(text)
    assert covered([(0, 16), (12, 28), (24, 40), (40, 40)]) == 40 and covered([]) == 0


def test_progress_of_one_window_names_the_files_token_count(tiny: LoadedModel) -> None:
    messages: list[str] = []
    analyse(tiny, "x = 1\n" * 3, 64, lambda _, message: messages.append(message))
    assert "Running the model over tokens 0-17 of 18" in messages, messages
    assert "Running layer 1 of 3 (18 tokens)" in messages, messages


# ---- user values quoted short


def test_shorten_keeps_short_text_and_cuts_long_text_around_an_ellipsis() -> None:
    assert shorten("Qwen/Qwen2.5-Coder-1.5B") == "Qwen/Qwen2.5-Coder-1.5B"
    cut = shorten("/models/" + "d" * 500 + "/model.gguf")
    assert len(cut) == QUOTED_CHARACTERS and "\u2026" in cut
    assert cut.startswith("/models/ddd") and cut.endswith("/model.gguf")  # where it is, and which file
    assert quoted("Qwen/Qwen2.5-Coder-1.5B") == "'Qwen/Qwen2.5-Coder-1.5B'"
    long = quoted("x" * 500)
    assert len(long) == QUOTED_CHARACTERS and long.startswith("'xxx") and long.endswith("xxx'") and "\u2026" in long
    assert quoted(["a" * 500]).startswith("['aaa") and len(quoted(["a" * 500])) == QUOTED_CHARACTERS


def short(message: str) -> bool:
    """A sentence of readable length, where each copy of the long id is cut short."""
    longest = max((len(run) for run in re.findall("m+", message)), default=0)
    return len(message) < QUOTED_CHARACTERS + 300 and longest < QUOTED_CHARACTERS


def test_a_long_model_id_is_not_repeated_in_full() -> None:
    with pytest.raises(ModelLoadError) as refused:
        load_model(LONG, "cpu")  # its name is too long for the file system: refused before any download
    assert short(str(refused.value)) and "Could not load model 'org/mmm" in str(refused.value), str(refused.value)
    with pytest.raises(ModelLoadError) as unknown:
        embedded.find("embedded:" + "m" * 10_000)
    assert short(str(unknown.value)) and "the embedded models are" in str(unknown.value)
    for error in (ImportError("no module"), MemoryError(), ValueError("x")):
        assert short(load_failure(LONG, error))


def test_a_long_setting_or_field_value_is_not_repeated_in_full() -> None:
    with pytest.raises(InvalidRequest) as unknown:
        choice(dict(REFINEMENTS), "r" * 10_000, "refinement")
    assert len(str(unknown.value)) < QUOTED_CHARACTERS + 300 and "use one of" in str(unknown.value)
    _, warnings = parse_settings({"refinement": "r" * 10_000})
    assert warnings and all(len(w) < QUOTED_CHARACTERS + 300 for w in warnings), warnings
    with pytest.raises(InvalidRequest) as bad:
        line_ranges([["l" * 10_000, 2]], "lines")
    assert len(str(bad.value)) < QUOTED_CHARACTERS + 200
    with pytest.raises(InvalidRequest) as aggregate:
        parse_options({"aggregate": "a" * 10_000}, ViewOptions(), 1, 1)
    assert len(str(aggregate.value)) < QUOTED_CHARACTERS + 300


# ---- after an edit: which lines still show their attention, in 1-based line numbers


def stale_card(tiny: LoadedModel, text: str, fresh: int, line: int, character: int) -> str:
    analysis = analyse(tiny, text, 64)
    with pytest.raises(ChangedSinceAnalysis) as stale:
        token_at_position(analysis, {"line": line, "character": character}, fresh)
    return stale_markdown(stale.value, analysis)


def test_typing_on_line_two_keeps_line_one(tiny: LoadedModel) -> None:
    text = "x = 1\n    y = 2\n    z = 3\n"
    # A tokenizer joins a line break to the next line's indentation: typing at the start of line 2
    # changes the token that starts at the end of line 1, the line break.
    card = stale_card(tiny, text, text.index("\n"), 1, 4)
    assert "Tokens before line 2 still show their attention" in card, card


def test_an_edit_inside_a_line_names_its_column(tiny: LoadedModel) -> None:
    text = "x = 1\ntotal = x + 2\n"
    card = stale_card(tiny, text, text.index("x +"), 1, 8)
    assert "Tokens before line 2, column 9 still show their attention" in card, card


def test_an_edit_at_the_start_of_a_line_keeps_the_lines_above(tiny: LoadedModel) -> None:
    text = "x = 1\ny = 2\nz = 3\n"
    card = stale_card(tiny, text, text.index("z"), 2, 0)
    assert "Tokens before line 3 still show their attention" in card, card
