"""``atten-scope complete`` as a user runs it: a table of the tokens then the text, the request's
result as JSON, the HTML report of the completion, and one line for bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .test_cli import run_cli

CODE = (
    "import math\n"
    "\n"
    "def area(radius):\n"
    "    return math.pi * radius ** 2\n"
    "\n"
    "def describe(shape, radius):\n"
    "    a = area(radius)\n"
)


@pytest.fixture(scope="module")
def code_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("complete") / "shapes.py"
    path.write_text(CODE, encoding="utf-8")
    return path


def test_json_is_the_complete_result_without_a_uri(code_file: Path) -> None:
    result = run_cli("complete", str(code_file), "--at", "7:14", "--max-new-tokens", "6", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "completionUri" not in data and data["position"] == {"line": 6, "character": 13}
    completion = data["completion"]
    assert completion["stop"] in ("limit", "endOfSequence", "dedent", "blankLines")
    assert "".join(t["text"] for t in completion["tokens"]) == completion["text"]
    assert all(0 < t["probability"] <= 1 and t["entropy"] >= 0 for t in completion["tokens"])
    assert data["cost"]["generatedTokens"] == len(completion["tokens"]) <= 6


def test_the_table_lists_each_token_then_the_text(code_file: Path) -> None:
    result = run_cli(
        "complete", str(code_file), "--at", "7:14", "--max-new-tokens", "4", "--temperature", "0.8", "--seed", "3"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Completion at 7:14:") and "prob" in lines[1] and "bits" in lines[1]
    again = run_cli(
        "complete", str(code_file), "--at", "7:14", "--max-new-tokens", "4", "--temperature", "0.8", "--seed", "3"
    )
    assert again.stdout.splitlines()[2:] == lines[2:]  # the same seed, the same completion


def test_html_report_holds_the_completion_and_opens_at_its_first_token(code_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "completion.html"
    result = run_cli("complete", str(code_file), "--at", "7:14", "--max-new-tokens", "3", "--json", "--html", str(out))
    assert result.returncode == 0, result.stderr
    tokens = json.loads(result.stdout)["completion"]["tokens"]
    page = out.read_text(encoding="utf-8")
    texts_found, focus_found = re.search(r'"texts": (\[.*?\]), "labels"', page), re.search(r'"focus": (\d+),', page)
    assert texts_found is not None and focus_found is not None
    texts, focus = json.loads(texts_found.group(1)), int(focus_found.group(1))
    # The report's tokens are the context's then the completion's, and it opens at the first generated one.
    assert tokens and texts[focus] == tokens[0]["text"] and "".join(texts[focus:]) == "".join(t["text"] for t in tokens)
    assert "".join(texts[:focus]) == CODE[: CODE.rindex("radius)\n")]  # the text before 7:14


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "1:1"], "start of the file"),
        (["--at", "7:14", "--max-new-tokens", "0"], "maxNewTokens must be"),
        (["--at", "7:14", "--temperature", "-1"], "temperature must be"),
        (["--at", "7:14", "--seed", "4"], "--temperature above 0"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(code_file: Path, args: list[str], message: str) -> None:
    result = run_cli("complete", str(code_file), *args)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
