"""Analyses of open documents: which version each belongs to, kept in a bounded LRU."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from atten_scope.engine.analysis import Analysis


@dataclass(frozen=True)
class Entry:
    analysis: Analysis
    version: int | None  # the document version the analysis was computed from


class AnalysisStore:
    """The latest analysis per URI. A stale entry is kept so that re-analysis can reuse its token prefix.

    The analysis of a closed document is kept too, within the same ``capacity`` (closed ones are
    dropped first, oldest first): reopening the document, or opening the same text under another
    URI, continues from it (``previous``) instead of running the model again.
    """

    def __init__(self, capacity: int = 8) -> None:
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._closed: OrderedDict[str, Entry] = OrderedDict()  # by the URI it had, oldest first
        # uri -> (document version, how many of its entry's tokens that version still begins with)
        self._fresh: dict[str, tuple[int | None, int]] = {}
        self.capacity = max(1, capacity)

    def get(self, uri: str) -> Entry | None:
        entry = self._entries.get(uri)
        if entry is not None:
            self._entries.move_to_end(uri)
        return entry

    def previous(self, uri: str, text: str) -> Entry | None:
        """What an analysis of ``uri``'s ``text`` can continue from: its open entry, else a closed
        document's entry of the same text (the newest), else the entry ``uri`` had before it closed."""
        entry = self._entries.get(uri)
        if entry is not None:
            return entry
        same = (e for e in reversed(self._closed.values()) if e.analysis.document.text == text)
        return next(same, None) or self._closed.get(uri)

    def put(self, uri: str, analysis: Analysis, version: int | None, reopened: Entry | None = None) -> None:
        """Keep ``analysis`` of ``uri`` at ``version``; ``reopened``, the closed entry it continued,
        is then open again under ``uri``."""
        self._fresh.pop(uri, None)
        self._closed.pop(uri, None)
        for key, entry in list(self._closed.items()):
            if entry is reopened:
                del self._closed[key]
        self._entries[uri] = Entry(analysis, version)
        self._entries.move_to_end(uri)
        self._trim()

    def fresh_tokens(self, uri: str, entry: Entry, version: int | None) -> int | None:
        """What ``remember_fresh_tokens`` recorded for ``entry`` at ``version``, if anything."""
        cached = self._fresh.get(uri)
        return cached[1] if cached is not None and cached[0] == version and self._entries.get(uri) is entry else None

    def remember_fresh_tokens(self, uri: str, entry: Entry, version: int | None, fresh: int) -> None:
        if self._entries.get(uri) is entry:
            self._fresh[uri] = (version, fresh)

    def resize(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._trim()

    def discard(self, uri: str) -> bool:
        """Forget ``uri``'s analysis; True if there was one."""
        self._fresh.pop(uri, None)
        return self._entries.pop(uri, None) is not None

    def close(self, uri: str) -> None:
        """``uri`` was closed: its analysis is no longer shown but kept for reopening (``previous``)."""
        self._fresh.pop(uri, None)
        entry = self._entries.pop(uri, None)
        if entry is not None:
            self._closed[uri] = entry
            self._closed.move_to_end(uri)

    def clear(self) -> None:
        self._entries.clear()
        self._closed.clear()
        self._fresh.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, uri: object) -> bool:
        return uri in self._entries

    def _trim(self) -> None:
        while len(self._entries) + len(self._closed) > self.capacity:
            if self._closed:
                self._closed.popitem(last=False)
                continue
            uri, _ = self._entries.popitem(last=False)
            self._fresh.pop(uri, None)


COMPLETION_SCHEME = "atten-scope-completion"


@dataclass(frozen=True)
class KeptCompletion:
    """A completion kept for the per-token views: ``entry`` holds its analysis (context + completion)
    at the version of ``document`` it continues; ``generation`` is the ``generation.Generation``."""

    uri: str
    document: str
    entry: Entry
    generation: Any


class CompletionStore:
    """The latest completion per document under its own URI (``atten-scope-completion:///<n>``),
    dropped when the document is edited or closed, or a newer completion replaces it. Its captured
    state is in the memory budget (the generation admitted it). Written from the model thread."""

    def __init__(self) -> None:
        self._by_uri: dict[str, KeptCompletion] = {}
        self._count = 0
        self._lock = threading.Lock()

    def put(self, document: str, version: int | None, generation: Any) -> str:
        with self._lock:
            self._count += 1
            uri = f"{COMPLETION_SCHEME}:///{self._count}"
            self._drop(document)
            self._by_uri[uri] = KeptCompletion(uri, document, Entry(generation.analysis, version), generation)
            return uri

    def get(self, uri: str) -> KeptCompletion | None:
        return self._by_uri.get(uri)

    def of_document(self, document: str) -> dict[str, Any]:
        """The generations kept for ``document``, by completion URI."""
        return {k.uri: k.generation for k in list(self._by_uri.values()) if k.document == document}

    def discard_document(self, document: str) -> bool:
        """Drop ``document``'s completion; True if there was one."""
        with self._lock:
            return self._drop(document)

    def clear(self) -> None:
        with self._lock:
            self._by_uri.clear()

    def _drop(self, document: str) -> bool:
        gone = [uri for uri, kept in self._by_uri.items() if kept.document == document]
        for uri in gone:
            del self._by_uri[uri]
        return bool(gone)


def is_completion_uri(uri: str) -> bool:
    return uri.startswith(f"{COMPLETION_SCHEME}:")


@dataclass(frozen=True)
class DocumentSymbols:
    """The definitions the editor found in one version of a document (``attenScope/symbols``)."""

    version: int | None
    symbols: list[dict[str, Any]]  # checked by ``units.parse_symbols``; parsed again per request


class SymbolStore:
    """The latest document symbols per URI, dropped when the document closes."""

    def __init__(self) -> None:
        self._symbols: dict[str, DocumentSymbols] = {}

    def put(self, uri: str, version: int | None, symbols: list[dict[str, Any]]) -> None:
        self._symbols[uri] = DocumentSymbols(version, symbols)

    def discard(self, uri: str) -> None:
        self._symbols.pop(uri, None)

    def for_analysis(self, uri: str, analysed: int | None) -> list[dict[str, Any]] | None:
        """The symbols of ``uri`` if found in the ``analysed`` version or a later one. The text before
        the first edit since the analysis is the same in every later version, and only its tokens
        are answered for, so a later version's ranges hold for them; an earlier one's may not."""
        held = self._symbols.get(uri)
        if held is None:
            return None
        usable = held.version is None or analysed is None or held.version >= analysed
        return held.symbols if usable else None
