"""``$/progress`` for a client-supplied ``workDoneToken``: the server's reporter of ``progress.ReportProgress``."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from lsprotocol import types

if TYPE_CHECKING:
    from atten_scope.lsp.server import AttenScopeServer


class WorkDoneProgress:
    """Begin / report / end of one piece of work; ``report`` may be called from a worker thread.

    The client's cancel button (``window/workDoneProgress/cancel``) sets ``cancel``, the same
    event that ``$/cancelRequest`` sets, so the work stops at its next check either way.
    """

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
        progress.tokens[self.token].add_done_callback(lambda _: self.cancel.set())

    def __call__(self, fraction: float | None, message: str) -> None:
        if self.token is None:
            return
        percentage = None if fraction is None else max(0, min(100, int(fraction * 100)))
        if percentage is not None and percentage == self.last:
            return
        self.last = percentage if percentage is not None else self.last
        value = types.WorkDoneProgressReport(message=message, percentage=percentage, cancellable=True)
        self.ls.call_on_loop(self.ls.work_done_progress.report, self.token, value)

    def end(self, message: str) -> None:
        if self.token is None:
            return
        future = self.ls.work_done_progress.tokens.pop(self.token, None)
        if future is not None and not future.done():
            future.set_result(None)  # done before removal, so the callback cannot fire later
        self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
