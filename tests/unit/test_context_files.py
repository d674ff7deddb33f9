"""Context files without a model: the prefix read before the document (its headers, names and
pieces), the request's limits, and how the hover names a context file's line with a link."""

from __future__ import annotations

import re
from typing import Any

import pytest

from atten_scope import limits
from atten_scope.common.errors import InvalidRequest
from atten_scope.engine.context import ContextFile, build_prefix, file_name, header_line
from atten_scope.lsp.hover import context_row, file_link, hover_markdown
from atten_scope.protocol.fields import parse_params
from atten_scope.protocol.params import AnalyzeRequest

DOCUMENT = "file:///project/src/main.py"


@pytest.mark.parametrize(
    ("language", "header"),
    [
        ("python", "# file: helpers.py\n"),
        ("typescript", "// file: helpers.py\n"),
        ("sql", "-- file: helpers.py\n"),
        ("html", "<!-- file: helpers.py -->\n"),
        ("json", "==> helpers.py <==\n"),
        (None, "==> helpers.py <==\n"),
    ],
)
def test_a_header_is_a_comment_in_the_documents_language(language: str | None, header: str) -> None:
    assert header_line("helpers.py", language) == header


def test_a_file_is_named_by_its_path_below_the_documents_folder_else_by_its_name() -> None:
    assert file_name("file:///project/src/lib/helpers.py", DOCUMENT) == "lib/helpers.py"
    assert file_name("file:///project/src/helpers.py", DOCUMENT) == "helpers.py"
    assert file_name("file:///project/other/util.py", DOCUMENT) == "util.py"
    assert file_name("file:///project/src/a%20b.py", DOCUMENT) == "a b.py"
    assert file_name("untitled:Untitled-1", DOCUMENT) == "Untitled-1"
    # a line break in a name would end its header line early
    assert "\n" not in file_name("file:///project/src/a%0Ab.py", DOCUMENT)


def test_the_prefix_reads_each_file_after_its_header_and_names_the_document_last() -> None:
    files = [
        ContextFile("file:///project/src/helpers.py", "def parse(x):\n    return x\n"),
        ContextFile("file:///project/src/util.py", "TAB = 4"),  # no line break at its end
        ContextFile("file:///project/src/empty.py", ""),
    ]
    prefix = build_prefix(files, DOCUMENT, "python")
    assert prefix is not None
    assert prefix.names == ("helpers.py", "util.py", "empty.py")
    assert prefix.text == (
        "# file: helpers.py\ndef parse(x):\n    return x\n"
        "\n# file: util.py\nTAB = 4"
        "\n\n# file: empty.py\n"
        "\n# file: main.py\n"
    )
    # every file's text is one piece of its own, exactly as given, so its offsets are the file's
    texts = [(piece.file, piece.text) for piece in prefix.pieces if not piece.header]
    assert texts == [(0, files[0].text), (1, files[1].text), (2, "")]
    assert prefix.pieces[-1].file is None and prefix.pieces[-1].header  # the document's own header


def test_no_files_no_prefix_and_the_document_itself_is_refused() -> None:
    assert build_prefix([], DOCUMENT, "python") is None
    with pytest.raises(InvalidRequest, match=r"contextFiles\[0\] is the document itself"):
        build_prefix([ContextFile(DOCUMENT, "x = 1\n")], DOCUMENT, "python")


def analyze_params(files: Any) -> AnalyzeRequest:
    return parse_params(AnalyzeRequest, {"textDocument": {"uri": DOCUMENT}, "contextFiles": files})


def test_the_context_files_are_read_in_their_order() -> None:
    request = analyze_params([{"uri": "file:///b.py", "text": "b"}, {"uri": "file:///a.py", "text": ""}])
    assert [(f.uri, f.text) for f in request.context_files] == [("file:///b.py", "b"), ("file:///a.py", "")]
    assert parse_params(AnalyzeRequest, {"textDocument": {"uri": DOCUMENT}}).context_files == ()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"uri": "file:///a.py"}, r"contextFiles must be a list of \{uri, text\}"),
        ([{"uri": "file:///a.py"}], r"The request needs contextFiles\[0\]\.text"),
        ([{"uri": "file:///a.py", "text": 3}], r"contextFiles\[0\]\.text must be a string"),
        ([{"uri": "", "text": "x"}], r"contextFiles\[0\]\.uri must be a non-empty string"),
        ([{"uri": "file:///a.bin", "text": "a\x00b"}], r"contextFiles\[0\]\.text looks binary"),
        ([{"uri": "file:///a.py", "text": "x"}] * 2, r"contextFiles\[1\] names a file listed before it"),
        (
            [{"uri": f"file:///{n}.py", "text": "x"} for n in range(limits.CONTEXT_FILES + 1)],
            rf"lists {limits.CONTEXT_FILES + 1} files: at most {limits.CONTEXT_FILES}",
        ),
        (
            [
                {"uri": "file:///a.py", "text": "a" * (limits.CONTEXT_CHARACTERS // 2)},
                {"uri": "file:///b.py", "text": "b" * (limits.CONTEXT_CHARACTERS // 2 + 1)},
            ],
            rf"hold {limits.CONTEXT_CHARACTERS + 1:,} characters: at most {limits.CONTEXT_CHARACTERS:,} in all",
        ),
    ],
)
def test_context_files_beyond_their_limits_are_refused_with_a_sentence(files: Any, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        analyze_params(files)


def test_context_files_at_their_limit_are_read() -> None:
    half = limits.CONTEXT_CHARACTERS // 2
    request = analyze_params(
        [{"uri": "file:///a.py", "text": "a" * half}, {"uri": "file:///b.py", "text": "b" * (half)}]
    )
    assert sum(len(f.text) for f in request.context_files) == limits.CONTEXT_CHARACTERS


LINK = re.compile(r"\[`([^`]+)`\]\(([^)\s]+)\)")


def test_a_context_line_is_a_link_that_opens_the_file_at_that_line() -> None:
    link = file_link("file:///project/src/helpers.py", "helpers.py", 39)
    assert link == "[`helpers.py:40`](file:///project/src/helpers.py#L40)"


@pytest.mark.parametrize(
    "uri",
    [
        "file:///project/a%20b%29.py",
        "file:///project/x).py",
        "file:///project/[l](javascript:alert(1)) *b* `c`.py",
        'untitled:Untitled-1"<script>',
        "file:///project/a|b.py",
    ],
)
def test_the_link_is_one_inert_markdown_link_whatever_the_uri(uri: str) -> None:
    link = file_link(uri, "n`a|me.py", 0, in_table=True)
    target = link[link.index("](") + 2 : -1]
    assert target.endswith("#L1")
    assert not re.search(r"[<>\"'`*\[\]()|\s]", target), target
    assert "\\|" in link  # a table cell would split at a bare |


def attention_with_context() -> dict[str, Any]:
    span = {"start": {"line": 3, "character": 16}, "end": {"line": 3, "character": 22}}
    token = {"index": 79, "text": " parse", "label": "\u00b7parse", "range": span}
    helpers = "file:///project/src/helpers.py"
    in_helpers = {
        "index": 7,
        "text": "parse",
        "label": "parse",
        "range": {"start": {"line": 39, "character": 4}, "end": {"line": 39, "character": 9}},
        "uri": helpers,
        "name": "helpers.py",
        "weight": 0.2,
    }
    own = {**token, "index": 70, "text": "x", "label": "x", "weight": 0.1}
    context = {
        "weight": 0.3,
        "files": [{"uri": helpers, "name": "helpers.py", "weight": 0.3}],
        "targets": [in_helpers],
        "lines": [
            {
                "uri": helpers,
                "name": "helpers.py",
                "line": 39,
                "weight": 0.25,
                "text": "def parse(x):",
                "definition": "def parse",
            },
        ],
    }
    settings = {"direction": "attendsTo", "refinement": "norm", "aggregate": "lastLayers"}
    sources = {"words": [in_helpers, own], "folded": 0, "foldedWeight": 0.0, "own": 0.0}
    return {"token": token, "targets": [own], "lines": [], "sources": sources, "context": context, "settings": settings}


def test_the_hover_names_the_context_files_lines_with_links() -> None:
    markdown = hover_markdown(attention_with_context(), "embedded:smollm2-135m", 6)
    other = next(line for line in markdown.splitlines() if line.startswith("- other files: "))
    assert other == (
        "- other files: [`helpers.py:40`](file:///project/src/helpers.py#L40) `def parse` 25.0%"
        " \u00b7 all context files 30.0%"
    )
    rows = [line for line in markdown.splitlines() if line.startswith("| `")]
    assert rows == [
        "| `parse` | [`helpers.py:40`](file:///project/src/helpers.py#L40) | 20.0% |",
        "| `x` | 4 | 10.0% |",  # the document's own token keeps its line number
    ]


def test_no_row_for_context_files_that_draw_nothing() -> None:
    assert context_row(None) is None
    assert context_row({"weight": 0.0, "files": [], "targets": [], "lines": []}) is None
