"""The view requests of ``registry.VIEWS``: one handler each, registered from the registry.

Each runs against the analysis of the document's current version, with the user's view settings
under the request's own fields; an edit meanwhile makes the answer stale. Light views run on the
views thread, heavy ones (``registry.View.heavy``: the heatmap) on their own thread, where they
give way to the light ones (``Engine.view``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pygls.exceptions import JsonRpcContentModified

from .. import registry, results
from ..analysis import Analysis
from ..options import ViewQuery
from .documents import Entry
from .errors import document_uri, request_object, translate_errors

if TYPE_CHECKING:
    from .server import AttenScopeServer

T = TypeVar("T")


async def compute_view(
    ls: AttenScopeServer, uri: str, entry: Entry, compute: Callable[[Analysis], T], heavy: bool = False
) -> T:
    """Run ``compute`` off the event loop; an edit meanwhile makes the answer stale."""
    result = await ls.engine.view(lambda: compute(entry.analysis), heavy=heavy)
    if ls.store.get(uri) is not entry or ls.document(uri).version != entry.version:
        raise JsonRpcContentModified("The document changed while the request ran: analyse it again.")
    return result


def view_handler(name: str) -> Callable[[AttenScopeServer, Any], Awaitable[dict[str, Any]]]:
    """The request handler of the view ``name``."""

    @translate_errors
    async def handle(ls: AttenScopeServer, params: Any) -> dict[str, Any]:
        p = request_object(params)
        uri = document_uri(p)
        entry = ls.current_entry(uri)
        query = ViewQuery(p, ls.settings.view, entry.version)
        heavy = registry.VIEWS[name].heavy
        return await compute_view(ls, uri, entry, lambda analysis: results.view_result(name, analysis, query), heavy)

    handle.__name__ = f"view_{name}"
    return handle


def register(server: AttenScopeServer) -> None:
    for view in registry.VIEWS.values():
        server.feature(view.method)(view_handler(view.name))
