"""The requests of ``registry.VIEWS``, every one answered by one handler, and the steps it shares
with ``attenScope/analyze`` and the hover.

For a view the handler (``answer``):

1. parses the request into ``params.DocumentRequest`` and the view's params (``Builder.params``):
   a refusal is InvalidParams naming the field;
2. takes the document's analysis (NotAnalysed without one) and refuses to answer for other text
   with ContentModified: a request for another version than the document's, or, once the
   document was edited, a view that does not answer after an edit (``View.after_edit``: the views
   about one token answer for the tokens before the first edit, whose state is still exact);
3. reports work-done progress when the view declares a title (``View.progress``) and the client
   sent a token, and waits for the model when the view runs it (``View.runs_model``);
4. runs the builder on the view's thread (``View.thread``: light views on the views thread, heavy
   ones on theirs, where they give way to the light ones; hypothetical analyses on the model
   thread, with analyses), stopping at its next ``cancellation.check()`` when cancelled;
5. gives memory back after a hypothetical analysis, and answers ContentModified when the
   document or the model changed while it ran.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pygls.exceptions import JsonRpcContentModified

from atten_scope import registry
from atten_scope.common.errors import Cancelled
from atten_scope.common.progress import ReportProgress
from atten_scope.engine.analysis import Analysis
from atten_scope.lsp.documents import Entry, KeptCompletion, is_completion_uri
from atten_scope.lsp.rpc_errors import translate_errors
from atten_scope.lsp.work_done import WorkDoneProgress
from atten_scope.lsp.workers import release_memory
from atten_scope.protocol.builders import builder
from atten_scope.protocol.encode import stale_from
from atten_scope.protocol.fields import parse_params
from atten_scope.protocol.params import DocumentRequest
from atten_scope.protocol.request import Builder, ViewRequest

if TYPE_CHECKING:
    from atten_scope.lsp.server import AttenScopeServer

T = TypeVar("T")

MODEL_CHANGED = "The model changed while the request ran: ask again once it is loaded."


@dataclass
class Task:
    """A request's work: its cancel event (``$/cancelRequest`` or the progress' cancel button) and progress."""

    cancel: threading.Event
    progress: ReportProgress
    outcome: str | None = None  # the progress' end message; by default the error, else "Cancelled"


@asynccontextmanager
async def work_done(ls: AttenScopeServer, token: str | int | None, title: str | None) -> AsyncIterator[Task]:
    """Work-done progress for the client's ``token`` titled ``title`` (none without a title), ended
    however the body ends, with ``Task.outcome``."""
    cancel = threading.Event()
    progress = WorkDoneProgress(ls, token if title is not None else None, cancel)
    if title is not None:
        progress.begin(title)
    task = Task(cancel, progress)
    try:
        yield task
    except Exception as error:
        if task.outcome is None:
            task.outcome = str(error) or type(error).__name__
        raise
    finally:
        progress.end(task.outcome or "Cancelled")


@dataclass(frozen=True)
class Target:
    """The document a request is about, at its current version, and the analysis it is answered from."""

    uri: str
    entry: Entry
    version: int | None
    text: str
    document: str = ""  # the open document whose version this is: ``uri``, or the one a completion continues

    @property
    def source(self) -> str:
        return self.document or self.uri


def target(ls: AttenScopeServer, uri: str, after_edit: bool, asked: int | None = None) -> Target:
    """``uri``'s analysis and current text, or ContentModified when they do not fit: the request is
    for version ``asked`` and the document is at another, or the document changed since the analysis
    and the request does not answer ``after_edit``. A completion's URI names its kept analysis."""
    if is_completion_uri(uri):
        return completion_target(ls, uri, ls.completions.get(uri), asked)
    entry = ls.analysed_entry(uri)
    doc = ls.document(uri)
    version = doc.version
    if asked is not None and asked != version:
        raise JsonRpcContentModified(f"The request is for version {asked}, the document's is {version}: ask again.")
    if entry.version != version and not after_edit:
        raise JsonRpcContentModified(
            f"The document changed since it was analysed (version {entry.version}, now {version}): analyse it again."
        )
    return Target(uri, entry, version, doc.source)


def completion_target(ls: AttenScopeServer, uri: str, kept: KeptCompletion | None, asked: int | None) -> Target:
    """The kept completion ``uri`` while its document is at the version it continued (``asked``, if
    given), else ContentModified: an edit, a close or a newer completion dropped it."""
    gone = (
        "This completion is no longer kept (the document or the model changed, or a newer completion replaced it): "
        "complete again."
    )
    if kept is None:
        raise JsonRpcContentModified(gone)
    version = ls.document(kept.document).version
    if (asked is not None and asked != version) or kept.entry.version != version:
        ls.completions.discard_document(kept.document)
        raise JsonRpcContentModified(gone)
    return Target(uri, kept.entry, version, kept.entry.analysis.document.text, kept.document)


def current_entry(ls: AttenScopeServer, uri: str) -> Entry | None:
    """What ``uri`` names now: its analysis, or the kept completion's."""
    kept = ls.completions.get(uri) if is_completion_uri(uri) else None
    return kept.entry if kept is not None else ls.store.get(uri)


async def run_against(
    ls: AttenScopeServer,
    on: Target,
    compute: Callable[[Analysis, int | None], T],
    thread: str = "light",
    cancel: threading.Event | None = None,
) -> tuple[T, int | None]:
    """``compute(analysis, fresh_tokens)`` on ``thread`` (``View.thread``), and the ``fresh_tokens`` it
    had: None while the analysis is current, else how many of its tokens the document still begins
    with. An edit, a model switch or a new analysis while it runs makes the answer stale:
    ContentModified, with a sentence that says which (``stale_because``)."""
    entry = on.entry
    generation = ls.engine.generation

    def run() -> tuple[T, int | None]:
        fresh = None if entry.version == on.version else ls.unchanged_tokens(on.uri, entry, on.version, on.text)
        return compute(entry.analysis, fresh), fresh

    if thread == "model":
        result = await ls.engine.run(run, cancel)
    else:
        result = await ls.engine.view(run, cancel, heavy=thread == "heavy")
    reason = stale_because(ls, on, generation)
    if reason is not None:
        raise JsonRpcContentModified(reason)
    return result


def stale_because(ls: AttenScopeServer, on: Target, generation: int) -> str | None:
    """Why an answer computed from ``on`` while the engine was at ``generation`` no longer holds, or
    None when it does. A model switch drops every analysis, so it is told apart from an edit first."""
    if ls.engine.generation != generation:
        return MODEL_CHANGED
    if ls.document(on.source).version != on.version:
        return "The document changed while the request ran: ask again."
    now = current_entry(ls, on.uri)
    if now is on.entry:
        return None
    if now is not None:
        return "The document was analysed again while the request ran: ask again."
    if is_completion_uri(on.uri):
        return "This completion is no longer kept (a newer completion replaced it): complete again."
    return (
        "The analysis is no longer kept (the document was closed, or more than attenScope.cacheDocuments "
        "documents were analysed since): analyse it again."
    )


async def answer(ls: AttenScopeServer, view: registry.View, build: Builder, raw: Any) -> dict[str, Any]:
    """The answer of ``view`` (built by ``build``) to the request params ``raw`` (see the module doc)."""
    request = parse_params(DocumentRequest, raw)
    params = build.parse(raw)
    document = request.text_document
    on = target(ls, document.uri, view.after_edit, document.version)
    symbols = ls.symbols_for(on.uri)  # the editor's definitions, for views that sum into code units
    language = ls.document(on.source).language_id  # for the figures that name what they were measured on
    async with work_done(ls, request.work_done_token, view.progress) as task:
        loaded = None
        if view.runs_model:
            loaded = await ls.engine.ensure_loaded(ls.settings, task.progress)
            if loaded.info.id != on.entry.analysis.info.id:
                raise JsonRpcContentModified("The model changed since the analysis: analyse the document again.")
        generation = ls.engine.generation

        def keep(generation: Any) -> str:
            return ls.completions.put(on.uri, on.version, generation)

        def compute(analysis: Analysis, fresh: int | None) -> dict[str, Any]:
            context = ViewRequest(
                analysis,
                params,
                on.version,
                fresh,
                ls.settings.view,
                symbols,
                loaded,
                task.progress,
                ls.budget,
                keep=keep if on.source == on.uri else None,  # a completion of a completion is not kept
                completions=ls.completions.of_document(on.source),
                language=language,
            )
            return build(context)

        try:
            result, fresh = await run_against(ls, on, compute, view.thread, task.cancel)
        except Cancelled:
            # A model switch cancels the model thread's work: say so, not "cancelled", which the
            # client reads as the user's own Cancel.
            if generation != ls.engine.generation:
                task.outcome = MODEL_CHANGED
                raise JsonRpcContentModified(MODEL_CHANGED) from None
            raise
        finally:
            if view.hypothetical:
                # The hypothetical analysis is unreferenced once the answer is built: give its memory back.
                ls.engine.in_background(ls.engine.run(release_memory), f"Releasing the memory of {view.label}")
        recomputed = result.get("recomputedTokens")
        task.outcome = "Done" if recomputed is None else f"{recomputed} tokens recomputed"
    if generation != ls.engine.generation:
        raise JsonRpcContentModified(MODEL_CHANGED)
    if view.after_edit:
        # Answered from an older analysis: the client marks what follows staleFrom as stale.
        result["analysedVersion"] = on.entry.version
        result["staleFrom"] = None if fresh is None else stale_from(on.entry.analysis, fresh)
    return result


def view_handler(view: registry.View) -> Callable[[AttenScopeServer, Any], Awaitable[dict[str, Any]]]:
    """The request handler of ``view``."""
    build = builder(view.name)

    @translate_errors
    async def handle(ls: AttenScopeServer, params: Any) -> dict[str, Any]:
        return await answer(ls, view, build, params)

    handle.__name__ = f"view_{view.name}"
    return handle


def register(server: AttenScopeServer) -> None:
    for view in registry.VIEWS.values():
        server.feature(view.method)(view_handler(view))
