"""A Hugging Face model id: the download is announced, and an unreachable Hub fails in seconds
with a sentence. The tests point HF_ENDPOINT at an unresolvable host: they never use the network."""

from __future__ import annotations

import pytest

from atten_scope.common.errors import ModelLoadError
from atten_scope.engine import hub


def test_a_hub_id_without_the_network_fails_fast_with_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    from atten_scope.engine.model import load_model

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.invalid")  # never resolves (RFC 2606): no real network
    messages: list[str] = []
    with pytest.raises(ModelLoadError, match=r"hub\.invalid\) cannot be reached and it is not in the local"):
        load_model("atten-scope-tests/no-such-model", "cpu", progress=lambda _, message: messages.append(message))
    assert messages[0] == "Downloading atten-scope-tests/no-such-model from the Hugging Face Hub (hub.invalid)"


def test_hub_offline_mode_skips_the_network_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://hub.invalid")
    messages: list[str] = []
    assert hub.prepare_download("org/model", lambda _, message: messages.append(message)) is True
    assert messages == ["Loading org/model from the local Hugging Face cache (HF_HUB_OFFLINE is set)"]


def test_the_endpoint_honours_hf_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.example:8080/")
    assert hub.endpoint() == ("mirror.example", 8080)
    monkeypatch.delenv("HF_ENDPOINT")
    assert hub.endpoint() == ("huggingface.co", 443)
