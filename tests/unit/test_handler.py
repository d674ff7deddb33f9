"""The one request handler: a view declared in the registry runs where its entry says, with the model
when it runs it, and answers ContentModified when it would answer for other text. No model is
loaded: the server, its engine and the view are stand-ins."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, TypeVar, cast

import pytest
from pygls.exceptions import JsonRpcContentModified, JsonRpcInvalidParams

from atten_scope import registry
from atten_scope.lsp import requests
from atten_scope.lsp.documents import CompletionStore
from atten_scope.lsp.requests import answer
from atten_scope.lsp.rpc_errors import translate_errors
from atten_scope.protocol.fields import param, whole
from atten_scope.protocol.request import Builder, ViewRequest

T = TypeVar("T")
URI = "file:///project/a.py"


@dataclass(frozen=True, kw_only=True)
class CountParams:
    count: int = param("count", whole)


class FakeEngine:
    """Records on which thread each call ran, and whether the model was asked for."""

    def __init__(self, model_id: str = "m") -> None:
        self.loaded = SimpleNamespace(info=SimpleNamespace(id=model_id))
        self.generation = 0
        self.threads: list[str] = []
        self.loads = 0
        self.background: list[str] = []

    async def ensure_loaded(self, settings: Any, progress: Any = None) -> Any:
        self.loads += 1
        return self.loaded

    async def run(self, fn: Callable[[], T], cancel: Any = None) -> T:
        self.threads.append("model")
        return fn()

    async def view(self, fn: Callable[[], T], cancel: Any = None, heavy: bool = False) -> T:
        self.threads.append("heavy" if heavy else "light")
        return fn()

    def in_background(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        work.close()  # not run: releasing memory is the real engine's
        self.background.append(what)


class FakeServer:
    def __init__(self, analysed: int = 1, current: int = 1, analysis_model: str = "m") -> None:
        self.engine = FakeEngine()
        self.settings = SimpleNamespace(view={"topK": 5})
        self.budget = None
        analysis = SimpleNamespace(info=SimpleNamespace(id=analysis_model))
        self.entry = SimpleNamespace(analysis=analysis, version=analysed)
        self.store = SimpleNamespace(get=lambda uri: self.entry)
        self.completions = CompletionStore()
        self.current = current

    def analysed_entry(self, uri: str) -> Any:
        return self.entry

    def document(self, uri: str) -> Any:
        return SimpleNamespace(version=self.current, source="x = 1\n", language_id="python")

    def symbols_for(self, uri: str) -> None:
        return None

    def unchanged_tokens(self, uri: str, entry: Any, version: Any, text: str) -> int:
        return 3


def model_view(**declared: Any) -> registry.View:
    """A view that runs the model, as a next one (a completion at the cursor) would be declared."""
    fields = {"heavy": True, "runs_model": True, **declared}
    return registry.View("count", "attenScope/count", "Count", "A stand-in.", ("count",), "none", **fields)


def counting(seen: list[ViewRequest[CountParams]]) -> Builder:
    def build(request: ViewRequest[CountParams]) -> dict[str, Any]:
        seen.append(request)
        return {"version": request.version, "count": request.params.count}

    return Builder(CountParams, build)


def params(**extra: Any) -> dict[str, Any]:
    return {"textDocument": {"uri": URI}, "count": 2, **extra}


async def test_a_model_running_view_is_dispatched_with_the_loaded_model() -> None:
    ls, seen = FakeServer(), list[ViewRequest[CountParams]]()
    result = await answer(cast(Any, ls), model_view(), counting(seen), params())
    assert result == {"version": 1, "count": 2}
    assert ls.engine.loads == 1 and ls.engine.threads == ["heavy"] and not ls.engine.background
    (request,) = seen
    assert request.model is ls.engine.loaded and request.params == CountParams(count=2)
    assert request.defaults == {"topK": 5} and request.fresh_tokens is None


async def test_a_hypothetical_view_runs_with_the_analyses_and_gives_memory_back() -> None:
    ls = FakeServer()
    await answer(cast(Any, ls), model_view(hypothetical=True, progress="Counting"), counting([]), params())
    assert ls.engine.threads == ["model"] and len(ls.engine.background) == 1


async def test_a_light_view_needs_no_model() -> None:
    ls = FakeServer()
    await answer(cast(Any, ls), model_view(heavy=False, runs_model=False), counting([]), params())
    assert ls.engine.loads == 0 and ls.engine.threads == ["light"]


async def test_an_analysis_by_another_model_is_not_answered() -> None:
    ls = FakeServer(analysis_model="other")
    with pytest.raises(JsonRpcContentModified, match="model changed"):
        await answer(cast(Any, ls), model_view(), counting([]), params())
    assert not ls.engine.threads


async def test_other_text_than_the_analysed_is_not_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(JsonRpcContentModified, match="changed since it was analysed"):
        await answer(cast(Any, FakeServer(analysed=1, current=2)), model_view(), counting([]), params())
    with pytest.raises(JsonRpcContentModified, match="The request is for version 4, the document's is 1"):
        asked = params(textDocument={"uri": URI, "version": 4})
        await answer(cast(Any, FakeServer()), model_view(), counting([]), asked)
    # a view about one token answers after an edit, for the tokens before it
    monkeypatch.setattr(requests, "stale_from", lambda analysis, fresh: {"line": fresh, "character": 0})
    ls, seen = FakeServer(analysed=1, current=2), list[ViewRequest[CountParams]]()
    result = await answer(cast(Any, ls), model_view(runs_model=False, after_edit=True), counting(seen), params())
    assert seen[0].fresh_tokens == 3 and result["analysedVersion"] == 1 and result["staleFrom"]["line"] == 3


async def test_malformed_params_are_invalid_params_naming_the_field() -> None:
    handle = translate_errors(answer)
    ls = FakeServer()
    with pytest.raises(JsonRpcInvalidParams, match=r"textDocument\.version must be a whole number"):
        await handle(ls, model_view(), counting([]), params(textDocument={"uri": URI, "version": "1"}))
    with pytest.raises(JsonRpcInvalidParams, match="count must be a whole number"):
        await handle(ls, model_view(), counting([]), params(count=True))
    assert ls.engine.loads == 0
