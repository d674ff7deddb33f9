"""``analyze --json`` carries the logit lens of the token at ``--at``; ``--contrast`` explains its
first choice against another token, in JSON and for people."""

from __future__ import annotations

import json
import re

from tests.cli.test_cli import EXAMPLE, run_cli


def test_json_carries_the_logit_lens_and_the_contrast() -> None:
    result = run_cli("analyze", str(EXAMPLE), "--at", "31:16", "--json", "--top-k", "5", "--contrast", "#0")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    lens = data["logitLens"]
    assert [entry["layer"] for entry in lens] == list(range(30))  # SmolLM2-135M has 30 layers
    assert [t["id"] for t in lens[-1]["top"]] == [t["id"] for t in data["prediction"]["top"]]
    firsts = [entry["top"][0]["id"] for entry in lens]
    assert all(first == firsts[-1] for first in firsts[data["settledAt"] :])
    contrast = data["contrast"]
    assert contrast["token"] == data["token"]
    assert contrast["predicted"]["id"] == data["prediction"]["top"][0]["id"] and contrast["alternative"]["id"] == 0
    parts = contrast["attention"] + contrast["mlp"] + contrast["residual"] + contrast["remainder"]
    assert abs(parts - contrast["difference"]) < 1e-9 and contrast["difference"] > 0
    assert len(contrast["sources"]) == 5
    listed = sum(source["contribution"] for source in contrast["sources"])
    assert abs(listed + contrast["otherSources"] - contrast["attention"]) < 1e-9


def test_contrast_takes_the_text_a_prediction_shows() -> None:
    first = run_cli("analyze", str(EXAMPLE), "--at", "31:16", "--json", "--top-k", "3")
    second = json.loads(first.stdout)["prediction"]["top"][1]
    result = run_cli("analyze", str(EXAMPLE), "--at", "31:16", "--top-k", "3", "--contrast", second["text"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    sentence = next(i for i, line in enumerate(lines) if line.startswith("Predicts '") and " over " in line)
    assert f" over '{second['text']}' by " in lines[sentence]
    assert re.fullmatch(r"Predicts .+ by \d+\.\d\d logits: attention [+-].+, the rest [+-]\d+\.\d\d\.", lines[sentence])
    rows = lines[sentence + 2 :]
    assert len(rows) == 3 + 1 and all(re.match(r"^ *[+-]\d+\.\d{3} ", row) for row in rows)
