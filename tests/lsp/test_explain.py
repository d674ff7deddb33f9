"""attenScope/explainCompletion over the language server: the prediction at the cursor explained by removals."""

from __future__ import annotations

import uuid

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from .support import INVALID_PARAMS, Expect, open_document, position_of, request, server_config, start

pytestmark = pytest.mark.asyncio(loop_scope="module")

URI = "file:///project/explain.py"
TEXT = "import math\n\nRADIUS = 3\n\n\ndef area(radius):\n    return math.pi * radius ** 2\n\n\nprint(area(RADIUS))\n"


@pytest_lsp.fixture(config=server_config(), scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, {"device": "cpu"})
    open_document(lsp_client, URI, TEXT)
    yield
    await lsp_client.shutdown_session()


async def test_explain_the_prediction_at_the_cursor_by_removals(client: LanguageClient) -> None:
    await request(client, "attenScope/analyze", {"textDocument": {"uri": URI}})
    position = position_of(TEXT, "area(RADIUS)", delta=len("area("))
    async with Expect(INVALID_PARAMS, "completionUri"):
        await request(client, "attenScope/explainCompletion", {"textDocument": {"uri": URI}})
    token = str(uuid.uuid4())
    client.progress_reports.setdefault(token, [])
    params = {"textDocument": {"uri": URI}, "position": position, "ablations": 16, "workDoneToken": token}
    served = await request(client, "attenScope/explainCompletion", params)
    kinds = [p.kind for p in client.progress_reports.pop(token)]
    assert kinds[0] == "begin" and kinds[-1] == "end"
    removals, instant = served["attribution"], served["instant"]
    assert removals["method"] == "removals" and instant["method"] == "attention"
    assert isinstance(removals["lds"], float) and removals["ldsSource"] == "this completion"
    assert [line["line"] for line in removals["lines"]] == list(range(1, 10))  # every line before the cursor's
    assert sum(line["score"] for line in instant["lines"]) == pytest.approx(instant["total"], abs=1e-2)
    assert served["cost"]["ablations"] == 16 and served["cost"]["forwardTokens"] > 0
    assert served["prediction"]["after"]["text"] == "("
