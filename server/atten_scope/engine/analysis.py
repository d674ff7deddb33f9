"""Document analysis: tokens -> windowed capture, kept as data for the views (``views/``).

Files longer than ``max_tokens`` are analysed in overlapping windows of ``max_tokens`` tokens
that overlap by a quarter. Each token is *owned* by the first window that contains it, which
gives it the most left context (at least the overlap); its row is read from that window.

After an edit, the state of the unchanged token prefix is reused: a causal model's states for
tokens [0, p) do not depend on later tokens, so only tokens from the first changed one on are
recomputed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atten_scope.common import cancellation
from atten_scope.common.errors import DocumentError
from atten_scope.common.progress import ReportProgress, ignore_progress
from atten_scope.engine.aggregate import line_sums
from atten_scope.engine.capture import run_capture
from atten_scope.engine.context import Prefix, retokenized_ids, tokenize_with_prefix
from atten_scope.engine.model import LoadedModel, ModelInfo
from atten_scope.engine.positions import LineIndex
from atten_scope.engine.prediction import NO_NEXT, Head, Predictions, concatenate, next_logprobs, predict
from atten_scope.engine.storage import MemoryBudget, WindowShape
from atten_scope.engine.tokens import TokenizedDocument
from atten_scope.engine.window import CapturedWindow
from atten_scope.limits import MAX_TOKENS

DEFAULT_MAX_TOKENS = MAX_TOKENS.default
MAX_WINDOWS = 64  # beyond this many windows the rest of the file is not analysed (reported)
MAX_CHARACTERS = 4_000_000


LN2 = math.log(2.0)


@dataclass(frozen=True)
class Prediction:
    """What the model predicted after one token: its top next tokens (id, probability), best first,
    and the token that actually follows with its log-probability (nats) and rank (1: first choice);
    ``next_id`` is None after the document's last token (``next_logprob`` NaN, ``next_rank`` 0)."""

    top: list[tuple[int, float]]
    next_id: int | None
    next_logprob: float
    next_rank: int


def plan_windows(n: int, max_tokens: int) -> list[tuple[int, int]]:
    """Window bounds [start, end) covering n tokens, overlapping by max_tokens // 4."""
    if n <= max_tokens:
        return [(0, n)]
    stride = max_tokens - max_tokens // 4
    windows = []
    start = 0
    while True:
        end = min(start + max_tokens, n)
        windows.append((start, end))
        if end == n:
            return windows
        start += stride


def analysed_tokens(n: int, max_tokens: int) -> int:
    """How many of a document's ``n`` tokens an analysis covers (all, unless MAX_WINDOWS windows end first)."""
    return plan_windows(n, max_tokens)[:MAX_WINDOWS][-1][1] if n else 0


@dataclass
class Analysis:
    """One analysed version of a document: its tokens, the captured windows and who owns each token.

    It holds data and the rules that are facts about the document (ownership, sinks, lines); the
    views computed from it live in ``views/``.
    """

    document: TokenizedDocument
    windows: list[CapturedWindow]
    info: ModelInfo
    max_tokens: int
    truncated: bool = False
    elapsed_ms: float = 0.0
    reused_tokens: int = 0
    restored: bool = False  # read from the analysis cache on disk instead of run (analysis_cache.py)
    # The model's LM head, from which predictions are computed on demand (None: no predictions).
    head: Head | None = field(default=None, repr=False, compare=False)
    # The model that analysed it: views that recompute states from the tokens (flow, ALTI) run it.
    model: Any = field(default=None, repr=False, compare=False)
    lines: LineIndex = field(init=False)
    token_lines: np.ndarray = field(init=False)  # (tokens,) 0-based line of each token's start
    owners: np.ndarray = field(init=False)  # (tokens,) index of the window that owns each token
    _next_logprobs: np.ndarray | None = field(init=False, default=None, repr=False)
    _predictions: dict[int, Prediction | None] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.lines = LineIndex(self.document.text)
        self.token_lines = np.array([self.lines.line_of(s) for s in self.document.starts], dtype=np.int64)
        owners = np.zeros(self.token_count, dtype=np.int64)
        for w in range(len(self.windows) - 1, -1, -1):
            win = self.windows[w]
            owners[win.start : win.start + win.n] = w
        self.owners = owners

    @property
    def token_count(self) -> int:
        """Tokens analysed (all of them unless the document was truncated)."""
        return self.windows[-1].start + self.windows[-1].n if self.windows else 0

    def owner(self, token: int) -> tuple[CapturedWindow, int]:
        """The window that owns ``token`` and the token's index inside it."""
        win = self.windows[int(self.owners[token])]
        return win, token - win.start

    def owned_after(self, token: int) -> list[tuple[CapturedWindow, int, int]]:
        """For each window holding ``token``: (window, first, last), the local indices of the tokens
        from ``token`` on that the window owns (the rows that may attend to ``token`` there)."""
        found = []
        for w, win in enumerate(self.windows):
            if not win.start <= token < win.start + win.n:
                continue
            owned = np.nonzero(self.owners[win.start : win.start + win.n] == w)[0]
            owned = owned[owned >= token - win.start]
            if len(owned):
                found.append((win, int(owned[0]), int(owned[-1])))
        return found

    def sinks(self, win: CapturedWindow) -> list[int]:
        """Tokens that soak up attention in ``win``: its first token and any BOS-like special token."""
        found = {win.start}
        found.update(i for i in range(win.start, win.start + win.n) if self.document.special[i])
        return sorted(found)

    def own_weights(self, weights: np.ndarray) -> np.ndarray:
        """``weights`` (one value per token) with the context files' tokens (``context.py``) at 0: what
        sums over the document's lines and code units may hold. ``weights`` itself without context."""
        context = self.document.context
        if context is None or context.first >= len(weights):
            return weights
        out = weights.copy()
        out[context.first : context.end] = 0
        return out

    def line_weights(self, weights: np.ndarray) -> np.ndarray:
        """The sum of ``weights`` over each line of the document, W(l) = sum of w[k] over the document's
        own tokens k that start on line l (the context files' tokens count on no line)."""
        return line_sums(self.own_weights(weights), self.token_lines[: len(weights)], self.lines.line_count)

    def predicts(self, win: CapturedWindow) -> bool:
        """Whether predictions can be computed for ``win``'s rows: it kept its hidden rows and the
        model's head (still loaded) reproduces the model's logits of its last row (checked once)."""
        head = self.head
        if head is None or not head.alive:
            return False
        return win.agrees_with(head)

    def prediction(self, token: int) -> Prediction | None:
        """What the model predicted after ``token``, from the window that owns it: one row of the LM
        head, computed on first use and kept (None without predictions, see ``predicts``). The row
        before it (whose prediction rates this token: its surprisal) comes in the same product when
        the same window owns it, as the hover asks for both."""
        if token in self._predictions:
            return self._predictions[token]
        win = self.owner(token)[0]
        if not self.predicts(win) or self.head is None or win.hidden is None:
            self._predictions[token] = None
            return None
        tokens = [token]
        if token > 0 and token - 1 not in self._predictions and self.owner(token - 1)[0] is win:
            tokens.insert(0, token - 1)
        first = tokens[0] - win.start
        following = [win.following(first + i) for i in range(len(tokens))]
        rows = predict(
            self.head, win.hidden[first : first + len(tokens)], [NO_NEXT if f is None else f for f in following]
        )
        for i, at in enumerate(tokens):
            ids, probs = rows.top_ids[i].tolist(), rows.top_probs[i].tolist()
            top = [(int(v), float(p)) for v, p in zip(ids, probs, strict=True) if v >= 0]
            self._predictions[at] = Prediction(top, following[i], float(rows.next_logprob[i]), int(rows.next_rank[i]))
        return self._predictions[token]

    def owned_predictions(self) -> Predictions | None:
        """The predictions of every analysed token, each from the window that owns it, in token order
        (the LM head over every row: for a whole-document report); None when a window has none."""
        parts = []
        for w, win in enumerate(self.windows):
            if not self.predicts(win) or self.head is None or win.hidden is None:
                return None
            owned = np.nonzero(self.owners[win.start : win.start + win.n] == w)[0]
            if len(owned):  # owned tokens are contiguous
                first, end = int(owned[0]), int(owned[-1]) + 1
                following = [win.following(i) for i in range(first, end)]
                next_ids = [NO_NEXT if f is None else f for f in following]
                parts.append(predict(self.head, win.hidden[first:end], next_ids))
        return concatenate(parts) if parts else None

    def next_logprob(self, token: int) -> float:
        """log p(x_{token+1} | x_0..x_token) in nats from the window that owns ``token``: read from the
        rows filled by ``next_logprobs`` when there, else from ``prediction``; NaN after the
        document's last token and without predictions."""
        if self._next_logprobs is not None:
            return float(self._next_logprobs[token])
        win, local = self.owner(token)
        known = win.known_logprob(local)
        if known is not None:
            return known
        predicted = self.prediction(token)
        return predicted.next_logprob if predicted is not None else math.nan

    def next_logprobs(self, start: int = 0, end: int | None = None) -> np.ndarray:
        """(end - start,) float64: log p(x_{i+1} | x_0..x_i) in nats for the analysed tokens i in
        [start, end) (every token by default), from the window that owns token i; NaN after the
        document's last token and without predictions.

        The LM head runs over each window's owned rows in blocks (``Head.block_rows``), only over the
        rows asked for; each block is kept on its window as it is done, so work stopped at a
        ``cancellation.check()`` resumes where it stopped, and a later analysis that reuses the
        window (or its prefix) reads it. A range costs its own rows: on a file of 131,072 tokens the
        whole document's head takes minutes, a screenful milliseconds."""
        end = self.token_count if end is None else end
        whole = start == 0 and end == self.token_count
        if self._next_logprobs is not None:
            return self._next_logprobs[start:end]
        out = np.full(max(0, end - start), np.nan, dtype=np.float64)
        for w, win in enumerate(self.windows):
            owned = np.nonzero(self.owners[win.start : win.start + win.n] == w)[0]
            if not len(owned) or not self.predicts(win):
                continue
            first = max(int(owned[0]), start - win.start)
            stop = min(int(owned[-1]) + 1, end - win.start)
            if first >= stop:
                continue
            self._fill_logprobs(win, first, stop)
            if win.logprobs is not None:
                out[win.start + first - start : win.start + stop - start] = win.logprobs[first:stop].double().numpy()
        if whole:
            self._next_logprobs = out
        return out

    def _fill_logprobs(self, win: CapturedWindow, first: int, end: int) -> None:
        head, hidden = self.head, win.hidden
        if head is None or hidden is None:
            return
        step = head.block_rows()
        for start in range(first, end, step):
            stop = min(start + step, end)
            if not win.logprobs_missing(start, stop):
                continue
            cancellation.check()
            following = [NO_NEXT if f is None else f for f in (win.following(i) for i in range(start, stop))]
            win.keep_logprobs(start, next_logprobs(head, hidden[start:stop], following))

    def surprisal(self, token: int) -> float:
        """s = -log2 p(x_token | x_0..x_{token-1}) = -next_logprob(token - 1) / ln 2 bits; NaN for the
        first token (nothing precedes it) and without predictions."""
        return -self.next_logprob(token - 1) / LN2 if token > 0 else math.nan

    def surprisal_bits(self) -> np.ndarray:
        """(tokens,) float64: the surprisal of each token given the text before it,
        s_i = -log2 p(x_i | x_0..x_{i-1}) = -next_logprob_{i-1} / ln 2, in bits; NaN for the first
        token (nothing precedes it) and where no prediction was kept."""
        return self.surprisal_between(0, self.token_count)

    def surprisal_between(self, start: int, end: int) -> np.ndarray:
        """``surprisal_bits()[start:end]``, the LM head run over those tokens' predecessors only."""
        out = np.full(max(0, end - start), np.nan, dtype=np.float64)
        first = max(start, 1)
        if first < end:
            if start == 0 and end == self.token_count:
                logprobs = self.next_logprobs()[first - 1 : end - 1]  # the whole, kept
            else:
                logprobs = self.next_logprobs(first - 1, end - 1)
            out[first - start :] = -logprobs / LN2
        return out

    def check_token(self, token: int) -> None:
        if not 0 <= token < self.token_count:
            raise DocumentError(f"Token {token} is outside the analysed document ({self.token_count} tokens).")


def first_difference(old: list[int], new: list[int]) -> int:
    limit = min(len(old), len(new))
    for index in range(limit):
        if old[index] != new[index]:
            return index
    return limit


def unchanged_tokens(analysis: Analysis, tokenizer: Any, text: str) -> int:
    """How many of ``analysis``'s tokens are still exact for ``text``, a later version of its document.

    A causal model's state for tokens [0, p) depends on nothing after them, so every token before
    the first whose id differs keeps its rows, columns and ranges (the text before it is the same).
    Compared by ids, not characters: an edit can re-split the token in front of it.
    """
    if text == analysis.document.text:
        return analysis.token_count
    ids = retokenized_ids(analysis.document, tokenizer, text)  # after the same context files, if any
    return min(first_difference(analysis.document.ids, ids), analysis.token_count)


def tokenize_text(loaded: LoadedModel, text: str, context: Prefix | None = None) -> TokenizedDocument:
    """``text`` tokenized for ``loaded``, read after ``context`` (context files) when given."""
    if len(text) > MAX_CHARACTERS:
        raise DocumentError(
            f"The file is too large to analyse ({len(text):,} characters; the limit is {MAX_CHARACTERS:,})."
        )
    if context is not None and not text:
        raise DocumentError("The file is empty: there is nothing to analyse.")
    return tokenize_with_prefix(loaded.tokenizer, text, context)


def covered(spans: list[tuple[int, int]]) -> int:
    """How many tokens the [start, end) ``spans`` cover, each counted once (windows overlap)."""
    count, reach = 0, 0
    for start, end in sorted(spans):
        if end > max(start, reach):
            count += end - max(start, reach)
            reach = end
    return count


def run_analysis(
    loaded: LoadedModel,
    text: str,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    previous: Analysis | None = None,
    progress: ReportProgress = ignore_progress,
    budget: MemoryBudget | None = None,
    context: Prefix | None = None,
) -> Analysis:
    """Analyse ``text``; with ``previous`` (an analysis of an earlier version) reuse its unchanged prefix.
    With ``context``, the model reads those context files first (``context.py``): the same files'
    state is reused as any unchanged token prefix is.

    Stops with ``Cancelled`` at the next layer once the work running on this thread is cancelled
    (``cancellation.cancellable``). With ``budget``, each window is stored compactly once captured
    and windows beyond the budget are spilled to disk (``storage.py``); an analysis that cannot fit
    even then is refused before the model runs. Without it, windows stay as captured (float32).
    """
    if max_tokens < MAX_TOKENS.minimum:
        raise ValueError(f"maxTokens must be at least {MAX_TOKENS.minimum}")
    began = time.perf_counter()
    document = tokenize_text(loaded, text, context)
    if len(document) == 0:
        raise DocumentError("The file is empty: there is nothing to analyse.")
    plan = plan_windows(len(document), max_tokens)
    truncated = len(plan) > MAX_WINDOWS
    plan = plan[:MAX_WINDOWS]
    reusable = previous if previous is not None and previous.max_tokens == max_tokens else None
    changed = first_difference(reusable.document.ids, document.ids) if reusable else 0
    old_windows = {(w.start, w.n): w for w in reusable.windows} if reusable else {}
    old_by_start = {w.start: w for w in reusable.windows} if reusable else {}
    total = sum(end - start for start, end in plan)
    layers = loaded.info.layers
    shape = window_shape(loaded)
    if budget is not None:
        budget.check_fits(shape, [end - start for start, end in plan])

    windows: list[CapturedWindow] = []
    done = 0
    reused: list[tuple[int, int]] = []  # spans of document tokens whose state was copied, not recomputed
    for number, (start, end) in enumerate(plan, start=1):
        cancellation.check()
        ids = document.ids[start:end]
        next_id = document.ids[end] if end < len(document) else None
        same = old_windows.get((start, end - start))
        if same is not None and changed >= end and same.next_id == next_id:
            windows.append(same)  # every token of this window and the one after it are unchanged
            reused.append((start, end))
        else:
            prefix = old_by_start.get(start)
            keep = max(0, min(changed, end) - start) if prefix is not None else 0
            # Windows overlap: what a person reads counts each token once, in the file's token count.
            span = f"tokens {start + keep:,}-{end - 1:,} of {len(document):,}"
            if len(plan) > 1:
                where = f"window {number} of {len(plan)}: {span}"
                progress(done / total, f"Window {number} of {len(plan)}: running the model over {span}")
            else:
                where = span if keep else f"{len(document):,} tokens"
                progress(done / total, f"Running the model over {span}")
            step = _layer_step(progress, done, end - start, total, layers, where)
            if budget is not None:
                budget.make_room(shape.capture_bytes(end - start))
            window = run_capture(
                loaded.model, ids, start, prefix=prefix, reuse=keep, check_cancelled=step, next_id=next_id
            )
            if budget is not None:
                budget.admit(window)
            reused.append((start, end - window.recomputed))
            windows.append(window)
        done += end - start
    progress(1.0, "Analysis done")
    return Analysis(
        document=document,
        windows=windows,
        info=loaded.info,
        max_tokens=max_tokens,
        truncated=truncated,
        elapsed_ms=(time.perf_counter() - began) * 1000,
        reused_tokens=covered(reused),
        head=Head.of(loaded.model),
        model=loaded.model,
    )


def window_shape(loaded: LoadedModel) -> WindowShape:
    """The sizes of the windows ``loaded`` captures, for the memory budget."""
    info = loaded.info
    parameter = next(loaded.model.parameters(), None)
    size = parameter.element_size() if parameter is not None else 4
    head = Head.of(loaded.model)
    return WindowShape(info.layers, info.heads, info.kv_heads, info.head_dim, size, head.hidden_size if head else 0)


def _layer_step(
    progress: ReportProgress, done: int, size: int, total: int, layers: int, where: str
) -> Callable[[], None]:
    """Called before each layer of a forward pass: honours cancellation and reports smooth progress.

    ``done``, ``size`` and ``total`` are tokens run (overlapping windows count their overlap twice),
    for the fraction only; ``where`` is what the message says of the tokens, for a person."""
    seen = [0]
    about = f" ({where})" if where else ""

    def step() -> None:
        cancellation.check()
        if layers > 0:
            fraction = (done + size * min(seen[0], layers) / layers) / total
            progress(fraction, f"Running layer {min(seen[0] + 1, layers)} of {layers}{about}")
        seen[0] += 1

    return step
