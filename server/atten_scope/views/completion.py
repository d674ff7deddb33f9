"""Complete the code at the cursor, optionally without some lines, and keep the completion analysable.

The completion continues the document's text before the cursor (``engine.generation``). With
``without_lines``, whole line ranges [first, last] (0-based, inclusive, every one before the cursor's
line) are removed first, bottom up, as ``removal.remove_lines`` removes one range: the text becomes
t' and the cursor's code-point offset o moves to o' = o - (characters removed before it). The
model reads left to right, so the state of the tokens before the first removed line is reused
from the document's analysis and only the rest of the context runs again.

The result's analysis covers t'[:o'] followed by the completion: views asked about it take
positions in that text (``Completion.text``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from atten_scope.common.errors import DocumentError, InvalidRequest
from atten_scope.common.progress import ReportProgress, ignore_progress
from atten_scope.engine.analysis import Analysis
from atten_scope.engine.generation import Generation, GenerationSettings, generate
from atten_scope.engine.model import LoadedModel
from atten_scope.engine.storage import MemoryBudget
from atten_scope.views.removal import remove_lines


@dataclass(frozen=True)
class EditedContext:
    """The text the completion continues: the document without ``removed`` line ranges, and where the
    cursor is in it (a code-point offset)."""

    text: str
    cursor: int
    removed: tuple[tuple[int, int], ...]  # the line ranges removed, top to bottom
    removed_chars: int

    @property
    def edited(self) -> bool:
        return bool(self.removed)


@dataclass
class Completion:
    """A completion at the cursor and the analysis of context + completion it is kept as."""

    generation: Generation
    context: EditedContext
    cursor_line: int  # the cursor's line in the document (0-based)

    @property
    def analysis(self) -> Analysis:
        return self.generation.analysis

    @property
    def before_line(self) -> int:
        """The cursor's line in the completion analysis' text (0-based): lines [0, before_line) are
        the context lines before it, which a context attribution scores."""
        return self.generation.context.count("\n")

    def document_line(self, line: int) -> int:
        """The document's line (0-based) of line ``line`` of the edited text (the removed lines skipped)."""
        for first, last in self.context.removed:
            if line >= first:
                line += last - first + 1
        return line


def edit_context(text: str, cursor: int, without_lines: tuple[tuple[int, int], ...] | None) -> EditedContext:
    """``text`` without the line ranges ``without_lines`` and the cursor's offset in what is left;
    refused when a range overlaps another or reaches the cursor's line."""
    if not 0 <= cursor <= len(text):
        raise InvalidRequest(f"The cursor (character {cursor}) is past the end of the file ({len(text)} characters).")
    if not without_lines:
        return EditedContext(text, cursor, (), 0)
    ranges = sorted(without_lines)
    cursor_line = text.count("\n", 0, cursor)
    for (first, last), (after, _) in itertools.pairwise(ranges):
        if after <= last:
            raise InvalidRequest(
                f"The lines to remove overlap ({first + 1}-{last + 1} and line {after + 1}): give each once."
            )
    first, last = ranges[-1]
    if last >= cursor_line:
        raise InvalidRequest(
            f"The lines to remove ({first + 1}-{last + 1}) reach the cursor's line ({cursor_line + 1}) or pass it: "
            "the completion depends only on the lines before the cursor, so remove lines above it."
        )
    edited, removed_chars = text, 0
    for first, last in reversed(ranges):  # bottom up: the offsets of the ranges above stay valid
        removal = remove_lines(edited, first, last)
        edited, removed_chars = removal.edited, removed_chars + removal.removed_chars
    return EditedContext(edited, cursor - removed_chars, tuple(ranges), removed_chars)


def complete(
    analysis: Analysis,
    loaded: LoadedModel,
    cursor: int,
    settings: GenerationSettings | None = None,
    without_lines: tuple[tuple[int, int], ...] | None = None,
    progress: ReportProgress = ignore_progress,
    budget: MemoryBudget | None = None,
) -> Completion:
    """Complete ``analysis``'s document at code point ``cursor`` (without ``without_lines``, if given),
    reusing the analysis' state of the unchanged context. Refused with a sentence: a cursor at the
    start of the file (nothing to continue: a completion needs code before it) or past its end,
    settings outside their limits, line ranges that reach the cursor, and a completion whose window
    cannot fit the memory budget."""
    text = analysis.document.text
    context = edit_context(text, cursor, without_lines)
    if context.cursor == 0:
        raise InvalidRequest("The cursor is at the start of the file: there is no code before it to continue.")
    try:
        generation = generate(
            loaded,
            context.text,
            context.cursor,
            settings,
            previous=analysis,
            max_tokens=analysis.max_tokens,
            progress=progress,
            budget=budget,
        )
    except DocumentError as error:
        raise DocumentError(f"The completion cannot be made: {error}") from error
    return Completion(generation, context, text.count("\n", 0, cursor))
