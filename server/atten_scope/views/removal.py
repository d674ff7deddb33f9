"""What if these lines were removed? The model run again on the document without them.

Removing whole lines [first, last] (0-based, inclusive, with their line breaks) from a text t
gives t' = t[:a] + t[b:], where [a, b) is the removed span of code points. A causal model's state
for the tokens before the first one whose id differs between the two tokenizations does not
depend on what follows, so ``run_analysis(..., previous=analysis)`` copies it and recomputes only
the rest: about the tokens from the removed lines to the end.

The prediction at the cursor is compared at the same place in both texts: the cursor's offset o
(after the removed span, o >= b) is o - (b - a) in t'. For that token i (i' in t') the answer is
the model's next-token distribution before, p(. | x_0..x_i), and after, p(. | x'_0..x'_i'):
its top tokens, and the probability and rank of the token that actually follows.

The optional heat is exact, not an estimate: for every token j of t after the removed span that
is also a token of t' (same id, its start shifted by b - a, found by aligning the two token
sequences from the end), the change in its surprisal

    delta_j = s'_j' - s_j,    s_j = -log2 p(x_j | x_0..x_{j-1}),  s'_j' = -log2 p(x'_j' | x'_0..x'_{j'-1})

in bits. delta_j > 0: the token is more surprising without the lines (they helped predict it);
delta_j < 0: less. Tokens whose alignment breaks (the join re-split them) are left out.

The analysis of t' is hypothetical: it is never stored as the document's and is dropped once
the answer is built.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from atten_scope.common.errors import InvalidRequest
from atten_scope.common.progress import ReportProgress, ignore_progress
from atten_scope.engine.analysis import Analysis, Prediction, run_analysis
from atten_scope.engine.context import prefix_of
from atten_scope.engine.model import LoadedModel
from atten_scope.engine.positions import LineIndex


@dataclass(frozen=True)
class LineRemoval:
    """Lines [first, last] of a text removed: the removed span [start, end) in code points and the text without it."""

    first: int
    last: int
    start: int
    end: int
    edited: str

    @property
    def removed_chars(self) -> int:
        return self.end - self.start


def remove_lines(text: str, first: int, last: int) -> LineRemoval:
    """``text`` without its lines ``first``..``last`` (0-based, inclusive) and their line breaks.

    The last line of a text has no line break of its own: removing it leaves the break before it
    (the text then ends with one)."""
    lines = LineIndex(text)
    count = lines.line_count
    if not 0 <= first <= last:
        raise InvalidRequest(f"The lines to remove must be 0 <= first <= last (got {first}-{last}).")
    if last >= count:
        raise InvalidRequest(f"Line {last + 1} is past the end of the document ({count} lines).")
    if first == 0 and last == count - 1:
        raise InvalidRequest("That would remove every line of the document: nothing would be left to predict.")
    start = lines.offset(first, 0)
    end = lines.offset(last + 1, 0) if last + 1 < count else len(text)
    return LineRemoval(first, last, start, end, text[:start] + text[end:])


@dataclass
class RemovalEffect:
    """How removing lines changed the prediction at one token, and (``heat``) every later surprisal."""

    removal: LineRemoval
    token: int  # the cursor's token in the document
    edited: Analysis  # the hypothetical analysis of the edited text: drop the effect once answered
    edited_token: int  # the cursor's token in the edited document
    before: Prediction | None  # the prediction after the token in the document
    after: Prediction | None  # ... and in the edited document
    tokens: int  # tokens of the edited document analysed
    reused: int  # of which copied from the document's analysis
    elapsed_ms: float
    # Per heat token: its index in the document, surprisal before and after (bits).
    heat: list[tuple[int, float, float]] | None = field(default=None)

    @property
    def recomputed(self) -> int:
        return self.tokens - self.reused


def aligned_suffix(analysis: Analysis, edited: Analysis, removal: LineRemoval) -> list[tuple[int, int]]:
    """Pairs (j, j') of analysed tokens, j of the document after the removed span and j' of the
    edited document, with the same id and start (shifted by the removed length), walking both
    token sequences back from their ends while they agree; in document order."""
    old, new = analysis.document, edited.document
    shift = removal.removed_chars
    pairs = []
    j, k = len(old) - 1, len(new) - 1
    while j >= 0 and k >= 0 and old.starts[j] >= removal.end:
        if old.ids[j] != new.ids[k] or old.starts[j] - shift != new.starts[k]:
            break
        if j < analysis.token_count and k < edited.token_count:
            pairs.append((j, k))
        j, k = j - 1, k - 1
    pairs.reverse()
    return pairs


def removal_effect(
    analysis: Analysis,
    loaded: LoadedModel,
    first: int,
    last: int,
    offset: int,
    heat: bool = False,
    progress: ReportProgress = ignore_progress,
) -> RemovalEffect:
    """Remove lines ``first``..``last`` of ``analysis``'s document, analyse the rest reusing the
    cached state before them, and compare the prediction after the token at ``offset`` (a code
    point of the document, after the removed lines); with ``heat``, every later token's surprisal
    too (module doc). Stops with ``Cancelled`` at the next layer or row block."""
    began = time.perf_counter()
    text = analysis.document.text
    removal = remove_lines(text, first, last)
    if removal.start <= offset < removal.end:
        raise InvalidRequest(
            f"The cursor is inside the lines to remove ({first + 1}-{last + 1}): put it after them, "
            "on the token whose prediction should be compared."
        )
    if offset < removal.start:
        raise InvalidRequest(
            f"The cursor is before the lines to remove ({first + 1}-{last + 1}): the model reads left to right, "
            "so its prediction there does not depend on them. Put the cursor after them."
        )
    token = analysis.document.token_at(offset)
    analysis.check_token(token)
    edited = run_analysis(
        loaded,
        removal.edited,
        analysis.max_tokens,
        previous=analysis,
        progress=progress,
        context=prefix_of(analysis.document),  # the same context files, whose state is reused
    )
    moved = edited.document.token_at(offset - removal.removed_chars)
    if moved >= edited.token_count:
        raise InvalidRequest("Without those lines the cursor's token is past the part of the file that is analysed.")
    effect = RemovalEffect(
        removal=removal,
        token=token,
        edited=edited,
        edited_token=moved,
        before=analysis.prediction(token),
        after=edited.prediction(moved),
        tokens=edited.token_count,
        reused=edited.reused_tokens,
        elapsed_ms=0.0,
    )
    if heat:
        progress(None, "Computing every later token's surprisal without the lines")
        pairs = aligned_suffix(analysis, edited, removal)
        old_bits, new_bits = analysis.surprisal_bits(), edited.surprisal_bits()
        effect.heat = [
            (j, float(old_bits[j]), float(new_bits[k]))
            for j, k in pairs
            if math.isfinite(old_bits[j]) and math.isfinite(new_bits[k])
        ]
    effect.elapsed_ms = (time.perf_counter() - began) * 1000
    return effect
