"""``attenScope/cancelLoad``: the user stops the model load in progress, a first-use conversion included."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from atten_scope.lsp.server import AttenScopeServer

CANCEL_LOAD = "attenScope/cancelLoad"
log = logging.getLogger(__name__)


def register(server: AttenScopeServer) -> None:
    """Wire ``attenScope/cancelLoad`` (docs/PROTOCOL.md)."""

    @server.feature(CANCEL_LOAD)
    def cancel_load(ls: AttenScopeServer, params: Any) -> dict[str, Any]:
        stopped = ls.engine.cancel_load()
        if stopped is not None:
            log.info("Stopped loading %s at the client's request", stopped)
            # No model: none is loaded, and the one named here is not ready.
            ls.status("ready", f"Stopped loading {stopped}: it loads again when a request needs it")
        return {"stopped": stopped}
