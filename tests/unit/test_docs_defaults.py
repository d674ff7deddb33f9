"""The defaults and scales the docs state are the code's: README.md, extension/README.md and
docs/PROTOCOL.md against limits.py, the registry, the extension manifest's settings and the
extension's own constants."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from atten_scope import registry
from atten_scope.limits import (
    ABLATIONS,
    ALTERNATIVES,
    CACHE_DOCUMENTS,
    FLOW_NODES,
    FLOW_THRESHOLD,
    HEATMAP_BINS,
    MAX_NEW_TOKENS,
    MAX_TOKENS,
    MEMORY_BUDGET_MB,
    TOP_K,
    Limit,
)

ROOT = Path(__file__).resolve().parents[2]
NUMBER_WORDS = {"three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}


def flat(path: str) -> str:
    """A document's text with every run of whitespace as one space: a stated default may wrap."""
    return re.sub(r"\s+", " ", (ROOT / path).read_text(encoding="utf-8"))


def number(text: str) -> float:
    """``4,096`` -> 4096, ``0.04`` -> 0.04."""
    return float(text.replace(",", ""))


def stated(pattern: str, text: str, what: str) -> re.Match[str]:
    found = re.search(pattern, text, re.MULTILINE)
    assert found is not None, f"the docs no longer state {what} (pattern {pattern!r})"
    return found


def manifest() -> dict[str, dict[str, Any]]:
    """The extension's settings as its manifest contributes them, by name."""
    configuration = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))["contributes"]["configuration"]
    sections = configuration if isinstance(configuration, list) else [configuration]
    return {name: spec for section in sections for name, spec in section["properties"].items()}


def ts_constant(path: str, pattern: str) -> float:
    """A number the extension's TypeScript source defines (``export const TOKEN_MAX_BITS = 16;``)."""
    return number(stated(pattern, (ROOT / path).read_text(encoding="utf-8"), f"{pattern} in {path}").group(1))


# The extension's settings that the server's limits bound, with those limits.
LIMITED = {
    "attenScope.maxTokens": MAX_TOKENS,
    "attenScope.topK": TOP_K,
    "attenScope.cacheDocuments": CACHE_DOCUMENTS,
    "attenScope.memoryBudgetMB": MEMORY_BUDGET_MB,
    "attenScope.completion.maxNewTokens": MAX_NEW_TOKENS,
    "attenScope.completion.alternatives": ALTERNATIVES,
    "attenScope.completion.ablations": ABLATIONS,
}


@pytest.mark.parametrize("name, limit", sorted(LIMITED.items()))
def test_the_manifest_takes_its_limits_from_the_server(name: str, limit: Limit) -> None:
    spec = manifest()[name]
    assert (spec["default"], spec["minimum"], spec["maximum"]) == (limit.default, limit.minimum, limit.maximum)


def extension_settings_rows() -> dict[str, str]:
    """extension/README.md's settings tables: setting -> what the row says (a row may name two)."""
    rows: dict[str, str] = {}
    text = (ROOT / "extension" / "README.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        found = re.match(r"\| ((?:`attenScope\.[\w.]+`(?:, )?)+) \| (.*) \|$", line)
        if found:
            for name in re.findall(r"`(attenScope\.[\w.]+)`", found.group(1)):
                rows[name] = found.group(2)
    return rows


def test_every_setting_of_the_manifest_is_in_the_extension_readme() -> None:
    rows = extension_settings_rows()
    assert set(manifest()) == set(rows), "settings missing from (or only in) extension/README.md"


@pytest.mark.parametrize(
    "name",
    [
        "attenScope.maxTokens",
        "attenScope.topK",
        "attenScope.cacheDocuments",
        "attenScope.memoryBudgetMB",
        "attenScope.dropSink",
        "attenScope.autoAnalyze",
        "attenScope.reanalyzeAfterEdit",
        "attenScope.trustRemoteCode",
        "attenScope.completion.maxNewTokens",
        "attenScope.completion.temperature",
        "attenScope.completion.alternatives",
        "attenScope.completion.ablations",
    ],
)
def test_the_extension_readme_states_each_settings_default(name: str) -> None:
    """A row states its default in parentheses: after its range ("1-256 (48)"), else at its end
    ("(4,096)", "(on)"); the range is the manifest's."""
    row = extension_settings_rows()[name]
    spec = manifest()[name]
    bounds = re.search(r"(\d[\d,]*)-(\d[\d,]*) \(([^()]*)\)", row)
    if bounds:
        assert (number(bounds.group(1)), number(bounds.group(2))) == (spec["minimum"], spec["maximum"]), name
        default = bounds.group(3)
    else:
        default = stated(r"\(([^()]*)\)$", row, f"the default of {name}").group(1)
    if isinstance(spec["default"], bool):
        assert default == ("on" if spec["default"] else "off"), name
    else:
        assert number(default) == spec["default"], name


@pytest.mark.parametrize(
    "key, limit",
    [
        ("maxTokens", MAX_TOKENS),
        ("topK", TOP_K),
        ("cacheDocuments", CACHE_DOCUMENTS),
        ("memoryBudgetMB", MEMORY_BUDGET_MB),
    ],
)
def test_the_protocol_settings_table_states_the_servers_defaults(key: str, limit: Limit) -> None:
    text = (ROOT / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    row = stated(rf"^\| {key} \| .* \| (\S+) \|$", text, f"the default of {key}")
    assert number(row.group(1)) == limit.default == registry.capabilities_json(0)["defaults"][key]


def test_the_protocol_states_the_request_defaults() -> None:
    text = flat("docs/PROTOCOL.md")
    flow = stated(r"until it has `maxNodes` nodes \(default (\d+), (\d+) to (\d+);", text, "the flow's max nodes")
    assert tuple(int(x) for x in flow.groups()) == (FLOW_NODES.default, FLOW_NODES.minimum, FLOW_NODES.maximum)
    threshold = stated(r"`threshold` \(default ([\d.]+), 0 < t < 1\)", text, "the flow's threshold")
    assert number(threshold.group(1)) == FLOW_THRESHOLD
    complete = stated(r"maxNewTokens\?: int \((\d+)\.\.(\d+), default (\d+)\)", text, "maxNewTokens")
    assert tuple(int(x) for x in complete.groups()) == (
        MAX_NEW_TOKENS.minimum,
        MAX_NEW_TOKENS.maximum,
        MAX_NEW_TOKENS.default,
    )
    alternatives = stated(r"alternatives\?: int \((\d+)\.\.(\d+), default (\d+)\)", text, "alternatives")
    assert tuple(int(x) for x in alternatives.groups()) == (
        ALTERNATIVES.minimum,
        ALTERNATIVES.maximum,
        ALTERNATIVES.default,
    )
    ablations = stated(r"ablations\?: int \((\d+)\.\.(\d+), default (\d+)\)", text, "ablations")
    assert tuple(int(x) for x in ablations.groups()) == (ABLATIONS.minimum, ABLATIONS.maximum, ABLATIONS.default)
    bins = stated(r"\(default and most `heatmapBins`, ([\d,]+)\)", text, "the heatmap's bins")
    assert number(bins.group(1)) == HEATMAP_BINS


def test_the_information_flow_defaults_are_the_servers_everywhere() -> None:
    """The panel starts from the extension's FLOW_DEFAULTS, the server from limits.py; both READMEs say them."""
    assert ts_constant("extension/src/core/flow.ts", r"maxNodes: (\d+) \}") == FLOW_NODES.default
    assert ts_constant("extension/src/core/flow.ts", r"FLOW_DEFAULTS = \{ threshold: ([\d.]+),") == FLOW_THRESHOLD
    readme = flat("README.md")
    found = stated(r"threshold \(([\d.]+); at most (\d+) nodes, (\d+)-(\d+):", readme, "the flow defaults in README.md")
    assert number(found.group(1)) == FLOW_THRESHOLD
    assert tuple(int(x) for x in found.groups()[1:]) == (FLOW_NODES.default, FLOW_NODES.minimum, FLOW_NODES.maximum)
    extension = flat("extension/README.md")
    nodes = stated(r"\*\*max nodes\*\* \((\d+), (\d+)-(\d+)\)", extension, "max nodes in extension/README.md")
    assert tuple(int(x) for x in nodes.groups()) == (FLOW_NODES.default, FLOW_NODES.minimum, FLOW_NODES.maximum)
    threshold = stated(r"\*\*threshold\*\* \(([\d.]+)\)", extension, "the threshold in extension/README.md")
    assert number(threshold.group(1)) == FLOW_THRESHOLD


def test_the_readme_states_the_window_and_the_memory_budget() -> None:
    readme = flat("README.md")
    assert number(stated(r"longer than `maxTokens` \(([\d,]+)\)", readme, "the window").group(1)) == MAX_TOKENS.default
    budget = stated(r"`attenScope\.memoryBudgetMB` \(default ([\d,]+) MB", readme, "the memory budget")
    assert number(budget.group(1)) == MEMORY_BUDGET_MB.default


def test_the_surprise_scale_in_the_docs_is_the_extensions() -> None:
    """Tokens: 0 to TOKEN_MAX_BITS in BUCKET_COUNT steps, the last open-ended, so the darkest step
    starts at TOKEN_MAX_BITS - step; lines: LINE_MAX_BITS / BUCKET_COUNT a step."""
    steps = ts_constant("extension/src/core/buckets.ts", r"export const BUCKET_COUNT = (\d+);")
    token_max = ts_constant("extension/src/core/surprise.ts", r"export const TOKEN_MAX_BITS = (\d+);")
    line_max = ts_constant("extension/src/core/surprise.ts", r"export const LINE_MAX_BITS = (\d+);")
    step, darkest, line_step = token_max / steps, token_max - token_max / steps, line_max / steps
    readme = flat("README.md")
    scale = stated(r"0 to (\d+) bits in (\w+) steps of ([\d.]+) bits", readme, "the surprise scale")
    assert (number(scale.group(1)), NUMBER_WORDS[scale.group(2)], number(scale.group(3))) == (token_max, steps, step)
    dark = stated(
        r"the darkest step, ([\d.]+) bits and more, is p at most about 1 in ([\d,]+)\)", readme, "the darkest"
    )
    assert number(dark.group(1)) == pytest.approx(darkest)
    assert number(dark.group(2)) == pytest.approx(2**darkest, rel=0.01)
    gutter = stated(r"summed surprisal, ([\d.]+) bits a step", readme, "the gutter's step")
    assert number(gutter.group(1)) == pytest.approx(line_step)
    heat = extension_settings_rows()["attenScope.heatMode"]
    surprise = manifest()["attenScope.heatMode"]["enumDescriptions"][1]
    for text in (re.sub(r"\s+", " ", heat), surprise):
        assert f"{step:.1f} bits a colour step from 0" in text and f"the darkest {darkest:.1f} bits and more" in text
        assert f"{line_step:.1f} bits a step" in text
