"""Context files through the language server: a document analysed with a file it imports read
first answers at the same positions and ranges as without it, names the definition it draws on in
the other file by URI and line (the attention answer and the hover's link), refuses context beyond
its limit, and reuses the context after an edit of the document."""

from __future__ import annotations

import re
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from atten_scope import limits

from .support import INVALID_PARAMS, Expect, open_document, position_of, replace_range, request, server_config, start

pytestmark = pytest.mark.asyncio(loop_scope="module")

SETTINGS = {"device": "cpu", "maxTokens": 512}
HELPERS_URI = "file:///project/src/helpers.py"
HELPERS = (
    "import re\n"
    "\n"
    "SEPARATOR = re.compile(r'\\s*:\\s*')\n"
    "\n"
    "\n"
    "def parse_header(line):\n"
    '    """Split a header line into its name and value."""\n'
    "    name, value = SEPARATOR.split(line, maxsplit=1)\n"
    "    return name.strip().lower(), value.strip()\n"
)
DEFINITION_LINE = 5  # 0-based line of ``def parse_header`` in HELPERS
URI = "file:///project/src/main.py"
TEXT = (
    "from helpers import parse_header\n"
    "\n"
    "headers = {}\n"
    "for line in open('request.txt'):\n"
    "    key, value = parse_header(line)\n"
    "    headers[key] = value\n"
)
CONTEXT = [{"uri": HELPERS_URI, "text": HELPERS}]
CALL = position_of(TEXT, "parse_header(line)", delta=len("parse"))  # `_header` of the call


@pytest_lsp.fixture(config=server_config(), scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, SETTINGS)
    open_document(lsp_client, URI, TEXT)
    yield
    await lsp_client.shutdown_session()


async def analyze(client: LanguageClient, context: list[dict[str, str]] | None) -> dict[str, Any]:
    params: dict[str, Any] = {"textDocument": {"uri": URI}}
    if context is not None:
        params["contextFiles"] = context
    result: dict[str, Any] = await request(client, "attenScope/analyze", params)
    return result


async def attention(client: LanguageClient, position: dict[str, int]) -> dict[str, Any]:
    found: dict[str, Any] = await request(
        client, "attenScope/attention", {"textDocument": {"uri": URI}, "position": position}
    )
    return found


async def test_the_document_answers_at_the_same_positions_and_names_the_context_files_lines(
    client: LanguageClient,
) -> None:
    alone = await analyze(client, None)
    assert "contextFiles" not in alone
    positions = [position_of(TEXT, needle) for needle in ("from", "headers", "open", "parse_header(", "value\n")]
    before = [await attention(client, p) for p in [*positions, CALL]]

    read_first = await analyze(client, CONTEXT)
    (file,) = read_first["contextFiles"]
    assert (file["uri"], file["name"]) == (HELPERS_URI, "helpers.py")
    shift = read_first["tokens"] - alone["tokens"]
    assert shift > 0 and file["tokens"][1] - file["tokens"][0] < shift  # the document's header follows
    after = [await attention(client, p) for p in [*positions, CALL]]
    for was, now in zip(before, after, strict=True):
        # The same token, at the same range, answers for the same position; the document's lines
        # and targets stay in the document.
        assert now["token"] == {**was["token"], "index": was["token"]["index"] + shift}
        assert all("uri" not in target for target in now["targets"])
        assert {line["line"] for line in now["lines"]} <= set(range(TEXT.count("\n") + 1))
        assert "context" not in was and now["context"]["files"][0]["uri"] == HELPERS_URI

    call = after[-1]["context"]
    heaviest = call["lines"][0]
    assert (heaviest["uri"], heaviest["name"], heaviest["line"]) == (HELPERS_URI, "helpers.py", DEFINITION_LINE)
    assert heaviest["definition"] == "def parse_header"
    on_definition = [t for t in call["targets"] if t["range"]["start"]["line"] == DEFINITION_LINE]
    assert on_definition and all(t["uri"] == HELPERS_URI for t in on_definition)
    assert any("header" in t["text"] or "parse" in t["text"] for t in on_definition), on_definition

    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=URI), position=types.Position(**CALL))
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    markdown = hover.contents.value
    link = f"[`helpers.py:{DEFINITION_LINE + 1}`]({HELPERS_URI}#L{DEFINITION_LINE + 1})"
    other = next(line for line in markdown.splitlines() if line.startswith("- other files: "))
    assert other.startswith(f"- other files: {link} `def parse_header` "), other
    assert re.search(r" \u00b7 all context files \d+\.\d%$", other), other


async def test_context_beyond_its_limit_is_refused(client: LanguageClient) -> None:
    too_much = [{"uri": HELPERS_URI, "text": "x" * (limits.CONTEXT_CHARACTERS + 1)}]
    async with Expect(INVALID_PARAMS, "contextFiles hold"):
        await analyze(client, too_much)
    async with Expect(INVALID_PARAMS, "is the document itself"):
        await analyze(client, [{"uri": URI, "text": TEXT}])


async def test_an_edit_reuses_the_context(client: LanguageClient) -> None:
    first = await analyze(client, CONTEXT)
    prefix_end = first["contextFiles"][0]["tokens"][1]
    line = TEXT.count("\n") - 1
    replace_range(client, URI, 2, (line, 4), (line, 11), "found")  # `headers[key]` -> `found[key]`
    again = await analyze(client, CONTEXT)
    assert again["version"] == 2 and again["contextFiles"] == first["contextFiles"]
    assert prefix_end < again["reusedTokens"] < again["tokens"]
