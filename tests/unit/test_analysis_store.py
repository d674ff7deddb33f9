"""The server's analyses in memory: a closed document's analysis stays reusable, within the same
bound as the open ones, and goes first when room is needed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from atten_scope.lsp.documents import AnalysisStore


def analysis(text: str) -> Any:
    return SimpleNamespace(document=SimpleNamespace(text=text))


def test_a_closed_document_is_continued_by_its_text_or_its_uri() -> None:
    store = AnalysisStore(4)
    store.put("file:///a.py", analysis("A"), 1)
    store.close("file:///a.py")
    assert "file:///a.py" not in store and store.get("file:///a.py") is None  # not open: no view answers
    kept = store.previous("file:///copy.py", "A")  # the same text under another name
    assert kept is not None and kept.analysis.document.text == "A"
    edited = store.previous("file:///a.py", "A, edited")  # reopened after an edit elsewhere: its prefix
    assert edited is kept
    assert store.previous("file:///b.py", "B") is None
    store.put("file:///copy.py", analysis("A"), 1, reopened=kept)
    assert store.previous("file:///third.py", "A") is None  # open again: no longer a closed one


def test_closed_analyses_go_first_when_room_is_needed() -> None:
    store = AnalysisStore(2)
    store.put("file:///a.py", analysis("A"), 1)
    store.close("file:///a.py")
    store.put("file:///b.py", analysis("B"), 1)
    assert store.previous("file:///x.py", "A") is not None  # two entries, within the bound
    store.put("file:///c.py", analysis("C"), 1)
    assert store.previous("file:///x.py", "A") is None  # the closed one made room
    assert "file:///b.py" in store and "file:///c.py" in store
    store.close("file:///b.py")
    store.resize(1)
    assert store.previous("file:///x.py", "B") is None and "file:///c.py" in store
    store.close("file:///c.py")
    store.clear()
    assert store.previous("file:///x.py", "C") is None
