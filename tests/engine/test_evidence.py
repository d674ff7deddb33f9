"""The shipped faithfulness table and how a view finds its numbers in it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from atten_scope.engine.embedded import EMBEDDED_ID
from atten_scope.registry import AGGREGATES, DEFAULT_AGGREGATE, DEFAULT_REFINEMENT, REFINEMENTS
from atten_scope.views import evidence
from atten_scope.views.evidence import (
    NOT_MEASURED,
    default_options,
    faithfulness_sentence,
    faithfulness_text,
    language_words,
    load_table,
    load_tables,
    recommended_view,
    recommended_views,
    view_faithfulness,
)
from atten_scope.views.options import ViewOptions

TABLE = {
    "model": "m",
    "snippets": 5,
    "methods": [
        {"method": "raw / headMean", "on": [0.2, 0.1, 0.3], "off": [0.25, 0.15, 0.35]},
        {"method": "norm / lastLayers", "on": [0.3, 0.2, 0.4], "off": [0.1, 0.0, 0.2]},
        {"method": "gradient x input", "on": [0.28, 0.1, 0.4], "off": [0.3, 0.1, 0.5]},
    ],
}


def test_view_found_with_rank_among_all_methods() -> None:
    found = view_faithfulness("m", ViewOptions(refinement="raw", aggregate="headMean"), TABLE)
    assert found == {
        "rho": 0.2,
        "low": 0.1,
        "high": 0.3,
        "snippets": 5,
        "rank": 3,
        "methods": 3,
        "best": "norm / lastLayers",
        "bestRho": 0.3,
        "model": "m",
        "position": "last",
        "unit": "token",
        "corpus": "bench/corpus",
        "languages": [],
        "asked": {"position": "last", "unit": "token"},
        "language": None,
        "standsIn": False,
        "text": "\u03c1 +0.20 vs ablation (last token)",
        "sentence": "Faithfulness of this view: \u03c1 = +0.20 [+0.10, +0.30] against leave-one-out ablation "
        "at the last token (5 snippets; rank 3 of 3).",
    }


def test_sink_kept_reads_the_other_column_and_ranks_by_it() -> None:
    found = view_faithfulness("m", ViewOptions(refinement="raw", aggregate="headMean", drop_sink=False), TABLE)
    assert found is not None
    assert (found["rho"], found["rank"], found["best"]) == (0.25, 2, "gradient x input")


@pytest.mark.parametrize(
    "model, options",
    [
        ("other", ViewOptions(refinement="raw", aggregate="headMean")),  # another model
        ("m", ViewOptions(refinement="raw", aggregate="headMean", layers=(0,))),  # a layer subset
        ("m", ViewOptions(refinement="raw", aggregate="headMean", heads=(1, 2))),  # a head subset
        ("m", ViewOptions(refinement="raw", aggregate="headMax")),  # a view not in the table
        ("m", ViewOptions(refinement="raw", aggregate="headMean", direction="attendedBy")),  # columns
    ],
)
def test_unmeasured_views_say_so(model: str, options: ViewOptions) -> None:
    assert view_faithfulness(model, options, TABLE) is None
    assert faithfulness_sentence(None) == NOT_MEASURED and "not measured" in faithfulness_text(None)


def test_line_states_rho_interval_and_rank() -> None:
    found = view_faithfulness("m", ViewOptions(refinement="norm", aggregate="lastLayers"), TABLE)
    line = faithfulness_sentence(found)
    assert "\u03c1 = +0.30 [+0.20, +0.40]" in line and "5 snippets" in line and "rank 1 of 3" in line


def test_shipped_table_covers_every_measured_engine_view() -> None:
    table = load_table()
    assert table is not None, "atten_scope/data/faithfulness.json is missing from the package"
    assert table["model"] == EMBEDDED_ID and table["snippets"] >= 30
    names = {row["method"] for row in table["methods"]}
    for refinement in REFINEMENTS:
        for aggregate in ("headMean", "headMax", "lastLayers", "rollout"):
            assert aggregate in AGGREGATES
            assert f"{refinement} / {aggregate}" in names
    for row in table["methods"]:
        for column in ("on", "off"):
            rho, low, high = row[column]
            assert -1 <= low <= rho <= high <= 1


@pytest.mark.parametrize("model_id", sorted(load_tables()))
def test_default_view_is_the_most_faithful_the_engine_offers(model_id: str) -> None:
    """The defaults follow the evidence, per model: no user-selectable view measured better."""
    table = load_table(model_id)
    assert table is not None
    default = view_faithfulness(model_id, default_options(model_id))
    assert default is not None
    offered = [
        row["on"][0]
        for row in table["methods"]
        if row["method"].split(" / ")[0] in REFINEMENTS
        and row["method"].split(" / ")[1] in AGGREGATES
        and not AGGREGATES[row["method"].split(" / ")[1]].one_head
    ]
    assert default["rho"] == pytest.approx(max(offered))
    assert recommended_views()[model_id]["rho"] == pytest.approx(max(offered))


def test_the_embedded_default_model_keeps_the_registry_default_view() -> None:
    """The registry's default (the view of unmeasured models) is the default model's measured best."""
    options = default_options(EMBEDDED_ID)
    assert (options.refinement, options.aggregate) == (DEFAULT_REFINEMENT, DEFAULT_AGGREGATE)


def test_recommended_view_skips_methods_the_engine_does_not_offer(monkeypatch: pytest.MonkeyPatch) -> None:
    """gradient x input and the benchmark-only methods may rank first; users can only pick engine views."""
    table = {
        "model": "m",
        "snippets": 5,
        "methods": [
            {"method": "gradient x input", "on": [0.5, 0.4, 0.6], "off": [0.5, 0.4, 0.6]},
            {"method": "alti / lastLayers", "on": [0.45, 0.4, 0.5], "off": [0.4, 0.3, 0.5]},
            {"method": "raw / headMax", "on": [0.35, 0.3, 0.4], "off": [0.3, 0.2, 0.4]},
            {"method": "norm / lastLayers", "on": [0.3, 0.2, 0.4], "off": [0.4, 0.3, 0.5]},
        ],
    }
    monkeypatch.setattr(evidence, "load_tables", lambda: {"m": table})
    assert recommended_view("m") == {"refinement": "raw", "aggregate": "headMax", "rho": 0.35}
    options = default_options("m")
    assert (options.refinement, options.aggregate, options.direction) == ("raw", "headMax", "attendsTo")
    assert recommended_view("unmeasured") is None
    assert default_options("unmeasured") == ViewOptions()


def test_faithfulness_is_claimed_only_for_the_model_measured() -> None:
    """Each model has its own table: a view measured on SmolLM2 says nothing about Gemma 3."""
    options = ViewOptions(refinement=DEFAULT_REFINEMENT, aggregate=DEFAULT_AGGREGATE)
    assert view_faithfulness(EMBEDDED_ID, options) is not None
    if load_table("embedded:gemma3-270m") is None:
        assert view_faithfulness("embedded:gemma3-270m", options) is None
    assert view_faithfulness("someone/else", options) is None


SITUATED = {
    **TABLE,
    "situations": [
        {
            "position": "interior",
            "unit": "token",
            "baseline": "space",
            "corpus": "Python 3.11.7 standard library",
            "languages": ["python"],
            "snippets": 7,
            "methods": [
                {"method": "raw / headMean", "on": [0.4, 0.3, 0.5]},
                {"method": "norm / lastLayers", "on": [0.35, 0.3, 0.4]},
                {"method": "gradient x input", "on": [0.1, 0.0, 0.2]},
            ],
        },
        {
            "position": "last",
            "unit": "line",
            "baseline": "space",
            "corpus": "bench/corpus",
            "snippets": 5,
            "methods": [{"method": "norm / lastLayers", "on": [0.5, 0.4, 0.6]}],
        },
    ],
}


def test_interior_tokens_read_their_own_figures_and_ranks() -> None:
    options = ViewOptions(refinement="raw", aggregate="headMean")
    found = view_faithfulness("m", options, SITUATED, position="interior", unit="token")
    assert found is not None
    assert (found["rho"], found["low"], found["high"]) == (0.4, 0.3, 0.5)
    assert (found["rank"], found["methods"], found["best"], found["snippets"]) == (1, 3, "raw / headMean", 7)
    assert (found["position"], found["unit"]) == ("interior", "token") and found["asked"] == {
        "position": "interior",
        "unit": "token",
    }
    assert found["corpus"] == "Python 3.11.7 standard library"
    line = faithfulness_sentence(found)
    assert "\u03c1 = +0.40 [+0.30, +0.50] against leave-one-out ablation at interior tokens, measured on Python" in line
    assert "(7 snippets of the Python 3.11.7 standard library; rank 1 of 3)" in line
    assert "not measured" not in line
    # the last token keeps the table's original figures, measured on the benchmark's own snippets
    last = view_faithfulness("m", options, SITUATED, position="last", unit="token")
    assert last is not None and (last["rho"], last["rank"], last["position"]) == (0.2, 3, "last")
    assert last["corpus"] == "bench/corpus" and " snippets; rank 3" in faithfulness_sentence(last)


def test_line_figures_rank_among_the_methods_measured_per_line() -> None:
    options = ViewOptions(refinement="norm", aggregate="lastLayers")
    found = view_faithfulness("m", options, SITUATED, position="last", unit="line")
    assert found is not None and (found["rho"], found["rank"], found["methods"]) == (0.5, 1, 1)
    assert found["unit"] == "line"
    assert found["sentence"].startswith("Line sums (the gutter): \u03c1 = +0.50 [+0.40, +0.60] against ablating")
    assert found["text"] == "\u03c1 +0.50 vs ablation (line sums, last token)"
    # a view measured per token but not per line has no line figure
    raw = ViewOptions(refinement="raw", aggregate="headMean")
    fallback = view_faithfulness("m", raw, SITUATED, position="last", unit="line")
    assert fallback is not None and fallback["unit"] == "token" and fallback["rho"] == 0.2


@pytest.mark.parametrize(
    "options, position, unit",
    [
        (ViewOptions(refinement="norm", aggregate="lastLayers"), "interior", "line"),  # not in the table
        (ViewOptions(refinement="norm", aggregate="lastLayers", drop_sink=False), "interior", "token"),  # sink kept
    ],
)
def test_unmeasured_situations_fall_back_to_the_last_token_and_say_so(
    options: ViewOptions, position: str, unit: str
) -> None:
    found = view_faithfulness("m", options, SITUATED, position=position, unit=unit)
    assert found is not None
    column = "on" if options.drop_sink else "off"
    assert found["rho"] == next(r[column][0] for r in TABLE["methods"] if r["method"] == "norm / lastLayers")
    assert (found["position"], found["unit"]) == ("last", "token")
    assert found["asked"] == {"position": position, "unit": unit}
    asked = "per line, at interior tokens" if unit == "line" else "at interior tokens"
    assert "at the last token" in found["sentence"] and f"; not measured {asked})." in found["sentence"]
    assert found["text"].endswith(f"last token; not measured {asked})")


def test_a_table_without_situations_answers_every_situation_from_the_last_token() -> None:
    """Tables written before situations were measured still work: old readers and new ones."""
    options = ViewOptions(refinement="raw", aggregate="headMean")
    for position in ("last", "interior"):
        for unit in ("token", "line"):
            found = view_faithfulness("m", options, TABLE, position=position, unit=unit)
            assert found is not None and found["rho"] == 0.2 and found["position"] == "last"
    with pytest.raises(ValueError):
        view_faithfulness("m", options, TABLE, position="middle")


@pytest.mark.parametrize(
    "language, text",
    [
        (None, "\u03c1 +0.40 vs ablation (Python, interior tokens)"),
        ("python", "\u03c1 +0.40 vs ablation (Python, interior tokens)"),
        ("c", "\u03c1 +0.40 vs ablation (measured on Python, standing in for C; interior tokens)"),
    ],
)
def test_a_figure_names_the_language_it_was_measured_on_or_the_one_it_stands_in_for(
    language: str | None, text: str
) -> None:
    options = ViewOptions(refinement="raw", aggregate="headMean")
    found = view_faithfulness("m", options, SITUATED, position="interior", unit="token", language=language)
    assert found is not None and found["text"] == text
    assert found["languages"] == ["python"] and found["language"] == language
    assert found["standsIn"] is (language == "c")
    assert ("standing in for C" in found["sentence"]) is (language == "c")


def test_a_figure_of_several_languages_counts_them_and_names_the_documents() -> None:
    table = {**TABLE, "languages": ["c", "python", "rust"]}
    options = ViewOptions(refinement="raw", aggregate="headMean")
    figures = {
        language: view_faithfulness("m", options, table, language=language) for language in (None, "c", "haskell")
    }
    texts = {language: figure["text"] for language, figure in figures.items() if figure is not None}
    assert texts == {
        None: "\u03c1 +0.20 vs ablation (3 languages, last token)",
        "c": "\u03c1 +0.20 vs ablation (3 languages incl. C, last token)",
        "haskell": "\u03c1 +0.20 vs ablation (measured on 3 languages, standing in for Haskell; last token)",
    }
    assert language_words(["python"], "shellscript") == (
        "measured on Python, standing in for shell",
        "measured on Python, standing in for shell",
    )
    assert language_words([], "c") == ("", "")  # an older table: no claim either way


def test_the_shipped_tables_name_the_languages_of_every_figure() -> None:
    """Every figure shipped says what it was measured on, so a document in another language is told."""
    for model_id, table in load_tables().items():
        assert table["languages"], model_id
        for entry in table.get("situations", []):
            assert entry["languages"], (model_id, entry["position"], entry["unit"])
    options = default_options(EMBEDDED_ID)
    on_c = view_faithfulness(EMBEDDED_ID, options, position="interior", language="c")
    on_python = view_faithfulness(EMBEDDED_ID, options, position="interior", language="python")
    assert on_c is not None and on_python is not None and on_c["rho"] == on_python["rho"]
    assert on_c["languages"] == ["python"]  # the interior figures come from the Python standard library
    assert on_c["standsIn"] and "standing in for C" in on_c["text"] and "standing in for C" in on_c["sentence"]
    assert not on_python["standsIn"] and "standing in" not in on_python["text"]


def test_language_of_a_file_by_its_name() -> None:
    from atten_scope.views.languages import language_name, language_of_path

    assert [language_of_path(name) for name in ("a.py", "main.C", "x.h", "run.sh", "notes")] == [
        "python",
        "c",
        "c",
        "shellscript",
        None,
    ]
    assert (language_name("cpp"), language_name("shellscript"), language_name("cobol")) == ("C++", "shell", "cobol")


def test_attention_answer_reports_the_situation_of_the_cursor_token(embedded: Any) -> None:
    """The document's last analysed token is a last-position query; every other token is interior."""
    from atten_scope.engine.analysis import run_analysis
    from atten_scope.protocol.builders.attention import attention_json

    analysis = run_analysis(embedded, "def add(a, b):\n    return a + b\n\nprint(add(1, 2))")
    options = default_options(EMBEDDED_ID)
    last = attention_json(analysis, analysis.token_count - 1, options)
    inner = attention_json(analysis, 3, options)
    assert last["faithfulness"]["asked"] == {"position": "last", "unit": "token"}
    assert inner["faithfulness"]["asked"] == {"position": "interior", "unit": "token"}
    assert inner["lineFaithfulness"]["asked"] == {"position": "interior", "unit": "line"}
    for answer in (last, inner):
        for key in ("faithfulness", "lineFaithfulness"):
            figure = answer[key]
            assert figure["model"] == EMBEDDED_ID and -1 <= figure["low"] <= figure["rho"] <= figure["high"] <= 1
            assert figure["position"] in ("last", "interior") and figure["unit"] in ("token", "line")


def test_a_situation_with_its_lds_ends_the_sentence_with_it() -> None:
    """Where the shipped situation holds a method's LDS (random half removals), the full sentence (the
    status bar's tooltip) names it after the rho; the short line stays as it was; a row without one
    says nothing of it."""
    table = json.loads(json.dumps(SITUATED))
    table["situations"][1]["methods"][0]["lds"] = [0.42, 0.35, 0.49]
    options = ViewOptions(refinement="norm", aggregate="lastLayers")
    found = view_faithfulness("m", options, table, position="last", unit="line")
    assert found is not None and found["lds"] == [0.42, 0.35, 0.49]
    assert found["sentence"].endswith(
        "Its LDS (the weights against removing half of the lines at once, Spearman over 32 removals): "
        "+0.42 [+0.35, +0.49]."
    )
    assert "LDS" not in found["text"]
    plain = view_faithfulness("m", ViewOptions(refinement="raw", aggregate="headMean"), table, "interior", "token")
    assert plain is not None and "lds" not in plain and "LDS" not in plain["sentence"]
