"""The one progress type: model loading, analysis, the CLI's bar and the editor's ``$/progress``.

A reporter is called with the fraction done (0..1, or ``None`` where there is no measure, as
while a model loads) and a sentence for the user. It may be called from a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable

ReportProgress = Callable[[float | None, str], None]


def ignore_progress(fraction: float | None, message: str) -> None:
    """A reporter for callers that show no progress."""
