"""``attenScope/removeLines``: the model run again without some lines, on the model thread."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from pygls.exceptions import JsonRpcContentModified

from atten_scope.lsp.rpc_errors import document_uri, request_object, translate_errors
from atten_scope.lsp.work_done import WorkDoneProgress
from atten_scope.lsp.workers import release_memory
from atten_scope.views.removal import removal_effect, removal_json, requested_lines

if TYPE_CHECKING:
    from atten_scope.lsp.server import AttenScopeServer

REMOVE_LINES = "attenScope/removeLines"


def register(server: AttenScopeServer) -> None:
    @server.feature(REMOVE_LINES)
    @translate_errors
    async def remove_lines(ls: AttenScopeServer, params: Any) -> dict[str, Any]:
        p = request_object(params)
        uri = document_uri(p)
        entry = ls.analysed_entry(uri)
        version = ls.document(uri).version
        asked = p["textDocument"].get("version")
        if asked is not None and asked != version:
            raise JsonRpcContentModified(f"The request is for version {asked}, the document's is {version}: ask again.")
        if entry.version != version:
            # The lines and the cursor are the current text's, the analysis an older one's.
            raise JsonRpcContentModified(
                f"The document changed since it was analysed (version {entry.version}, now {version}): "
                "analyse it again."
            )
        first, last = requested_lines(p)
        position = p.get("position")
        heat = p.get("heat") is True
        cancel = threading.Event()
        progress = WorkDoneProgress(ls, p.get("workDoneToken"), cancel)
        progress.begin("Atten-Scope: without those lines")
        outcome = "Cancelled"
        try:
            loaded = await ls.engine.ensure_loaded(ls.settings, progress)
            generation = ls.engine.generation
            analysis = entry.analysis
            if loaded.info.id != analysis.info.id:
                raise JsonRpcContentModified("The model changed since the analysis: analyse the document again.")

            def run() -> dict[str, Any]:
                effect = removal_effect(analysis, loaded, first, last, position, heat=heat, progress=progress)
                return removal_json(analysis, effect, version)

            try:
                result = await ls.engine.run(run, cancel)
            finally:
                # The hypothetical analysis is unreferenced once ``run`` returns: give its memory back.
                ls.engine.in_background(ls.engine.run(release_memory), "Releasing the memory of a line removal")
            outcome = f"{result['recomputedTokens']} tokens recomputed"
        except Exception as error:
            outcome = str(error) or type(error).__name__
            raise
        finally:
            progress.end(outcome)
        if generation != ls.engine.generation or ls.store.get(uri) is not entry or ls.document(uri).version != version:
            raise JsonRpcContentModified("The document or the model changed while the request ran: ask again.")
        return result
