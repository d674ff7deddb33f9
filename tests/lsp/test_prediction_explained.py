"""The logit lens and the contrast of two predictions over JSON-RPC: a real server process, the
embedded model on the CPU, its windows stored compactly as the server keeps them."""

from __future__ import annotations

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from .support import (
    CONTENT_MODIFIED,
    INVALID_PARAMS,
    SAMPLE,
    Expect,
    open_document,
    position_of,
    replace_range,
    request,
    server_config,
    start,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEXT = SAMPLE.read_text(encoding="utf-8")
URI = "file:///project/account.py"


@pytest_lsp.fixture(config=server_config(), scope="module")
async def client(lsp_client: LanguageClient):
    await start(lsp_client, {"device": "cpu", "maxTokens": 512})
    open_document(lsp_client, URI, TEXT)
    await request(lsp_client, "attenScope/analyze", {"textDocument": {"uri": URI}})
    yield
    await lsp_client.shutdown_session()


async def test_the_lens_ends_in_the_hovers_prediction(client: LanguageClient) -> None:
    params = {"textDocument": {"uri": URI}, "position": position_of(TEXT, "amount", 3)}
    lens = await request(client, "attenScope/logitLens", {**params, "topK": 5})
    prediction = (await request(client, "attenScope/attention", params))["prediction"]
    assert lens["layers"] == len(lens["logitLens"]) == 30
    assert [entry["layer"] for entry in lens["logitLens"]] == list(range(30))
    last = lens["logitLens"][-1]["top"]
    assert [(t["id"], t["text"]) for t in last] == [(t["id"], t["text"]) for t in prediction["top"]]
    assert [t["probability"] for t in last] == pytest.approx([t["probability"] for t in prediction["top"]], abs=1e-5)
    assert 0 <= lens["settledAt"] < 30 and lens["recomputedTokens"] == 1
    assert lens["analysedVersion"] == 1 and lens["staleFrom"] is None
    async with Expect(INVALID_PARAMS, "topK"):
        await request(client, "attenScope/logitLens", {**params, "topK": 21})


async def test_the_contrast_of_the_second_choice_adds_up(client: LanguageClient) -> None:
    params = {"textDocument": {"uri": URI}, "position": position_of(TEXT, "amount", 3)}
    prediction = (await request(client, "attenScope/attention", params))["prediction"]
    second = prediction["top"][1]
    served = await request(client, "attenScope/contrast", {**params, "alternative": second["text"], "topK": 8})
    assert served["predicted"]["id"] == prediction["top"][0]["id"] and served["alternative"]["id"] == second["id"]
    parts = served["attention"] + served["mlp"] + served["residual"] + served["remainder"]
    assert parts == pytest.approx(served["difference"], abs=1e-9) and served["difference"] >= 0
    assert abs(served["remainder"]) < 1e-2
    assert len(served["sources"]) == 8
    sizes = [abs(s["contribution"]) for s in served["sources"]]
    assert sizes == sorted(sizes, reverse=True)
    assert all(s["token"]["index"] <= served["token"]["index"] for s in served["sources"])
    async with Expect(INVALID_PARAMS, "first choice"):
        await request(client, "attenScope/contrast", {**params, "alternative": prediction["top"][0]["id"]})


async def test_after_an_edit_the_lens_answers_before_it_and_the_contrast_waits(client: LanguageClient) -> None:
    params = {"textDocument": {"uri": URI}, "position": position_of(TEXT, "amount", 0)}
    replace_range(client, URI, 2, (len(TEXT.splitlines()) - 1, 0), (len(TEXT.splitlines()) - 1, 0), "# edited\n")
    lens = await request(client, "attenScope/logitLens", params)
    assert lens["analysedVersion"] == 1 and lens["staleFrom"] is not None
    async with Expect(CONTENT_MODIFIED):
        await request(client, "attenScope/contrast", {**params, "alternative": 0})
