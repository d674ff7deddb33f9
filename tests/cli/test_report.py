"""What the HTML report carries for its page: every token's text and label, links, the heatmap."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import numpy as np

from atten_scope.engine.analysis import run_analysis
from atten_scope.report import TOP, build_report
from atten_scope.views.options import ViewOptions

TEXT = "def f(x):\n    s = '\u6298\u308a\u8fd4\u3057'  # \U0001f600\n    return s + x\n" * 6


def page_data(page: str) -> dict[str, Any]:
    found = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
    assert found is not None
    return dict(json.loads(found.group(1)))


def test_the_page_carries_every_token_its_label_and_its_links(embedded: Any) -> None:
    analysis = run_analysis(embedded, TEXT, 64)
    messages: list[str] = []
    data = page_data(build_report(analysis, 40, ViewOptions(), "cjk.py", lambda _, m: messages.append(m)))
    n = analysis.token_count
    assert "".join(data["texts"]) == TEXT and data["lineCount"] == TEXT.count("\n") + 1
    assert "\u6298 (part)" in data["labels"].values() and "\U0001f600 (part)" in data["labels"].values()
    assert all(label != "\u2205" for label in data["labels"].values())  # no token reads as nothing
    targets = np.frombuffer(base64.b64decode(data["targets"]), dtype="<i4").reshape(n, TOP)
    weights = np.frombuffer(base64.b64decode(data["weights"]), dtype="<f4").reshape(n, TOP)
    assert data["computed"] is None  # every token answers a hover
    assert np.all(targets[1:, 0] >= 0) and np.all(np.diff(weights, axis=1) <= 0)
    assert np.all((targets <= np.arange(n)[:, None]) | (targets == -1))  # sources come before the token
    assert data["settings"].startswith("embedded:smollm2-135m \u00b7 norm \u00b7 lastLayers \u00b7 attendsTo \u00b7 ")
    heatmap = data["heatmap"]
    assert heatmap["bins"] == len(heatmap["edges"]) - 1 == min(n, 512) and heatmap["high"] > heatmap["low"] > 0
    assert messages[0].startswith("Rows 0-") and "(window 1 of" in messages[0] and messages[-1] == "Heatmap overview"


def test_a_rollout_report_shows_the_focus_token_only(embedded: Any) -> None:
    analysis = run_analysis(embedded, TEXT[:120], 64)
    options = ViewOptions(aggregate="rollout", refinement="raw", layers=(28, 29))
    data = page_data(build_report(analysis, 20, options, "r.py"))
    assert [i for i, computed in enumerate(data["computed"]) if computed] == [20]
    assert "only the token the report was written for" in data["notComputed"]
    assert data["heatmap"]["bins"] == 0 and "rollout" in data["heatmap"]["note"]


def test_the_page_carries_every_tokens_prediction(embedded: Any) -> None:
    analysis = run_analysis(embedded, TEXT, 64)
    data = page_data(build_report(analysis, 40, ViewOptions(), "cjk.py"))["prediction"]
    n, k = analysis.token_count, data["k"]
    top = np.frombuffer(base64.b64decode(data["top"]), dtype="<i4").reshape(n, k)
    probs = np.frombuffer(base64.b64decode(data["probs"]), dtype="<f4").reshape(n, k)
    following = np.frombuffer(base64.b64decode(data["next"]), dtype="<f4")
    rank = np.frombuffer(base64.b64decode(data["rank"]), dtype="<i4")
    for token in (0, 40, 63, 64, n - 1):  # across the windows of 64 tokens
        expected = analysis.prediction(token)
        assert expected is not None
        assert [data["vocab"][i] for i in top[token]] == [
            analysis.document.vocabulary.label(i)
            for i, _ in expected.top  # type: ignore[union-attr]
        ]
        # the page's rows come in blocks, the hover's one at a time: the same numbers to float32 rounding
        assert np.allclose(probs[token], [p for _, p in expected.top], atol=1e-5)
        assert rank[token] == expected.next_rank
    assert np.isnan(following[n - 1]) and rank[n - 1] == 0
    assert np.allclose(following[:-1], analysis.next_logprobs()[:-1], atol=1e-5)
