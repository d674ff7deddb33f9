"""Code units through the language server: the editor's symbols, the attention answer, the hover."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from atten_scope.engine.analysis import run_analysis
from atten_scope.engine.storage import MemoryBudget
from atten_scope.limits import MEMORY_BUDGET_MB
from atten_scope.protocol.builders.attention import attention_json
from atten_scope.protocol.encode import token_at_position
from atten_scope.protocol.params import parse_options
from atten_scope.views.options import ViewOptions
from atten_scope.views.units import parse_symbols

from .support import open_document, position_of, request, server_config, start

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAX_TOKENS = 512
SETTINGS = {"device": "cpu", "maxTokens": MAX_TOKENS, "refinement": "effective+norm", "aggregate": "headMean"}
TEXT = (
    "import re\n"
    "\n"
    "\n"
    "class Reader:\n"
    "    def parse_header(self, data):\n"
    "        header = re.match(r'(\\w+): (.*)', data)\n"
    "        return header.group(1) if header else None\n"
    "\n"
    "    def read(self, lines):\n"
    "        return [self.parse_header(line) for line in lines]\n"
)
URI = "file:///project/reader.py"
PLAIN = "first block of text\nstill the first\n\nsecond block here\n"  # a language with no symbols
PLAIN_URI = "file:///project/notes.txt"


def _range(start: tuple[int, int], end: tuple[int, int]) -> dict[str, Any]:
    return {"start": {"line": start[0], "character": start[1]}, "end": {"line": end[0], "character": end[1]}}


SYMBOLS = [
    {"name": "Reader", "kind": "class", "range": _range((3, 0), (9, 58))},
    {"name": "parse_header", "kind": "method", "range": _range((4, 4), (6, 51))},
    {"name": "read", "kind": "method", "range": _range((8, 4), (9, 58))},
]


@pytest_lsp.fixture(config=server_config(), scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, SETTINGS)
    open_document(lsp_client, URI, TEXT)
    open_document(lsp_client, PLAIN_URI, PLAIN, language_id="plaintext")
    yield
    await lsp_client.shutdown_session()


async def _attention(client: LanguageClient, uri: str, position: dict[str, int]) -> dict[str, Any]:
    return await request(client, "attenScope/attention", {"textDocument": {"uri": uri}, "position": position})


async def _hover(client: LanguageClient, uri: str, position: dict[str, int]) -> str:
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(**position))
    )
    assert hover is not None
    return hover.contents.value


async def test_units_follow_the_symbols_the_editor_sent(client: LanguageClient, embedded: Any) -> None:
    await request(client, "attenScope/analyze", {"textDocument": {"uri": URI}})
    client.protocol.notify("attenScope/symbols", {"textDocument": {"uri": URI, "version": 1}, "symbols": SYMBOLS})
    position = position_of(TEXT, "header", 2)  # in `return header.group(1)`
    served = await _attention(client, URI, position)
    units = served["units"]
    assert units["source"] == "symbols"

    # The same answer computed here, from the same symbols: the units are sums of the token weights.
    analysis = run_analysis(embedded, TEXT, MAX_TOKENS, budget=MemoryBudget(MEMORY_BUDGET_MB.default))
    options = parse_options(served["settings"], ViewOptions(), analysis.info.layers, analysis.info.heads)
    token = token_at_position(analysis, position)
    local = attention_json(analysis, token, options, 1, symbols=parse_symbols(SYMBOLS))["units"]
    assert [u["name"] for u in units["definitions"]] == [u["name"] for u in local["definitions"]]
    for a, b in zip(
        units["definitions"] + units["identifiers"], local["definitions"] + local["identifiers"], strict=True
    ):
        assert a["weight"] == pytest.approx(b["weight"], abs=1e-5)
    total = sum(u["weight"] for u in units["definitions"]) + units["outside"]
    assert total == pytest.approx(sum(line["weight"] for line in served["lines"]), abs=1e-5)
    header = next(u for u in units["identifiers"] if u["name"] == "header")
    assert header["count"] == 3 and len(header["ranges"]) == 3

    markdown = await _hover(client, URI, position)
    assert "**Draws most on**" in markdown
    assert "- definitions: " in markdown and "`def parse_header` (line 5)" in markdown
    assert "- identifiers: " in markdown and "- lines: " in markdown


async def test_without_symbols_or_a_grammar_blocks_of_lines_stand_in(client: LanguageClient) -> None:
    await request(client, "attenScope/analyze", {"textDocument": {"uri": PLAIN_URI}})
    position = position_of(PLAIN, "here")
    units = (await _attention(client, PLAIN_URI, position))["units"]
    assert units["source"] == "blocks"
    assert {u["label"] for u in units["definitions"]} <= {"first block of text", "second block here"}
    markdown = await _hover(client, PLAIN_URI, position)
    assert "- blocks of lines: `" in markdown
    assert units["statements"] == []  # no grammar, no statements


async def test_without_usable_symbols_a_python_file_gets_its_parsed_definitions(client: LanguageClient) -> None:
    position = position_of(TEXT, "header", 2)  # in `return header.group(1)`, in parse_header
    # Symbols of a version before the analysed one, then malformed ones: neither is used.
    client.protocol.notify("attenScope/symbols", {"textDocument": {"uri": URI, "version": 0}, "symbols": SYMBOLS})
    units = (await _attention(client, URI, position))["units"]
    assert units["source"] == "syntax"
    client.protocol.notify("attenScope/symbols", {"textDocument": {"uri": URI, "version": 1}, "symbols": [{"x": 1}]})
    served = await _attention(client, URI, position)
    units = served["units"]
    assert units["source"] == "syntax"
    assert {unit["label"] for unit in units["definitions"]} <= {"class Reader", "def parse_header", "def read"}
    # The parsed method holds the tokens of its body, not the class around it: the same ranges
    # as the symbols a language server reports, so the same sums.
    with_symbols = await request(
        client, "attenScope/attention", {"textDocument": {"uri": URI}, "position": position, "symbols": SYMBOLS}
    )
    assert with_symbols["units"]["source"] == "symbols"  # a request's own symbols win over the parse
    reported = {unit["name"]: unit for unit in with_symbols["units"]["definitions"]}
    for unit in units["definitions"]:
        assert unit["range"] == reported[unit["name"]]["range"]
        assert unit["weight"] == pytest.approx(reported[unit["name"]]["weight"], abs=1e-6)
    assert units["outside"] == pytest.approx(with_symbols["units"]["outside"], abs=1e-6)
    parse_header = next(unit for unit in units["definitions"] if unit["name"] == "parse_header")
    assert parse_header["kind"] == "method"
    # Statements: the top level of the file and of each body, imports among them.
    statements = {unit["label"]: unit["kind"] for unit in units["statements"]}
    assert statements and set(statements) <= {
        "import re",
        "header = re.match(r'(\\w+): (.*)', data)",
        "return header.group(1) if header else None",
        "return [self.parse_header(line) for line in lines]",
    }
    assert statements.get("import re", "import") == "import"
    markdown = await _hover(client, URI, position)
    assert "- definitions: `" in markdown and "`def parse_header` (line 5)" in markdown
