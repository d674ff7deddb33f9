"""Removing lines: the hypothetical analysis equals a fresh one of the edited text, reuses the
cached prefix, and refuses what it cannot answer."""

from __future__ import annotations

import math
from typing import Any

import pytest

from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.analysis import Analysis, first_difference, run_analysis
from atten_scope.protocol.builders import view_result
from atten_scope.protocol.builders.removal import removal_json
from atten_scope.views.removal import aligned_suffix, removal_effect, remove_lines

MAX_TOKENS = 256
TEXT = (
    "def total(items):\n"
    "    result = 0\n"
    "    for item in items:\n"
    "        result += item.price\n"
    "    return result\n"
    "\n"
    "def count(items):\n"
    "    return len(items)\n"
    "\n"
    "print(total([]), count([]))\n"
)
LAST = "print(total([]), count([]))"


def position(text: str, needle: str, delta: int = 0) -> dict[str, int]:
    index = text.index(needle) + delta
    line = text.count("\n", 0, index)
    return {"line": line, "character": index - (text.rfind("\n", 0, index) + 1)}


@pytest.fixture(scope="module")
def analysis(embedded: Any) -> Analysis:
    return run_analysis(embedded, TEXT, MAX_TOKENS)


def test_remove_lines_cuts_whole_lines_with_their_breaks() -> None:
    removal = remove_lines("a\nb\nc\nd", 1, 2)
    assert removal.edited == "a\nd" and (removal.start, removal.end) == (2, 6) and removal.removed_chars == 4
    assert remove_lines("a\nb", 1, 1).edited == "a\n"  # the last line has no break of its own
    assert remove_lines("a\r\nb\r\nc", 0, 0).edited == "b\r\nc"


@pytest.mark.parametrize(
    ("first", "last", "match"),
    [(2, 1, "first <= last"), (-1, 0, "first <= last"), (0, 99, "past the end"), (0, 10, "every line")],
)
def test_remove_lines_refuses_impossible_ranges(first: int, last: int, match: str) -> None:
    assert TEXT.count("\n") == 10  # 11 lines, the last one empty
    with pytest.raises(InvalidRequest, match=match):
        remove_lines(TEXT, first, last)


def test_after_and_heat_equal_a_fresh_analysis_of_the_edited_text(embedded: Any, analysis: Analysis) -> None:
    cursor = TEXT.index(LAST) + len("print(total")
    effect = removal_effect(analysis, embedded, 2, 3, cursor, heat=True)
    answer = removal_json(analysis, effect, 7)
    edited = "".join(TEXT.splitlines(keepends=True)[:2] + TEXT.splitlines(keepends=True)[4:])
    assert effect.removal.edited == edited
    fresh = run_analysis(embedded, edited, MAX_TOKENS)
    moved = fresh.document.token_at(cursor - effect.removal.removed_chars)
    assert effect.edited_token == moved == answer["editedToken"]
    assert fresh.document.token_text(moved) == analysis.document.token_text(effect.token)
    expected = fresh.prediction(moved)
    after, before = answer["after"], answer["before"]
    assert expected is not None and after is not None and before is not None
    assert [t["id"] for t in after["top"]] == [v for v, _ in expected.top]
    for served, (_, probability) in zip(after["top"], expected.top, strict=True):
        assert served["probability"] == pytest.approx(probability, abs=1e-4)
    assert after["actual"]["probability"] == pytest.approx(math.exp(expected.next_logprob), abs=1e-4)
    assert after["actual"]["rank"] == expected.next_rank
    # before is the document's own prediction at the cursor's token
    own = analysis.prediction(effect.token)
    assert own is not None and before["actual"]["rank"] == own.next_rank

    # the heat: every token from the line after the removed ones to the end, each against the fresh analysis
    assert effect.heat is not None
    old_bits, new_bits = analysis.surprisal_bits(), fresh.surprisal_bits()
    after_removed = [j for j in range(analysis.token_count) if analysis.document.starts[j] >= effect.removal.end]
    assert [j for j, _, _ in effect.heat] == after_removed  # line starts keep the join's tokens whole here
    shift = len(analysis.document) - len(fresh.document)
    for j, before, after in effect.heat:
        assert fresh.document.ids[j - shift] == analysis.document.ids[j]
        assert before == pytest.approx(old_bits[j], abs=1e-4)
        assert after == pytest.approx(new_bits[j - shift], abs=1e-4)
    changed = [after - before for _, before, after in effect.heat]
    assert any(abs(d) > 0.01 for d in changed)  # the removed loop mattered to what follows

    assert answer["version"] == 7 and answer["lines"] == {"first": 2, "last": 3}
    assert answer["heat"]["indices"] == after_removed
    assert len(answer["heat"]["ranges"]) == 4 * len(after_removed)
    assert answer["heat"]["delta"] == [round(d, 3) for d in changed]
    assert answer["heat"]["totalDelta"] == pytest.approx(sum(changed), abs=1e-3)


def test_only_the_tokens_from_the_removed_lines_on_are_recomputed(embedded: Any, analysis: Analysis) -> None:
    effect = removal_effect(analysis, embedded, 6, 7, TEXT.index(LAST))
    fresh_ids = embedded.tokenizer(effect.removal.edited, add_special_tokens=True)["input_ids"]
    kept = first_difference(analysis.document.ids, [int(i) for i in fresh_ids])
    assert 0 < kept < len(fresh_ids)
    assert effect.tokens == len(fresh_ids)
    assert effect.recomputed == len(fresh_ids) - kept
    assert effect.reused == kept > 0
    assert effect.heat is None


def test_aligned_suffix_stops_at_the_removed_span(embedded: Any) -> None:
    # The line after the removed one repeats the one before: aligning from the end must not pair
    # the removed line's tokens with the kept ones.
    text = "x = 1\nx = 1\nx = 1\ny = x\n"
    analysis = run_analysis(embedded, text, MAX_TOKENS)
    removal = remove_lines(text, 1, 1)
    edited = run_analysis(embedded, removal.edited, MAX_TOKENS, previous=analysis)
    pairs = aligned_suffix(analysis, edited, removal)
    assert pairs and all(analysis.document.starts[j] >= removal.end for j, _ in pairs)
    assert all(analysis.document.starts[j] - removal.removed_chars == edited.document.starts[k] for j, k in pairs)


@pytest.mark.parametrize(
    ("first", "last", "cursor", "match"),
    [
        (2, 3, position(TEXT, "item.price"), "inside the lines"),
        (6, 7, position(TEXT, "result = 0"), "before the lines"),
        (0, 10, position(TEXT, LAST), "every line"),
        (9, 12, position(TEXT, LAST), "past the end"),
        (2, 3, {"line": 40, "character": 0}, "outside the document"),
        (2, 3, {"line": "1", "character": 0}, "position.line must be a whole number"),
    ],
)
def test_refusals(embedded: Any, analysis: Analysis, first: int, last: int, cursor: Any, match: str) -> None:
    params = {"lines": {"first": first, "last": last}, "position": cursor}
    with pytest.raises(InvalidRequest, match=match):
        view_result("removeLines", analysis, params, model=embedded)
