"""Request and notification handlers (docs/PROTOCOL.md)."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcContentModified,
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcRequestCancelled,
)

from .. import results
from ..analysis import Analysis, Analyzer
from ..errors import AttenScopeError, Cancelled, DocumentError, InvalidRequest
from .documents import Entry
from .engine import is_out_of_memory
from .hover import hover_markdown
from .server import AttenScopeServer
from .settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

ANALYZE = "attenScope/analyze"
ATTENTION = "attenScope/attention"
HEATMAP = "attenScope/heatmap"
HEADS = "attenScope/heads"
REQUEST_FAILED = -32803  # LSP: a well-formed request that could not be carried out
MAX_HEATMAP_TOKENS = 4096  # n(n+1)/2 cells: beyond this the answer gets too large to draw
HOVER_ROWS = 8


class RequestFailed(JsonRpcException):
    CODE = REQUEST_FAILED


def translate_errors(handler: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Engine errors become the protocol's errors; a sentence a user understands is the message."""

    @functools.wraps(handler)
    async def wrapper(*args: Any) -> T:
        try:
            return await handler(*args)
        except JsonRpcException:
            raise
        except Cancelled as error:
            raise JsonRpcRequestCancelled(str(error)) from error
        except (InvalidRequest, DocumentError) as error:
            raise JsonRpcInvalidParams(str(error)) from error
        except AttenScopeError as error:  # ModelLoadError: already shown to the user
            raise RequestFailed(str(error)) from error

    return wrapper


def request_object(params: Any) -> dict[str, Any]:
    if not isinstance(params, dict):
        raise JsonRpcInvalidParams("The request parameters must be an object.")
    return params


def document_uri(params: dict[str, Any]) -> str:
    document = params.get("textDocument")
    uri = document.get("uri") if isinstance(document, dict) else None
    if not isinstance(uri, str) or not uri:
        raise JsonRpcInvalidParams("The request needs textDocument.uri, the document's URI.")
    return uri


def selection(value: Any, what: str) -> str | list[int]:
    """The heatmap's ``layer``/``head``: ``"all"`` or one index."""
    if value is None or value == "all":
        return "all"
    if isinstance(value, bool) or not isinstance(value, int):
        raise JsonRpcInvalidParams(f'{what} must be "all" or a {what} number.')
    return [value]


def token_range(value: Any, count: int) -> tuple[int, int]:
    """``tokenRange`` [start, end) (end exclusive), clipped to what can be drawn."""
    if value is None:
        return 0, min(count, MAX_HEATMAP_TOKENS)
    if (
        not isinstance(value, list)
        or len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
    ):
        raise JsonRpcInvalidParams("tokenRange must be [start, end], two token indices.")
    start, end = value
    if not 0 <= start < end <= count:
        raise JsonRpcInvalidParams(f"tokenRange [{start}, {end}] is outside the {count} analysed tokens.")
    if end - start > MAX_HEATMAP_TOKENS:
        raise JsonRpcInvalidParams(
            f"tokenRange covers {end - start} tokens; the heatmap shows at most {MAX_HEATMAP_TOKENS}."
        )
    return start, end


@dataclass(frozen=True)
class ViewRequest:
    """What a view request works from: its params, its document's analysis, and the settings at arrival."""

    params: dict[str, Any]
    uri: str
    entry: Entry
    settings: Settings


def view_request(ls: AttenScopeServer, params: Any) -> ViewRequest:
    """Validate a view request's params and find the current analysis of its document."""
    p = request_object(params)
    uri = document_uri(p)
    return ViewRequest(p, uri, ls.current_entry(uri), ls.settings)


async def compute_view(ls: AttenScopeServer, uri: str, entry: Entry, compute: Callable[[Analysis], T]) -> T:
    """Run ``compute`` off the event loop; an edit meanwhile makes the answer stale."""
    result = await ls.engine.view(lambda: compute(entry.analysis))
    if ls.store.get(uri) is not entry or ls.document(uri).version != entry.version:
        raise JsonRpcContentModified("The document changed while the request ran: analyse it again.")
    return result


class Progress:
    """``$/progress`` for a client-supplied ``workDoneToken``; called from the worker thread."""

    def __init__(self, ls: AttenScopeServer, token: Any, cancel: threading.Event) -> None:
        self.ls = ls
        self.token = token if isinstance(token, (str, int)) and not isinstance(token, bool) else None
        self.cancel = cancel
        self.last = -1

    def begin(self, title: str) -> None:
        if self.token is None:
            return
        progress = self.ls.work_done_progress
        progress.begin(
            self.token, types.WorkDoneProgressBegin(title=title, cancellable=True, message="Starting", percentage=0)
        )
        # window/workDoneProgress/cancel cancels this future: stop the analysis as for $/cancelRequest.
        progress.tokens[self.token].add_done_callback(lambda _: self.cancel.set())

    def report(self, fraction: float, message: str) -> None:
        percentage = max(0, min(100, int(fraction * 100)))
        if self.token is None or percentage == self.last:
            return
        self.last = percentage
        value = types.WorkDoneProgressReport(message=message, percentage=percentage, cancellable=True)
        self.ls.call_on_loop(self.ls.work_done_progress.report, self.token, value)

    def end(self, message: str) -> None:
        if self.token is None:
            return
        future = self.ls.work_done_progress.tokens.pop(self.token, None)
        if future is not None and not future.done():
            future.set_result(None)  # done before removal, so the callback cannot fire later
        self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))


def register(server: AttenScopeServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: AttenScopeServer, params: types.InitializeParams) -> None:
        ls.loop = asyncio.get_running_loop()
        options = params.initialization_options
        if options is not None:
            ls.apply_settings(options)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: AttenScopeServer, params: types.DidChangeConfigurationParams) -> None:
        ls.apply_settings(params.settings)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: AttenScopeServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.store.discard(params.text_document.uri)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: AttenScopeServer, *_: Any) -> None:
        ls.engine.shutdown()

    @server.feature(ANALYZE)
    @translate_errors
    async def analyze(ls: AttenScopeServer, params: Any) -> dict[str, Any]:
        p = request_object(params)
        uri = document_uri(p)
        doc = ls.document(uri)
        version, text = doc.version, doc.source
        settings = ls.settings
        generation = ls.engine.generation
        loaded = await ls.engine.ensure_loaded(settings)
        previous = ls.store.get(uri)
        cancel = threading.Event()
        progress = Progress(ls, p.get("workDoneToken"), cancel)
        analyzer = Analyzer(loaded, settings.max_tokens)
        ls.analyses_running += 1
        ls.status("analyzing", f"Analysing {uri}", model=loaded.info.id)
        progress.begin("Atten-Scope: analysing")
        outcome = "Cancelled"
        try:
            analysis = await ls.engine.run(
                lambda: analyzer.analyze(
                    text,
                    previous=previous.analysis if previous is not None else None,
                    progress=progress.report,
                    cancelled=cancel.is_set,
                )
            )
            outcome = f"{analysis.token_count} tokens"
        except asyncio.CancelledError:
            cancel.set()  # $/cancelRequest cancelled this task: stop the worker at its next check
            raise
        except (MemoryError, RuntimeError) as error:
            if not is_out_of_memory(error):
                raise
            outcome = "Out of memory"
            message = "Out of memory while analysing: lower attenScope.maxTokens or use a smaller model."
            ls.show_error(message)
            raise RequestFailed(message) from error
        except AttenScopeError as error:
            outcome = str(error)
            raise
        finally:
            ls.analyses_running -= 1
            progress.end(outcome)
            if ls.analyses_running == 0 and ls.engine.loaded is not None:
                ls.status("ready", "Ready", model=ls.engine.loaded.info.id)
        if generation != ls.engine.generation:
            raise JsonRpcContentModified("The model changed during the analysis: analyse the document again.")
        ls.store.put(uri, analysis, version)
        current = ls.workspace.text_documents.get(unquote(uri))
        if current is None or current.version != version:
            # Kept above for prefix reuse; the client retries on ContentModified.
            raise JsonRpcContentModified("The document changed during the analysis: analyse it again.")
        return results.analyze_json(analysis, uri, version)

    @server.feature(ATTENTION)
    @translate_errors
    async def attention(ls: AttenScopeServer, params: Any) -> dict[str, Any]:
        r = view_request(ls, params)

        def compute(analysis: Analysis) -> dict[str, Any]:
            options = r.settings.view_options(r.params, analysis.info.layers, analysis.info.heads)
            token = results.token_at_position(analysis, r.params.get("position"))
            return results.attention_json(analysis, token, options, r.entry.version)

        return await compute_view(ls, r.uri, r.entry, compute)

    @server.feature(HEATMAP)
    @translate_errors
    async def heatmap(ls: AttenScopeServer, params: Any) -> dict[str, Any]:
        r = view_request(ls, params)
        request = {k: r.params.get(k) for k in ("refinement", "aggregate", "dropSink")}
        request["layers"] = selection(r.params.get("layer"), "layer")
        request["heads"] = selection(r.params.get("head"), "head")
        first, end = token_range(r.params.get("tokenRange"), r.entry.analysis.token_count)

        def compute(analysis: Analysis) -> dict[str, Any]:
            options = r.settings.view_options(request, analysis.info.layers, analysis.info.heads)
            return results.heatmap_json(analysis, options, first, end - first, r.entry.version)

        return await compute_view(ls, r.uri, r.entry, compute)

    @server.feature(HEADS)
    @translate_errors
    async def heads(ls: AttenScopeServer, params: Any) -> dict[str, Any]:
        r = view_request(ls, params)
        # The grid shows every head on its own: layer/head selections and aggregates do not apply.
        request = {k: r.params.get(k) for k in ("refinement", "direction", "dropSink")}
        request.update(aggregate="headMean", layers="all", heads="all")

        def compute(analysis: Analysis) -> dict[str, Any]:
            options = r.settings.view_options(request, analysis.info.layers, analysis.info.heads)
            token = results.token_at_position(analysis, r.params.get("position"))
            return results.heads_json(analysis, token, options, r.entry.version)

        return await compute_view(ls, r.uri, r.entry, compute)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: AttenScopeServer, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        try:
            entry = ls.current_entry(uri)
        except JsonRpcException:
            return None  # not analysed, or stale: no card
        settings = ls.settings
        position = {"line": params.position.line, "character": params.position.character}

        def compute(analysis: Analysis) -> dict[str, Any] | None:
            try:
                options = settings.view_options({}, analysis.info.layers, analysis.info.heads)
                token = results.token_at_position(analysis, position)
                return results.attention_json(analysis, token, options, entry.version)
            except AttenScopeError as error:
                log.debug("No hover at %s: %s", position, error)
                return None

        try:
            result = await compute_view(ls, uri, entry, compute)
        except JsonRpcException:
            return None
        if result is None:
            return None
        markdown = hover_markdown(result, entry.analysis.info.id, HOVER_ROWS)
        span = result["token"]["range"]
        return types.Hover(
            contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown),
            range=types.Range(
                start=types.Position(**span["start"]),
                end=types.Position(**span["end"]),
            ),
        )
