"""Completion at the cursor: the same tokens as transformers' generate on the same text, the
context's state reused from the analysis, the completion captured so that its attention rows are
eager attention's, and what it refuses."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
import torch

from atten_scope.common import cancellation
from atten_scope.common.errors import Cancelled, DocumentError, InvalidRequest
from atten_scope.engine.analysis import Analysis, run_analysis
from atten_scope.engine.embedded import GEMMA3
from atten_scope.engine.generation import Generation, GenerationSettings, generate
from atten_scope.engine.recorder import install_capture_attention
from atten_scope.engine.refine import raw_rows
from atten_scope.engine.stopping import stop_point
from atten_scope.engine.storage import MemoryBudget
from atten_scope.views.attention import attention_vector
from atten_scope.views.completion import complete, edit_context
from atten_scope.views.options import ViewOptions

TEXT = (
    "import math\n"
    "\n"
    "def area(radius):\n"
    "    return math.pi * radius ** 2\n"
    "\n"
    "def perimeter(radius):\n"
    "    return 2 * math.pi * radius\n"
    "\n"
    "def describe(shape, radius):\n"
    "    a = area(radius)\n"
    "    p = perimeter(radius)\n"
    "    return {'shape': shape, 'area': a, 'perimeter': p}\n"
    "\n"
    "print(describe('circle', 2.0))\n"
)
CURSOR = TEXT.index("    a = area(") + len("    a = area(")  # line 9, inside the call
NEW = 12


def reference(loaded: Any, context: str, new: int, forced: list[int] | None = None) -> list[int]:
    """The tokens transformers' greedy generate writes after ``context`` (and ``forced``)."""
    ids = [int(i) for i in loaded.tokenizer(context)["input_ids"]] + (forced or [])
    with torch.inference_mode():
        out = loaded.model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=new)
    return [int(i) for i in out[0, len(ids) :].tolist()]


def completion_ids(generation: Generation) -> list[int]:
    return generation.analysis.document.ids[generation.start :]


GEMMA_MISSING = pytest.mark.skipif(not GEMMA3.installed(), reason=f"the Gemma 3 packages are missing: {GEMMA3.install}")
# The properties that hold for any model run on both embedded ones: SmolLM2 (the default) and
# Gemma 3, whose tokenizer adds a BOS token and whose layers alternate sliding and global attention.
MODELS = [pytest.param("smollm2", id="smollm2-135m"), pytest.param("gemma3", id="gemma3-270m", marks=GEMMA_MISSING)]


@cache
def gemma() -> Any:
    """Gemma 3 270M on the CPU, loaded once for every test module that uses it."""
    from atten_scope.engine.model import load_model

    return load_model(GEMMA3.id, "cpu")


@dataclass(frozen=True)
class Subject:
    """A model, its analysis of TEXT and its greedy completion at CURSOR of up to ``new`` tokens;
    ``edited_new``: the tokens a completion with lines removed asks for."""

    loaded: Any
    analysis: Analysis
    greedy: Generation
    new: int
    edited_new: int


@pytest.fixture(scope="module")
def analysis(embedded: Any) -> Analysis:
    return run_analysis(embedded, TEXT, 4096)


@pytest.fixture(scope="module")
def greedy(embedded: Any, analysis: Analysis) -> Generation:
    return generate(embedded, analysis, CURSOR, GenerationSettings(max_new_tokens=NEW))


@pytest.fixture(scope="module", params=MODELS)
def subject(request: pytest.FixtureRequest) -> Subject:
    if request.param == "smollm2":  # the module's own analysis and completion: no second run
        loaded, analysed, done = (request.getfixturevalue(name) for name in ("embedded", "analysis", "greedy"))
        return Subject(loaded, analysed, done, NEW, 8)
    # Gemma's vocabulary makes each token dearer on a CPU: a few tokens show the same properties.
    analysed = run_analysis(gemma(), TEXT, 4096)
    return Subject(gemma(), analysed, generate(gemma(), analysed, CURSOR, GenerationSettings(max_new_tokens=6)), 6, 5)


def test_greedy_completion_equals_generate_and_reuses_the_analysis(subject: Subject) -> None:
    greedy, new = subject.greedy, subject.new
    expected = reference(subject.loaded, TEXT[:CURSOR], new)
    ours = completion_ids(greedy)
    assert ours and ours == expected[: len(ours)]
    assert greedy.stop == "limit" or len(ours) < new
    assert greedy.context == TEXT[:CURSOR] and greedy.analysis.document.text == TEXT[:CURSOR] + greedy.text
    assert "".join(greedy.text[t.start : t.end] for t in greedy.tokens) == greedy.text
    # Only the token at the cursor (its tokenisation can change there) and after it are computed.
    assert greedy.computed_tokens <= 2 and greedy.reused_tokens == greedy.start - greedy.computed_tokens
    for token in greedy.tokens:
        assert 0 < token.probability <= 1 and token.entropy >= 0 and not token.forced
        assert token.alternatives[0].probability >= token.probability - 1e-6


def test_a_branch_equals_generate_after_the_forced_tokens(subject: Subject) -> None:
    greedy, new = subject.greedy, subject.new
    chosen = greedy.tokens[2].alternatives[1].id  # the second choice at the third step
    forced = [*completion_ids(greedy)[:2], chosen]
    branch = generate(
        subject.loaded, subject.analysis, CURSOR, GenerationSettings(max_new_tokens=new, forced=tuple(forced))
    )
    ours = completion_ids(branch)
    assert ours[:3] == forced and [t.forced for t in branch.tokens[:4]] == [True, True, True, False]
    expected = reference(subject.loaded, TEXT[:CURSOR], new - 3, forced)
    assert ours[3:] == expected[: len(ours) - 3]


def test_without_lines_equals_generate_on_the_edited_text(subject: Subject) -> None:
    new = subject.edited_new
    settings = GenerationSettings(max_new_tokens=new)
    done = complete(subject.analysis, subject.loaded, CURSOR, settings, without_lines=((5, 7),))
    edited = edit_context(TEXT, CURSOR, ((5, 7),))
    assert "perimeter(radius):" not in edited.text and edited.text[edited.cursor :].startswith("radius)\n")
    assert done.generation.context == edited.text[: edited.cursor]
    ours = completion_ids(done.generation)
    assert ours == reference(subject.loaded, edited.text[: edited.cursor], new)[: len(ours)]
    assert done.generation.reused_tokens > 0  # the lines above the removed ones kept their state
    assert done.document_line(5) == 8 and done.document_line(4) == 4


def test_completion_rows_equal_eager_attention(embedded: Any, greedy: Generation) -> None:
    ids = greedy.analysis.document.ids
    model = embedded.model
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            eager = model(torch.tensor([ids]), output_attentions=True).attentions
    finally:
        install_capture_attention(model)
    win = greedy.analysis.windows[-1]
    count = len(ids) - greedy.start
    for layer in (0, 11, 29):
        rows = raw_rows(win, torch.tensor([layer]), greedy.start, count)[0]
        assert torch.allclose(rows, eager[layer][0, :, greedy.start :, :], atol=1e-4)
    options = ViewOptions(refinement="raw", aggregate="headMean", drop_sink=False)
    mean = torch.stack([a[0] for a in eager]).mean(dim=(0, 1)).double().numpy()
    last = len(ids) - 1
    assert abs(attention_vector(greedy.analysis, last, options) - mean[last]).max() < 1e-4
    assert greedy.analysis.prediction(last) is not None  # the last token's row was captured too


def test_compact_completion_rows_stay_within_the_stated_tolerance(embedded: Any, analysis: Analysis) -> None:
    budget = MemoryBudget(1024)
    kept = generate(embedded, analysis, CURSOR, GenerationSettings(max_new_tokens=6), budget=budget)
    plain = generate(embedded, analysis, CURSOR, GenerationSettings(max_new_tokens=6))
    assert completion_ids(kept) == completion_ids(plain)
    assert kept.analysis.windows[-1].query.dtype == torch.float16  # admitted: stored compactly
    options = ViewOptions(refinement="norm", aggregate="lastLayers")
    token = kept.analysis.token_count - 1
    assert (
        abs(attention_vector(kept.analysis, token, options) - attention_vector(plain.analysis, token, options)).max()
        < 3e-3
    )


def test_sampling_is_reproducible_with_a_seed(embedded: Any, analysis: Analysis) -> None:
    def sample(seed: int | None) -> Generation:
        return generate(embedded, analysis, CURSOR, GenerationSettings(max_new_tokens=8, temperature=1.5, seed=seed))

    first, again, other = sample(7), sample(7), sample(8)
    assert completion_ids(first) == completion_ids(again) and first.seed == 7
    assert completion_ids(first) != completion_ids(other)
    assert sample(None).seed is not None  # a fresh seed is reported, to sample the same again


def test_a_cursor_inside_a_token_re_tokenises_from_it(embedded: Any, analysis: Analysis) -> None:
    cursor = TEXT.index("perimeter(radius)\n") + len("perim")
    done = generate(embedded, analysis, cursor, GenerationSettings(max_new_tokens=4))
    ours = completion_ids(done)
    assert ours == reference(embedded, TEXT[:cursor], 4)[: len(ours)]


@pytest.mark.parametrize(
    ("cursor", "settings", "match"),
    [
        (0, GenerationSettings(), "start of the file"),
        (len(TEXT) + 1, GenerationSettings(), "past the end"),
        (CURSOR, GenerationSettings(max_new_tokens=0), "maxNewTokens must be"),
        (CURSOR, GenerationSettings(max_new_tokens=257), "maxNewTokens must be"),
        (CURSOR, GenerationSettings(temperature=-0.5), "temperature must be"),
        (CURSOR, GenerationSettings(max_new_tokens=2, forced=(1, 2)), "fewer than maxNewTokens"),
        (CURSOR, GenerationSettings(forced=(10**9,)), "not in the model's vocabulary"),
    ],
)
def test_bad_settings_are_refused_with_a_sentence(
    embedded: Any, analysis: Analysis, cursor: int, settings: GenerationSettings, match: str
) -> None:
    with pytest.raises(InvalidRequest, match=match):
        generate(embedded, analysis, cursor, settings)


@pytest.mark.parametrize(
    ("lines", "match"),
    [(((8, 9),), "reach the cursor's line"), (((10, 10),), "or pass it"), (((1, 3), (3, 4)), "overlap")],
)
def test_lines_to_remove_must_lie_before_the_cursor(
    embedded: Any, analysis: Analysis, lines: tuple[tuple[int, int], ...], match: str
) -> None:
    with pytest.raises(InvalidRequest, match=match):
        complete(analysis, embedded, CURSOR, without_lines=lines)


def test_a_completion_larger_than_the_memory_budget_is_refused(embedded: Any, analysis: Analysis) -> None:
    with pytest.raises(DocumentError, match="memory budget"):
        complete(analysis, embedded, CURSOR, GenerationSettings(max_new_tokens=4), budget=MemoryBudget(0))


def test_a_cancelled_completion_stops_between_tokens(embedded: Any, analysis: Analysis) -> None:
    cancel = threading.Event()
    seen: list[float | None] = []

    def progress(fraction: float | None, _message: str) -> None:
        seen.append(fraction)
        if fraction is not None and fraction > 0:
            cancel.set()  # after the first generated token

    with cancellation.cancellable(cancel), pytest.raises(Cancelled):
        generate(embedded, analysis, CURSOR, GenerationSettings(max_new_tokens=NEW), progress=progress)
    assert len([f for f in seen if f]) == 1


def test_a_completion_stops_before_a_line_dedented_below_the_cursor_line(embedded: Any, analysis: Analysis) -> None:
    cursor = TEXT.index("'perimeter': p}") + len("'perimeter': p}")  # the end of describe's last line
    done = generate(embedded, analysis, cursor, GenerationSettings(max_new_tokens=16))
    assert done.stop in ("dedent", "blankLines", "endOfSequence") and done.text.endswith("\n")
    assert stop_point(done.text, 4) is None  # what is kept ends before the event


def test_stop_rule_cuts_at_a_dedent_or_two_blank_lines() -> None:
    assert stop_point("x = 1", 4) is None
    assert stop_point("x = 1\n    y = 2\n", 4) is None
    assert stop_point("x = 1\n    y = 2\nprint", 4) == ("dedent", len("x = 1\n    y = 2\n"))
    assert stop_point("x = 1\n  ", 4) is None  # the next line's indentation is not known yet
    assert stop_point("x = 1\n\n\n", 0) == ("blankLines", len("x = 1\n"))
    assert stop_point("x = 1\n\n", 0) is None
    assert stop_point("\tx\n\ty", 8) is None  # a tab reaches column 8
    assert stop_point("a\nb", 4, since=2) == ("dedent", 2)  # after the forced text
    assert stop_point("a\nb", 4, since=3) is None  # inside it
