"""``attenScope/analyze``: run the model over a document, with progress and cancellation."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from pygls.exceptions import JsonRpcContentModified

from atten_scope.common.progress import ReportProgress
from atten_scope.engine.analysis import Analysis, run_analysis
from atten_scope.engine.analysis_cache import AnalysisCache, CacheKey, cache_key
from atten_scope.engine.context import ContextFile, Prefix, build_prefix, prefix_of
from atten_scope.engine.model import LoadedModel
from atten_scope.engine.storage import MemoryBudget
from atten_scope.lsp.documents import Entry
from atten_scope.lsp.requests import work_done
from atten_scope.lsp.rpc_errors import RequestFailed, translate_errors
from atten_scope.lsp.workers import is_out_of_memory, release_memory
from atten_scope.protocol.encode import analyze_json
from atten_scope.protocol.fields import parse_params
from atten_scope.protocol.params import AnalyzeRequest
from atten_scope.views.attention import prepare_attended_by

if TYPE_CHECKING:
    from atten_scope.lsp.server import AttenScopeServer

ANALYZE = "attenScope/analyze"


def register(server: AttenScopeServer) -> None:
    @server.feature(ANALYZE)
    @translate_errors
    async def analyze(ls: AttenScopeServer, params: Any) -> dict[str, Any]:
        request = parse_params(AnalyzeRequest, params)
        uri = request.text_document.uri
        doc = ls.document(uri)
        version, text = doc.version, doc.source
        files = [ContextFile(file.uri, file.text) for file in request.context_files]
        context = build_prefix(files, uri, doc.language_id)  # read before the document; None: none
        settings = ls.settings
        generation = ls.engine.generation
        # Begun before the model loads: the first load (a one-time conversion) is most of the wait.
        async with work_done(ls, request.work_done_token, "Atten-Scope: analysing") as task:
            ls.analyses_running += 1
            ls.analysing[uri] = task.cancel
            try:
                loaded = await ls.engine.ensure_loaded(settings, task.progress)
                previous = ls.store.previous(uri, text)
                ls.status("analyzing", f"Analysing {document_name(uri)}", model=loaded.info.id)
                analysis, key = await ls.engine.run(
                    lambda: analyse(
                        loaded,
                        text,
                        settings.max_tokens,
                        previous,
                        ls.analysis_cache,
                        ls.budget,
                        task.progress,
                        context,
                    ),
                    task.cancel,
                )
                task.outcome = f"{analysis.token_count} tokens" + (", restored" if analysis.restored else "")
            except (MemoryError, RuntimeError) as error:
                if not is_out_of_memory(error):
                    raise
                task.outcome = "Out of memory"
                release_memory()  # what the failed analysis allocated is unreferenced now
                message = (
                    "Out of memory while analysing: lower attenScope.memoryBudgetMB "
                    f"(now {settings.memory_budget_mb} MB) so that more of the analysis is kept on disk, "
                    "close documents you are not reading, or lower attenScope.maxTokens."
                )
                ls.show_error(message)
                raise RequestFailed(message) from error
            finally:
                ls.analyses_running -= 1
                if ls.analysing.get(uri) is task.cancel:
                    del ls.analysing[uri]
                if ls.analyses_running == 0 and ls.engine.loaded is not None:
                    ls.status("ready", "Ready", model=ls.engine.loaded.info.id)
        if generation != ls.engine.generation:
            raise JsonRpcContentModified("The model changed during the analysis: analyse the document again.")
        current = ls.workspace.text_documents.get(unquote(uri))
        if current is None:  # closed meanwhile: keep nothing
            raise JsonRpcContentModified("The document was closed during the analysis.")
        ls.store.put(uri, analysis, version, reopened=previous)
        if current.version != version:
            # Kept above for prefix reuse; the client retries on ContentModified.
            raise JsonRpcContentModified("The document changed during the analysis: analyse it again.")
        if key is not None and not analysis.restored:
            ls.analysis_cache.save_later(uri, key, analysis)  # on its own thread: the answer does not wait

        def prepare() -> None:
            info = analysis.info
            options = ls.settings.view_options({"direction": "attendedBy"}, info.id, info.layers, info.heads)
            prepare_attended_by(analysis, options)
            analysis.next_logprobs()
            if key is not None:
                ls.analysis_cache.save_later(uri, key, analysis)  # the kept entry gains the surprise heat

        # The first attendedBy request would build what columns read (the norm totals), and the first
        # surprise request would run the LM head over every token: do both now, while the editor is
        # idle, so toggling the direction or the surprise heat is as fast as moving the cursor.
        ls.engine.when_idle(uri, prepare, f"Preparing attendedBy and the surprise heat for {document_name(uri)}")
        return analyze_json(analysis, uri, version)


def analyse(
    loaded: LoadedModel,
    text: str,
    max_tokens: int,
    previous: Entry | None,
    cache: AnalysisCache,
    budget: MemoryBudget,
    progress: ReportProgress,
    context: Prefix | None = None,
) -> tuple[Analysis, CacheKey | None]:
    """The analysis of ``text`` (on the model thread), read after the context files ``context`` when
    given, and the key the analysis cache keeps it under (None: the cache is off). ``previous`` of
    the same text and context is continued (every window is reused, the model does not run); else
    the cache restores it; else the model runs over the tokens from the first that differs from
    ``previous``'s (an unchanged context's tokens are the same, so its state is reused)."""
    earlier = previous.analysis if previous is not None else None
    key = cache_key(loaded, text, max_tokens, compact=True, context=context) if cache.enabled else None
    same = (
        earlier is not None
        and earlier.document.text == text
        and earlier.max_tokens == max_tokens
        and prefix_of(earlier.document) == context
    )
    if key is not None and not same:
        restored = cache.restore(key, loaded, text, progress, budget, context)
        if restored is not None:
            return restored, key
    analysis = run_analysis(
        loaded, text, max_tokens, previous=earlier, progress=progress, budget=budget, context=context
    )
    return analysis, key


def document_name(uri: str) -> str:
    """A document's name for people: its file name, and "(saved)" after the saved version that the
    extension analyses under its ``atten-scope-saved:`` scheme."""
    parsed = urlparse(uri)
    name = PurePosixPath(unquote(parsed.path)).name or uri
    return f"{name} (saved)" if parsed.scheme == "atten-scope-saved" else name
