"""The Atten-Scope language server class: its state and its messages to the client.

Features live in their own modules and are wired by ``setup.create_server``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import FeatureRequestError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from atten_scope.common.quoting import shorten
from atten_scope.engine.analysis import unchanged_tokens
from atten_scope.engine.analysis_cache import AnalysisCache
from atten_scope.engine.storage import MemoryBudget
from atten_scope.lsp.documents import AnalysisStore, CompletionStore, Entry, SymbolStore
from atten_scope.lsp.rpc import Protocol, json_converter
from atten_scope.lsp.rpc_errors import NotAnalysed
from atten_scope.lsp.settings import Settings, parse_settings
from atten_scope.lsp.workers import Engine, EngineEvents

NAME = "atten-scope"
log = logging.getLogger(__name__)


def server_version() -> str:
    try:
        from importlib.metadata import version

        return version("atten-scope")
    except Exception:  # running from a source tree
        return "0.0.0"


class AttenScopeServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            NAME,
            server_version(),
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=Protocol,
            converter_factory=json_converter,
        )
        self.settings = Settings()
        self.store = AnalysisStore(self.settings.cache_documents)
        self.symbols = SymbolStore()  # the editor's definitions per document (code units)
        self.completions = CompletionStore()  # the latest completion per document, for the views
        # Captured state of every analysis this server holds, within attenScope.memoryBudgetMB.
        self.budget = MemoryBudget(self.settings.memory_budget_mb)
        # Analyses kept on disk, within attenScope.analysisCacheMB: reopened text is restored, not run again.
        self.analysis_cache = AnalysisCache(self.settings.analysis_cache_mb)
        self.engine = Engine(
            EngineEvents(
                status=lambda state, message, model: self.call_on_loop(self.status, state, message, model),
                error=lambda message: self.call_on_loop(self.show_error, message),
            )
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.analyses_running = 0
        self.shut_down = False  # LSP: exit after shutdown is status 0, without it status 1
        self.analysing: dict[str, threading.Event] = {}  # uri -> the cancel event of its running analysis
        self.session_ended = threading.Event()  # set when its TCP client has gone: ends the watch on its editor

    def report_server_error(self, error: Exception, source: Any) -> None:
        # pygls would pop up every internal error; requests already carry theirs, the rest goes to the log.
        if source is not FeatureRequestError:
            log.error("Internal error (%s): %s", getattr(source, "__name__", source), error)

    # ---- messages to the client

    def call_on_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` on the event loop; the writer must only be used from there."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def status(self, state: str, message: str, model: str | None = None) -> None:
        params: dict[str, Any] = {"state": state, "message": message}
        if model is not None:
            params["model"] = model
        self.protocol.notify("attenScope/status", params)

    def show_error(self, message: str) -> None:
        self._show(types.MessageType.Error, message)

    def show_warning(self, message: str) -> None:
        self._show(types.MessageType.Warning, message)

    def _show(self, kind: types.MessageType, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"Atten-Scope: {message}"))

    # ---- settings and documents

    def apply_settings(self, raw: Any) -> None:
        settings, warnings = parse_settings(raw, self.settings)
        for warning in warnings:
            log.warning("%s", warning)
            self.show_warning(warning)
        self.settings = settings
        self.store.resize(settings.cache_documents)
        if settings.memory_budget_mb * (1 << 20) != self.budget.limit_bytes:
            # On the model thread: a smaller budget spills windows to disk, which takes a while.
            budget = settings.memory_budget_mb
            self.engine.in_background(
                self.engine.run(lambda: self.budget.resize(budget)), "Applying attenScope.memoryBudgetMB"
            )
        if settings.analysis_cache_mb * (1 << 20) != self.analysis_cache.limit_bytes:
            self.analysis_cache.resize_later(settings.analysis_cache_mb)
        if self.engine.model_changed(settings):
            self.store.clear()
            self.completions.clear()
            log.info("Model settings changed: loading %s", settings.model)
            # Load now, in the background, so the next analysis finds the new model ready.
            self.engine.in_background(self.engine.ensure_loaded(settings), f"Loading {settings.model}")

    def document(self, uri: str) -> TextDocument:
        doc = self.workspace.text_documents.get(unquote(uri))
        if doc is None:
            raise JsonRpcInvalidParams(f"The document {shorten(uri)} is not open in the editor.")
        return doc

    def analysed_entry(self, uri: str) -> Entry:
        """The latest analysis of ``uri``, of whatever version, or the LSP error to answer."""
        self.document(uri)
        entry = self.store.get(uri)
        if entry is None:
            raise NotAnalysed("This document has not been analysed: Run 'Atten-Scope: Analyze File' first.")
        return entry

    def symbols_for(self, uri: str) -> list[dict[str, Any]] | None:
        """The editor's symbols for ``uri``, when they hold for its analysis (``SymbolStore.for_analysis``)."""
        entry = self.store.get(uri)
        return self.symbols.for_analysis(uri, entry.version if entry is not None else None)

    def unchanged_tokens(self, uri: str, entry: Entry, version: int | None, text: str) -> int:
        """How many tokens of ``entry``'s analysis ``text`` (``uri`` at ``version``) still begins with.

        Tokenizes the text, so it runs on a views thread; answered once per document version.
        """
        cached = self.store.fresh_tokens(uri, entry, version)
        if cached is not None:
            return cached
        loaded = self.engine.loaded
        analysis = entry.analysis
        if loaded is None or loaded.info.id != analysis.info.id:
            fresh = 0  # the model changed: nothing of the old analysis is the new model's
        else:
            fresh = unchanged_tokens(analysis, loaded.tokenizer, text)
        self.store.remember_fresh_tokens(uri, entry, version, fresh)
        return fresh
