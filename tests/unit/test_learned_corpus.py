"""The shipped learned head weights were fitted on code the benchmark never evaluates them on."""

from __future__ import annotations

import json
from pathlib import Path

from atten_scope.views.learned import learned_heads

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "learned_heads.json"


def test_the_training_and_evaluation_corpora_share_no_file() -> None:
    report = json.loads(RESULTS.read_text(encoding="utf-8"))
    training, evaluation = set(report["corpus"]["files"]), set(report["evaluation_files"])
    assert len(training) >= 30 and len(evaluation) >= 29 and "" not in training | evaluation
    assert not training & evaluation
    # Not only different files: different folders, so no training file is a copy of an evaluated one.
    roots = {name.split("/", 1)[0] for name in training}, {name.split("/", 1)[0] for name in evaluation}
    assert not roots[0] & roots[1], roots


def test_the_shipped_coefficients_are_the_reported_fit() -> None:
    report = json.loads(RESULTS.read_text(encoding="utf-8"))
    shipped = learned_heads(report["model"])
    assert shipped is not None
    assert shipped.training_cases == report["corpus"]["cases"] == report["fit"]["trainingCases"]
    assert shipped.refinement == report["fit"]["refinement"]
