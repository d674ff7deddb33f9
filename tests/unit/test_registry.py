"""The registry is the one list of methods: the engine implements each, and the extension offers the same."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from atten_scope import registry
from atten_scope.common.errors import InvalidRequest
from atten_scope.engine import aggregate, refine
from atten_scope.limits import PYTHON
from atten_scope.protocol import builders
from atten_scope.protocol.params import parse_options
from atten_scope.protocol.request import BUILDERS, builds
from atten_scope.views.options import ViewOptions

ROOT = Path(__file__).resolve().parents[2]


def manifest_settings() -> dict[str, Any]:
    manifest = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    properties: dict[str, Any] = manifest["contributes"]["configuration"]["properties"]
    return properties


def extension_limits() -> dict[str, Any]:
    limits: dict[str, Any] = json.loads((ROOT / "extension" / "src" / "core" / "limits.json").read_text("utf-8"))
    return limits


def test_every_declared_method_is_implemented() -> None:
    assert set(refine.ROW_BUILDERS.functions) == set(registry.REFINEMENTS)
    assert {n for n, r in registry.REFINEMENTS.items() if r.columns} == set(refine.COLUMN_READERS.functions)
    combined = {n for n, a in registry.AGGREGATES.items() if not a.streamed and not a.learned}
    assert combined == set(aggregate.COMBINERS.functions)
    assert set(registry.VIEWS) == set(BUILDERS.functions)


def test_a_declared_method_without_an_implementation_is_found() -> None:
    table = {**registry.REFINEMENTS, "new": registry.Refinement("new", "New", "A new one.", columns=False, cost="?")}
    implementations = registry.Implementations[Any](table, "refinement")
    for name in registry.REFINEMENTS:
        implementations.register(name)(refine.raw_rows)
    with pytest.raises(ImportError, match="new"):
        implementations.check()


def test_registering_an_undeclared_method_fails() -> None:
    with pytest.raises(KeyError):
        refine.rows_of("undeclared")(refine.raw_rows)
    with pytest.raises(KeyError):
        aggregate.combines("rollout")(aggregate.head_mean)  # streamed: not combined row by row
    with pytest.raises(KeyError):
        builds("undeclared", dict)(builders.attention.attention_result)


def test_options_are_validated_against_the_registry() -> None:
    for name in registry.REFINEMENTS:
        assert parse_options({"refinement": name}, ViewOptions(), 30, 9).refinement == name
    with pytest.raises(InvalidRequest, match="use one of raw, norm"):
        parse_options({"refinement": "bogus"}, ViewOptions(), 30, 9)
    one_head = [name for name, spec in registry.AGGREGATES.items() if spec.one_head]
    for name in one_head:
        with pytest.raises(InvalidRequest, match="exactly one layer and one head"):
            parse_options({"aggregate": name}, ViewOptions(), 30, 9)


def test_the_extension_offers_what_the_server_offers() -> None:
    settings = manifest_settings()
    offered = registry.capabilities_json("0")
    assert settings["attenScope.refinement"]["enum"] == [r["name"] for r in offered["refinements"]]
    assert settings["attenScope.aggregate"]["enum"] == [a["name"] for a in offered["aggregates"]]
    assert settings["attenScope.direction"]["enum"] == [d["name"] for d in offered["directions"]]
    defaults = offered["defaults"]
    for key in (
        "refinement",
        "aggregate",
        "direction",
        "maxTokens",
        "topK",
        "cacheDocuments",
        "memoryBudgetMB",
        "analysisCacheMB",
    ):
        assert settings[f"attenScope.{key}"]["default"] == defaults[key], key


def test_the_extension_limits_equal_the_server_limits() -> None:
    settings, limits = manifest_settings(), extension_limits()
    offered = registry.capabilities_json("0")["limits"]
    for key in ("maxTokens", "topK", "cacheDocuments", "memoryBudgetMB", "analysisCacheMB"):
        assert limits[key] == offered[key], key
        assert settings[f"attenScope.{key}"]["minimum"] == offered[key]["min"], key
        assert settings[f"attenScope.{key}"]["maximum"] == offered[key]["max"], key
    assert limits["heatmapTokens"] == offered["heatmapTokens"]
    assert limits["heatmapBins"] == offered["heatmapBins"]
    assert limits["python"] == PYTHON


def test_the_python_bound_matches_pyproject() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # tomllib is not in Python 3.10
    bound = re.search(r'^requires-python = "([^"]+)"$', pyproject, re.MULTILINE)
    assert bound is not None and bound.group(1) == PYTHON


def test_every_view_reads_the_fields_it_declares() -> None:
    # The registry's options are what the extension reads; the params class is what the server parses.
    for name, view in registry.VIEWS.items():
        parsed = {f.metadata["atten_scope.param"].name for f in fields(builders.builder(name).params)}
        assert set(view.options) <= parsed, name


def test_the_thread_of_a_view_follows_its_entry() -> None:
    threads = {name: view.thread for name, view in registry.VIEWS.items()}
    assert threads["attention"] == threads["heads"] == "light"
    assert threads["heatmap"] == threads["flow"] == threads["altiRollout"] == threads["contrast"] == "heavy"
    assert threads["logitLens"] == "light"  # one token's pass: answered as the cursor moves
    assert threads["removeLines"] == "model"
    assert threads["explainCompletion"] == "model"
    assert {name for name, view in registry.VIEWS.items() if view.runs_model} == {
        "flow",
        "altiRollout",
        "logitLens",
        "contrast",
        "removeLines",
        "complete",
        "explainCompletion",
    }
