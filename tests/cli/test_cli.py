"""The atten-scope command as a user runs it: results, the HTML report in Chromium, bad input."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tokenizer.py"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "server"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "atten_scope", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )


@pytest.fixture(scope="module")
def injection_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "page.py"
    path.write_text('html = "<script>alert(1)</script><b>bold</b>"\nprint(html)\n', encoding="utf-8")
    return path


def test_json_output_has_the_protocol_shape() -> None:
    result = run_cli("analyze", str(EXAMPLE), "--at", "31:16", "--json", "--top-k", "500")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["token"]["text"] == " tokens"
    assert data["token"]["range"]["start"] == {"line": 30, "character": 11}
    weights = [t["weight"] for t in data["targets"]]
    assert weights == sorted(weights, reverse=True)
    assert abs(sum(weights) - 1.0) < 1e-6
    assert (data["settings"]["refinement"], data["settings"]["aggregate"]) == ("norm", "lastLayers")
    assert data["faithfulness"]["model"] == "embedded:smollm2-135m" and data["faithfulness"]["rho"] > 0
    assert abs(sum(line["weight"] for line in data["lines"]) - 1.0) < 1e-6
    prediction = data["prediction"]
    probabilities = [t["probability"] for t in prediction["top"]]
    assert len(probabilities) == 5 and probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1
    assert prediction["actual"]["rank"] >= 1 and 0 < prediction["actual"]["probability"] <= 1
    assert data["surprisal"]["bits"] > 0


def test_html_report_renders_and_shows_code_as_text(injection_file: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is required for this test (apt-get install chromium); make test installs it.")
    out = tmp_path / "report.html"
    result = run_cli(
        "analyze",
        str(injection_file),
        "--at",
        "2:7",
        "--html",
        str(out),
        "--refinement",
        "raw",
        "--aggregate",
        "lastLayers",
    )
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert "<script>alert(1)</script>" not in page  # the code is data, never markup
    dom = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            out.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert dom.count('class="t') >= 10  # one span per token
    code_html = dom.split('<div id="code">', 1)[1].split("</div>", 1)[0]
    assert "<script" not in code_html and "<b>" not in code_html  # no element was injected
    shown = html.unescape(re.sub(r"</?span[^>]*>", "", code_html))
    assert shown == injection_file.read_text()  # the code, character for character, as text
    assert "background: rgba(255, 140, 0" in dom  # tints applied to sources
    assert 'class="t focus"' in dom
    assert "<td>" in dom and "%" in dom  # the sources table
    table = html.unescape(dom.split('<table id="sources">', 1)[1].split("</table>", 1)[0])
    assert "\u21b5" in table  # the line break token is labelled, not an empty cell
    assert "Faithfulness of this view: \u03c1 = " in html.unescape(dom)  # raw / lastLayers was measured
    assert "raw \u00b7 lastLayers \u00b7 attendsTo" in html.unescape(dom)  # the view named for people
    gutter = dom.split('<div id="gutter" aria-hidden="true">', 1)[1].split("</div>", 1)[0]
    assert gutter.split("\n") == ["1", "2", "3"]  # line numbers, the empty last line included


def playwright_core() -> Path:
    """playwright-core as make test installs it (.e2e/) or the benchmarks do (bench/node_modules)."""
    for root in (ROOT / ".e2e" / "npm" / "node_modules", ROOT / "bench" / "node_modules"):
        if (root / "playwright-core" / "package.json").is_file():
            return root / "playwright-core"
    pytest.fail("playwright-core is required: run `make e2e-setup` (or `npm install --prefix bench`).")


def test_html_report_answers_a_hover_on_every_token_and_opens_at_the_focus(tmp_path: Path) -> None:
    """Hovering in headless Chromium: the first token (nothing but the sink before it), the last
    token, and one in a later window all show their links; the page opens scrolled to --at."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    node = shutil.which("node")
    if chromium is None or node is None:
        pytest.fail("Chromium and Node.js are required for this test; make test installs them.")
    source = tmp_path / "long.py"
    source.write_text(EXAMPLE.read_text(encoding="utf-8") * 4, encoding="utf-8")  # 4 x 39 lines
    line_count = source.read_text(encoding="utf-8").count("\n") + 1
    out = tmp_path / "report.html"
    # Small windows: the file spans several, as a long file does with the default window.
    result = run_cli("analyze", str(source), "--at", "148:16", "--html", str(out), "--max-tokens", "256")
    assert result.returncode == 0, result.stderr
    assert "atten-scope: Writing the report: rows" in result.stderr  # progress while the rows are computed
    tokens = json.loads(re.search(r'"texts": (\[.*?\]), "labels"', out.read_text(encoding="utf-8")).group(1))
    last = len(tokens) - 1
    script = ROOT / "tests" / "report_hover.mjs"
    shown = subprocess.run(
        [node, str(script), str(playwright_core()), chromium, str(out), "0", "600", str(last)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert shown.returncode == 0, shown.stderr
    page = json.loads(shown.stdout)
    assert page["errors"] == []
    opened = page["opened"]
    assert opened["visible"] and opened["scrollTop"] > 0  # scrolled down to the focus on line 148
    assert tokens[opened["focus"]] == " tokens"
    assert (opened["gutterFirst"], opened["gutterLast"]) == ("1", str(line_count))
    first, middle, end = page["hovered"]
    assert first["focus"] == 0 and first["empty"] == "No attention outside the sink tokens."
    for hovered, index in ((middle, 600), (end, last)):
        assert hovered["focus"] == index and hovered["empty"] == ""
        weights = [float(row[2].rstrip("%")) for row in hovered["rows"]]
        assert weights and weights == sorted(weights, reverse=True) and sum(weights) <= 100.01
    assert end["line"] == f"line {line_count - 1}"  # the last token ends the file's last line
    # what the model predicted after the token, and how surprising the token was
    assert re.fullmatch(
        r"Predicts \u201c.+\u201d \(.+%\), then .+; actual next \u201c.+\u201d: rank \d+ \(.+%\)\.",
        middle["prediction"],
    )
    assert re.fullmatch(
        r"Surprisal \d+\.\d bits: the model gave it .+% after the text before it\.", middle["surprisal"]
    )
    assert end["prediction"].endswith("; nothing follows (end of the file).") and first["surprisal"] == ""
    # the header's figure follows the focus: the last token's own, interior tokens' for any other
    assert "at interior tokens, measured on Python" in middle["faithfulness"]
    assert "at the last token, measured on 9 languages, Python among them" in end["faithfulness"]


def test_text_output_names_the_view_and_its_faithfulness() -> None:
    result = run_cli("analyze", str(EXAMPLE), "--at", "31:16", "--top-k", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "(attendsTo, norm, lastLayers;" in lines[0]
    assert re.fullmatch(r"Predicts '.+' \(.+%\), then .+; actual next '.+': rank \d+ \(.+%\)\.", lines[1])
    assert re.fullmatch(r"Surprisal \d+\.\d bits: the model gave '.+' .+% after the text before it\.", lines[2])
    assert len(lines) == 4 + 3 + 1
    assert re.fullmatch(r"Faithfulness of this view: \u03c1 = \+0\.\d\d \[.*\] against leave-one-out .*\.", lines[-1])
    # without a terminal, progress is a line per quarter, not one per layer
    progress = [line for line in result.stderr.splitlines() if line.startswith("atten-scope: Running")]
    assert 1 <= len(progress) <= 4 and "Analysis done (100%)" in result.stderr


GO = (
    "package main\n\nfunc f() error {\n\tif err != nil {\n\t\treturn nil\n\t}\n"
    '\ts := "\U0001f600 ok"\n\treturn err\n}\n'
)


def test_at_takes_the_line_and_column_vs_code_shows(tmp_path: Path) -> None:
    """VS Code's status bar counts a tab up to the next multiple of the tab size and an emoji as one
    column: with the cursor before ``nil`` on line 4 it reads "Ln 4, Col 15", before ``ok`` on line
    7 "Ln 7, Col 13". The CLI takes those numbers and prints positions the same way."""
    path = tmp_path / "main.go"
    path.write_text(GO, encoding="utf-8")
    result = run_cli("analyze", str(path), "--at", "4:15", "--json", "--top-k", "3")
    assert result.returncode == 0, result.stderr
    token = json.loads(result.stdout)["token"]
    assert "n" in token["text"] and token["range"]["start"]["line"] == 3
    assert token["range"]["start"]["character"] <= 11 < token["range"]["end"]["character"]  # "\tif err != " is 11
    result = run_cli("analyze", str(path), "--at", "7:13", "--top-k", "3")
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0]
    # the token " ok" starts at the space after the emoji: column 4 (tab) + 7 + 1
    assert header.startswith("Token \u00b7ok at 7:12 "), header
    result = run_cli("analyze", str(path), "--at", "4:9", "--tab-size", "8", "--json", "--top-k", "3")
    assert json.loads(result.stdout)["token"]["text"] == "if"  # a tab of 8 puts "if" at column 9


def test_a_bad_position_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    path = tmp_path / "main.go"
    path.write_text(GO, encoding="utf-8")
    result = run_cli("analyze", str(path), "--at", "4:21")
    assert result.returncode == 2
    assert "line 4 ends at column 20" in result.stderr
    assert "Loading" not in result.stderr and "Running" not in result.stderr  # no model was loaded or run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze", "missing.py"], "no such file"),
        (["analyze", "."], "directory"),
        (["analyze", "BINARY"], "binary"),
        (["analyze", "EXAMPLE", "--model", "no-such-org/no-such-model"], "Could not load model"),
        (["analyze", "EXAMPLE", "--at", "999:1"], "lines"),
        (["analyze", "EXAMPLE", "--at", "3:500"], "line 3 ends at column"),
        (["analyze", "EXAMPLE", "--at", "twelve"], "LINE:COL"),
        (["analyze", "EMPTY"], "empty"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "empty.py").write_text("")
    mapping = {"BINARY": str(tmp_path / "blob.bin"), "EXAMPLE": str(EXAMPLE), "EMPTY": str(tmp_path / "empty.py")}
    result = run_cli(*[mapping.get(a, a) for a in args], cwd=tmp_path)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_models_lists_the_embedded_models() -> None:
    done = run_cli("models")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("embedded:smollm2-135m") and "(default)" in lines[0] and "installed" in lines[0]
    assert lines[1].startswith("embedded:gemma3-270m") and "Gemma 3 270M" in lines[1]
    # each measured model names the view it starts on, from the shipped evidence
    assert "default view norm / lastLayers" in lines[0] and "default view norm / headMax" in lines[1]
