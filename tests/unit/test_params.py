"""Typed request params: one parser, JSON types never coerced, the same limit rule in every request,
and each refusal a sentence that names the field."""

from __future__ import annotations

from typing import Any

import pytest

from atten_scope import limits
from atten_scope.common.errors import InvalidRequest
from atten_scope.protocol.builders import builder
from atten_scope.protocol.fields import parse_params
from atten_scope.protocol.params import DocumentRequest, RemoveLinesParams, parse_options
from atten_scope.views.options import ViewOptions

POSITION = {"line": 1, "character": 2}
TOP_K = limits.TOP_K


def parse(view: str, raw: dict[str, Any]) -> Any:
    return builder(view).parse(raw)


@pytest.mark.parametrize("value", ["false", 0, None, "no", 1])
def test_prediction_must_be_a_json_boolean(value: Any) -> None:
    with pytest.raises(InvalidRequest, match="prediction must be true or false"):
        parse("attention", {"position": POSITION, "prediction": value})
    assert parse("attention", {"position": POSITION, "prediction": False}).prediction is False
    assert parse("attention", {"position": POSITION}).prediction is True


def test_heat_must_be_a_json_boolean() -> None:
    lines = {"lines": {"first": 1, "last": 2}, "position": POSITION}
    with pytest.raises(InvalidRequest, match="heat must be true or false"):
        parse("removeLines", {**lines, "heat": "yes"})
    assert parse("removeLines", {**lines, "heat": True}).heat is True
    assert parse("removeLines", lines).heat is False


@pytest.mark.parametrize("view", ["attention", "heads", "neuron", "altiRollout", "heatmap"])
def test_drop_sink_is_a_json_boolean_in_every_view(view: str) -> None:
    raw = {"position": POSITION, "layer": 0, "head": 0, "dropSink": "yes"}
    with pytest.raises(InvalidRequest, match="dropSink must be true or false"):
        parse(view, raw)


@pytest.mark.parametrize("view", ["attention", "altiRollout"])
def test_top_k_has_one_rule_out_of_its_limits_refused(view: str) -> None:
    message = f"topK must be a whole number from {TOP_K.minimum} to {TOP_K.maximum}"
    for value in (TOP_K.maximum + 1, 0, 2.5, "5", True):
        with pytest.raises(InvalidRequest, match=message):
            parse(view, {"position": POSITION, "topK": value})
    assert parse(view, {"position": POSITION, "topK": TOP_K.maximum}).top_k == TOP_K.maximum


def test_the_settings_and_the_cli_follow_the_same_limit_rule() -> None:
    with pytest.raises(InvalidRequest, match="topK must be a whole number from"):
        parse_options({"topK": TOP_K.maximum + 1}, ViewOptions(), 30, 9)
    # a setting left unset (null) is no value
    assert parse_options({"topK": None, "dropSink": None}, ViewOptions(), 30, 9) == ViewOptions()


@pytest.mark.parametrize(
    ("view", "field", "value", "message"),
    [
        ("flow", "maxNodes", limits.FLOW_NODES.maximum + 1, "maxNodes must be a whole number from 5 to 300"),
        ("flow", "maxNodes", True, "maxNodes must be a whole number"),
        ("flow", "threshold", 1, "threshold must be a number between 0 and 1"),
        (
            "heatmap",
            "bins",
            limits.HEATMAP_BINS + 1,
            f"bins must be a whole number from 1 to {limits.HEATMAP_BINS}.",
        ),
        ("heatmap", "layer", "3", 'layer must be "all" or a layer number'),
        ("heatmap", "rows", [0, "9"], "rows must be \\[start, end\\], two token indices"),
        ("attention", "layers", [1, True], "layers must be whole numbers"),
        ("attention", "refinement", "bogus", "Unknown refinement"),
        ("neuron", "source", "3", "source must be a whole number"),
    ],
)
def test_wrong_values_are_refused_naming_the_field(view: str, field: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse(view, {"position": POSITION, "layer": 0, "head": 0, field: value})


def test_null_is_no_value_of_a_request_field() -> None:
    with pytest.raises(InvalidRequest, match="topK must be"):
        parse("attention", {"position": POSITION, "topK": None})
    with pytest.raises(InvalidRequest, match=r"position\.character must be a whole number"):
        parse("attention", {"position": {"line": 0, "character": None}})


def test_required_fields_are_named() -> None:
    with pytest.raises(InvalidRequest, match="The request needs position"):
        parse("attention", {})
    with pytest.raises(InvalidRequest, match=r"The request needs position\.character"):
        parse("flow", {"position": {"line": 3}})
    with pytest.raises(InvalidRequest, match="needs rows and columns"):
        parse("heatmapTile", {"rows": [0, 4]})
    with pytest.raises(InvalidRequest, match="needs lines"):
        parse("removeLines", {"position": POSITION})


def test_the_document_version_must_be_an_integer() -> None:
    with pytest.raises(InvalidRequest, match=r"textDocument\.version must be a whole number"):
        parse_params(DocumentRequest, {"textDocument": {"uri": "file:///a.py", "version": "1"}})
    with pytest.raises(InvalidRequest, match=r"textDocument\.uri must be a non-empty string"):
        parse_params(DocumentRequest, {"textDocument": {"uri": 3}})
    with pytest.raises(InvalidRequest, match="workDoneToken must be a string or a whole number"):
        parse_params(DocumentRequest, {"textDocument": {"uri": "file:///a.py"}, "workDoneToken": [1]})
    request = parse_params(DocumentRequest, {"textDocument": {"uri": "file:///a.py", "version": 4}, "workDoneToken": 7})
    assert request.text_document.version == 4 and request.work_done_token == 7


def lines_of(raw: dict[str, Any]) -> tuple[int, int]:
    params = parse_params(RemoveLinesParams, {"position": POSITION, **raw})
    return params.first_last


def span(start: tuple[int, int], end: tuple[int, int]) -> dict[str, Any]:
    return {"range": {"start": {"line": start[0], "character": start[1]}, "end": {"line": end[0], "character": end[1]}}}


def test_remove_lines_reads_lines_or_the_lines_a_range_touches() -> None:
    assert lines_of({"lines": {"first": 3, "last": 4}}) == (3, 4)
    # a selection of whole lines ends at character 0 of the next line, which is not removed
    assert lines_of(span((2, 0), (4, 0))) == (2, 3)
    assert lines_of(span((2, 3), (4, 1))) == (2, 4)
    assert lines_of(span((10, 3), (10, 3))) == (10, 10)  # a cursor inside a line: that line
    assert lines_of(span((2, 3), (2, 0))) == (2, 2)
    with pytest.raises(InvalidRequest, match=r"lines\.first must be a whole number"):
        lines_of({"lines": {"first": "1", "last": 2}})


def test_an_empty_range_at_the_start_of_a_line_removes_nothing() -> None:
    # The documented rule: a last line reached only at character 0 is untouched, so no line is left.
    with pytest.raises(InvalidRequest, match="touches no line"):
        lines_of(span((10, 0), (10, 0)))
