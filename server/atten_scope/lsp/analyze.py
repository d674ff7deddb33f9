"""``attenScope/analyze``: run the model over a document, with progress and cancellation."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from pygls.exceptions import JsonRpcContentModified

from atten_scope.engine.analysis import run_analysis
from atten_scope.lsp.requests import work_done
from atten_scope.lsp.rpc_errors import RequestFailed, translate_errors
from atten_scope.lsp.workers import is_out_of_memory, release_memory
from atten_scope.protocol.encode import analyze_json
from atten_scope.protocol.fields import parse_params
from atten_scope.protocol.params import DocumentRequest
from atten_scope.views.attention import prepare_attended_by

if TYPE_CHECKING:
    from atten_scope.lsp.server import AttenScopeServer

ANALYZE = "attenScope/analyze"


def register(server: AttenScopeServer) -> None:
    @server.feature(ANALYZE)
    @translate_errors
    async def analyze(ls: AttenScopeServer, params: Any) -> dict[str, Any]:
        request = parse_params(DocumentRequest, params)
        uri = request.text_document.uri
        doc = ls.document(uri)
        version, text = doc.version, doc.source
        settings = ls.settings
        generation = ls.engine.generation
        # Begun before the model loads: the first load (a one-time conversion) is most of the wait.
        async with work_done(ls, request.work_done_token, "Atten-Scope: analysing") as task:
            ls.analyses_running += 1
            ls.analysing[uri] = task.cancel
            try:
                loaded = await ls.engine.ensure_loaded(settings, task.progress)
                previous = ls.store.get(uri)
                ls.status("analyzing", f"Analysing {document_name(uri)}", model=loaded.info.id)
                analysis = await ls.engine.run(
                    lambda: run_analysis(
                        loaded,
                        text,
                        settings.max_tokens,
                        previous=previous.analysis if previous is not None else None,
                        progress=task.progress,
                        budget=ls.budget,
                    ),
                    task.cancel,
                )
                task.outcome = f"{analysis.token_count} tokens"
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
        ls.store.put(uri, analysis, version)
        if current.version != version:
            # Kept above for prefix reuse; the client retries on ContentModified.
            raise JsonRpcContentModified("The document changed during the analysis: analyse it again.")

        def prepare() -> None:
            info = analysis.info
            options = ls.settings.view_options({"direction": "attendedBy"}, info.id, info.layers, info.heads)
            prepare_attended_by(analysis, options)
            analysis.next_logprobs()

        # The first attendedBy request would build what columns read (the norm totals), and the first
        # surprise request would run the LM head over every token: do both now, while the editor is
        # idle, so toggling the direction or the surprise heat is as fast as moving the cursor.
        ls.engine.when_idle(uri, prepare, f"Preparing attendedBy and the surprise heat for {document_name(uri)}")
        return analyze_json(analysis, uri, version)


def document_name(uri: str) -> str:
    """A document's name for people: its file name, and "(saved)" after the saved version that the
    extension analyses under its ``atten-scope-saved:`` scheme."""
    parsed = urlparse(uri)
    name = PurePosixPath(unquote(parsed.path)).name or uri
    return f"{name} (saved)" if parsed.scheme == "atten-scope-saved" else name
