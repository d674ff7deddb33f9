"""The view requests of ``registry.VIEWS``: one handler each, registered from the registry.

Each runs against the document's analysis, with the user's view settings under the request's own
fields. After an edit, the views about one token (``registry.View.after_edit``) still answer for
the tokens before the first edited one, whose state is exact; the others wait for a new analysis.
Light views run on the views thread, heavy ones (``registry.View.heavy``: the heatmap) on their
own thread, where they give way to the light ones (``Engine.view``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pygls.exceptions import JsonRpcContentModified

from atten_scope import registry
from atten_scope.engine.analysis import Analysis
from atten_scope.lsp.documents import Entry
from atten_scope.lsp.rpc_errors import document_uri, request_object, translate_errors
from atten_scope.protocol import results
from atten_scope.views.options import ViewQuery

if TYPE_CHECKING:
    from atten_scope.lsp.server import AttenScopeServer

T = TypeVar("T")


async def compute_view(
    ls: AttenScopeServer,
    uri: str,
    compute: Callable[[Analysis, int | None], T],
    heavy: bool = False,
    after_edit: bool = False,
) -> tuple[T, Entry, int | None]:
    """Run ``compute(analysis, fresh_tokens)`` off the event loop, against ``uri``'s analysis.

    When the document changed since that analysis, ``after_edit`` views still answer for the
    tokens it begins with unchanged (``fresh_tokens`` of them; None when nothing changed); other
    views answer ContentModified. An edit while the request runs makes the answer stale.
    """
    entry = ls.analysed_entry(uri)
    doc = ls.document(uri)
    version, text = doc.version, doc.source
    if entry.version != version and not after_edit:
        raise JsonRpcContentModified(
            f"The document changed since it was analysed (version {entry.version}, now {version}): analyse it again."
        )

    def run() -> tuple[T, int | None]:
        fresh = None if entry.version == version else ls.unchanged_tokens(uri, entry, version, text)
        return compute(entry.analysis, fresh), fresh

    result, fresh = await ls.engine.view(run, heavy=heavy)
    if ls.store.get(uri) is not entry or ls.document(uri).version != version:
        raise JsonRpcContentModified("The document changed while the request ran: ask again.")
    return result, entry, fresh


def view_handler(name: str) -> Callable[[AttenScopeServer, Any], Awaitable[dict[str, Any]]]:
    """The request handler of the view ``name``."""
    view = registry.VIEWS[name]

    @translate_errors
    async def handle(ls: AttenScopeServer, params: Any) -> dict[str, Any]:
        p = request_object(params)
        uri = document_uri(p)
        version = ls.document(uri).version
        symbols = ls.symbols_for(uri)  # the editor's definitions, for views that sum into code units

        def compute(analysis: Analysis, fresh: int | None) -> dict[str, Any]:
            query = ViewQuery(p, ls.settings.view, version, fresh, symbols)
            return results.view_result(name, analysis, query)

        result, entry, fresh = await compute_view(ls, uri, compute, view.heavy, view.after_edit)
        if view.after_edit:
            # Answered from an older analysis: the client marks what follows staleFrom as stale.
            result["analysedVersion"] = entry.version
            result["staleFrom"] = None if fresh is None else results.stale_from(entry.analysis, fresh)
        return result

    handle.__name__ = f"view_{name}"
    return handle


def register(server: AttenScopeServer) -> None:
    for view in registry.VIEWS.values():
        server.feature(view.method)(view_handler(view.name))
