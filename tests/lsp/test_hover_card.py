"""One real hover card from the server, on a C file: its sections in the order of use, the sources
with punctuation and whitespace folded, and the faithfulness figure of the status bar's request,
saying which language it was measured on and that it stands in for C."""

from __future__ import annotations

import re
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from .support import open_document, position_of, request, server_config, start

pytestmark = pytest.mark.asyncio(loop_scope="module")

SETTINGS = {"device": "cpu", "maxTokens": 512}  # the model's default view, which the benchmark measured
TEXT = (
    "#include <stddef.h>\n"
    "\n"
    "typedef struct {\n"
    "    int data[64];\n"
    "    size_t head;\n"
    "    size_t count;\n"
    "} ring_buffer;\n"
    "\n"
    "int rb_pop(ring_buffer *rb, int *out) {\n"
    "    if (rb->count == 0) {\n"
    "        return 0;\n"
    "    }\n"
    "    *out = rb->data[rb->head];\n"
    "    rb->head = (rb->head + 1) % 64;\n"
    "    rb->count--;\n"
    "    return 1;\n"
    "}\n"
)
URI = "file:///project/ring.c"


@pytest_lsp.fixture(config=server_config(), scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, SETTINGS)
    open_document(lsp_client, URI, TEXT, language_id="c")
    yield
    await lsp_client.shutdown_session()


async def test_the_hover_card_on_a_c_file(client: LanguageClient) -> None:
    await request(client, "attenScope/analyze", {"textDocument": {"uri": URI}})
    position = position_of(TEXT, "count--", delta=2)  # `count` in `rb->count--;`: an interior token
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=URI), position=types.Position(**position))
    )
    assert hover is not None
    markdown = hover.contents.value
    lines = [line for line in markdown.splitlines() if line]
    # (1) the prediction, (2) the code units, (3) the tokens drawn on, (4) one line of faithfulness
    starts = ("Predicts ", "**Draws most on**", "Drew on:", "| token | line | weight |", "\\+ ", "*\u03c1 ", "*norm")
    found = [next((i for i, line in enumerate(lines) if line.startswith(start)), -1) for start in starts]
    assert -1 not in found and found == sorted(found), markdown
    # the listed tokens are word-like; punctuation, whitespace and the token itself are one line
    rows = [line for line in lines if line.startswith("| ") and line.endswith("% |")]
    assert rows and all(re.search(r"\w", row.split(" | ")[0]) for row in rows), rows
    folded = next(line for line in lines if line.startswith("\\+ "))
    assert re.fullmatch(
        r"\\\+ \d+ punctuation/whitespace tokens?, \d+\.\d% in all( \u00b7 the token itself \d+\.\d%)?", folded
    ), folded
    # the figure is the one the status bar gets with the attention answer, worded by the server
    served: dict[str, Any] = await request(
        client, "attenScope/attention", {"textDocument": {"uri": URI}, "position": position}
    )
    figure = served["faithfulness"]
    assert figure["language"] == "c" and figure["standsIn"] and figure["position"] == "interior"
    assert f"*{figure['text']}*" in lines
    assert figure["text"].startswith(f"\u03c1 {figure['rho']:+.2f} vs ablation (measured on Python, standing in for C")
    assert "standing in for C" in figure["sentence"] and figure["sentence"] not in markdown  # the tooltip's
