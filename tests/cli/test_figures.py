"""One figure, one wording: the CLI's text, its HTML report and the hover card of the same token
state the same faithfulness figure, and on a C file they say it stands in for C."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from atten_scope.lsp.hover import hover_markdown

from .test_cli import run_cli
from .test_report import page_data

C_FILE = (
    "#include <stddef.h>\n"
    "\n"
    "int sum(const int *values, size_t count) {\n"
    "    int total = 0;\n"
    "    for (size_t i = 0; i < count; i++) {\n"
    "        total += values[i];\n"
    "    }\n"
    "    return total;\n"
    "}\n"
)
AT = "6:18"  # `values` in `total += values[i];`: an interior token
RHO = re.compile(r"\u03c1 = ([+-]\d\.\d\d) \[")


def test_cli_report_and_hover_state_the_same_figure(tmp_path: Path) -> None:
    source = tmp_path / "sum.c"
    source.write_text(C_FILE, encoding="utf-8")
    report = tmp_path / "sum.html"
    text = run_cli("analyze", str(source), "--at", AT, "--top-k", "5", "--html", str(report))
    assert text.returncode == 0, text.stderr
    answer = run_cli("analyze", str(source), "--at", AT, "--top-k", "5", "--json")
    assert answer.returncode == 0, answer.stderr
    result: dict[str, Any] = json.loads(answer.stdout)

    cli_line = text.stdout.splitlines()[-1]
    page = page_data(report.read_text(encoding="utf-8"))
    assert page["focus"] != page["lastToken"]  # the report opens on the interior token the CLI printed
    report_line = page["faithfulness"]["interior"]
    card = hover_markdown(result, result["faithfulness"]["model"], 6)
    hover_line = next(line for line in card.splitlines() if line.startswith("*\u03c1 "))

    # the same sentence in the terminal and the report, and the same number on the card
    assert cli_line == report_line == result["faithfulness"]["sentence"]
    shown = RHO.search(cli_line)
    assert shown is not None
    stands_in = "measured on Python, standing in for C; interior tokens"
    assert hover_line == f"*\u03c1 {shown.group(1)} vs ablation ({stands_in})*"
    # the figure is the interior one, measured on Python: each surface says it stands in for C
    assert "at interior tokens, measured on Python, standing in for C" in cli_line
    # at the last token the page switches to the last-token figure, measured on the benchmark's languages
    assert page["faithfulness"]["last"] != report_line and "C among them" in page["faithfulness"]["last"]
