"""Document analysis: tokens -> windowed capture -> refined, aggregated attention on demand.

Files longer than ``max_tokens`` are analysed in overlapping windows of ``max_tokens`` tokens
that overlap by a quarter. Each token is *owned* by the first window that contains it, which
gives it the most left context (at least the overlap); its row is read from that window.

After an edit, the state of the unchanged token prefix is reused: a causal model's states for
tokens [0, p) do not depend on later tokens, so only tokens from the first changed one on are
recomputed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from . import cancellation
from .aggregate import combine, drop_and_renormalise, line_sums, rollout_row
from .capture import CapturedWindow, run_capture
from .errors import Cancelled, DocumentError
from .model import LoadedModel, ModelInfo
from .options import ViewOptions
from .positions import LineIndex
from .refine import norm_column, raw_column, refined_rows, row_blocks
from .tokens import TokenizedDocument, tokenize

DEFAULT_MAX_TOKENS = 4096
MAX_WINDOWS = 64  # beyond this many windows the rest of the file is not analysed (reported)
MAX_CHARACTERS = 4_000_000

ProgressFn = Callable[[float, str], None]


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


@dataclass
class Analysis:
    document: TokenizedDocument
    windows: list[CapturedWindow]
    info: ModelInfo
    max_tokens: int
    truncated: bool = False
    elapsed_ms: float = 0.0
    reused_tokens: int = 0
    lines: LineIndex = field(init=False)
    token_lines: np.ndarray = field(init=False)
    _owner: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.lines = LineIndex(self.document.text)
        self.token_lines = np.array([self.lines.line_of(s) for s in self.document.starts], dtype=np.int64)
        owner = np.zeros(self.token_count, dtype=np.int64)
        for w in range(len(self.windows) - 1, -1, -1):
            win = self.windows[w]
            owner[win.start : win.start + win.n] = w
        self._owner = owner

    @property
    def token_count(self) -> int:
        """Tokens analysed (all of them unless the document was truncated)."""
        return self.windows[-1].start + self.windows[-1].n if self.windows else 0

    def owner(self, token: int) -> tuple[CapturedWindow, int]:
        win = self.windows[int(self._owner[token])]
        return win, token - win.start

    def sinks(self, win: CapturedWindow) -> list[int]:
        """Tokens that soak up attention in ``win``: its first token and any BOS-like special token."""
        found = {win.start}
        found.update(i for i in range(win.start, win.start + win.n) if self.document.special[i])
        return sorted(found)

    def _layers(self, options: ViewOptions) -> torch.Tensor:
        chosen = options.layers if options.layers is not None else range(self.info.layers)
        return torch.tensor(list(chosen), dtype=torch.long)

    def _heads(self, options: ViewOptions) -> torch.Tensor:
        chosen = options.heads if options.heads is not None else range(self.info.heads)
        return torch.tensor(list(chosen), dtype=torch.long)

    def _head_mean_blocks(
        self, win: CapturedWindow, options: ViewOptions, layer: int, first: int, count: int
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """(start, rows) blocks of one layer's head-mean refined rows [first, first+count): (size, start+size)."""
        heads = self._heads(options)
        for start, size in row_blocks(first, count):
            cancellation.check()
            rows = refined_rows(win, torch.tensor([layer]), start, size, options.refinement)
            yield start, rows[:, heads].mean(dim=(0, 1))

    def _layer_matrices(self, win: CapturedWindow, options: ViewOptions, first: int, count: int) -> list[torch.Tensor]:
        """Head-mean refined rows [first, first+count) of each selected layer, for rollout: (n, n) each."""
        matrices = []
        for layer in self._layers(options).tolist():
            matrix = torch.zeros((win.n, win.n))
            for start, block in self._head_mean_blocks(win, options, layer, first, count):
                matrix[start : start + block.shape[0], : block.shape[1]] = block
            matrices.append(matrix)
        return matrices

    def _rollout_row(self, win: CapturedWindow, options: ViewOptions, local: int) -> torch.Tensor:
        """Row ``local`` of the rollout (see ``aggregate.rollout_row``), streamed block by block.

        v <- 0.5 v A_l + 0.5 v from the last layer to the first, where v A_l = sum_r v_r A_l[r, :]
        is accumulated over row blocks: memory is one block, not layers x n x n.
        """
        vector = torch.zeros(local + 1, dtype=torch.float64)
        vector[local] = 1.0
        for layer in reversed(self._layers(options).tolist()):
            mixed = torch.zeros_like(vector)
            for start, block in self._head_mean_blocks(win, options, layer, 0, local + 1):
                size, sources = block.shape
                mixed[:sources] += vector[start : start + size] @ block.double()
            vector = 0.5 * mixed + 0.5 * vector
        return vector.float()

    def _rollout_column(self, win: CapturedWindow, options: ViewOptions, local: int, last: int) -> torch.Tensor:
        """Column ``local`` of the rollout R = A_hat_L ... A_hat_1 for rows local..last, streamed.

        v <- 0.5 A_l v + 0.5 v from the first layer to the last; v lives on rows local..last, and a
        row r of A_l v needs only A_l[r, local..r].
        """
        vector = torch.zeros(last + 1 - local, dtype=torch.float64)
        vector[0] = 1.0
        for layer in self._layers(options).tolist():
            mixed = torch.zeros_like(vector)
            for start, block in self._head_mean_blocks(win, options, layer, local, last + 1 - local):
                size, sources = block.shape
                mixed[start - local : start - local + size] = block[:, local:].double() @ vector[: sources - local]
            vector = 0.5 * mixed + 0.5 * vector
        return vector.float()

    def _aggregated_rows(
        self, win: CapturedWindow, options: ViewOptions, first: int, count: int, column: int | None = None
    ) -> torch.Tensor:
        """Aggregated refined rows [first, first+count) of ``win`` (not rollout): (count, first+count),
        or only their entries at ``column``: (count,)."""
        layers, heads = self._layers(options), self._heads(options)
        if column is not None and options.refinement in ("raw", "norm") and options.aggregate != "headMax":
            # Linear aggregates of raw or norm rows: the column comes from q, k, lse (and cached
            # norm totals) without rebuilding any row.
            column_of = raw_column if options.refinement == "raw" else norm_column
            values = column_of(win, layers, column, first, count)[:, heads]
            return combine(values[..., None], options.aggregate)[:, 0]
        blocks = []
        for start, size in row_blocks(first, count):
            cancellation.check()
            combined = combine(refined_rows(win, layers, start, size, options.refinement)[:, heads], options.aggregate)
            if column is not None:
                blocks.append(combined[:, column])
            else:
                blocks.append(torch.nn.functional.pad(combined, (0, first + count - start - size)))
        return torch.cat(blocks, dim=0)

    def weights(self, token: int, options: ViewOptions) -> np.ndarray:
        """The attention vector of ``token`` over all tokens of the document, summing to 1.

        ``attendsTo``: row i (what token i draws on). ``attendedBy``: column j (which later tokens
        draw on j), normalised over those tokens.
        """
        self._check_token(token)
        out = np.zeros(self.token_count, dtype=np.float64)
        dropped: list[int] = []
        if options.direction == "attendsTo":
            win, local = self.owner(token)
            if options.aggregate == "rollout":
                row = self._rollout_row(win, options, local)
            else:
                row = self._aggregated_rows(win, options, local, 1)[0]
            out[win.start : win.start + local + 1] = row.double().numpy()
            dropped = self.sinks(win)
        else:
            for w, win in enumerate(self.windows):
                if not win.start <= token < win.start + win.n:
                    continue
                owned = np.nonzero(self._owner[win.start : win.start + win.n] == w)[0]
                local = token - win.start
                owned = owned[owned >= local]
                if len(owned) == 0:
                    continue
                first, last = int(owned[0]), int(owned[-1])
                if options.aggregate == "rollout":
                    values = self._rollout_column(win, options, local, last)[first - local :]
                else:
                    values = self._aggregated_rows(win, options, first, last + 1 - first, column=local)
                out[win.start + first : win.start + last + 1] = values.double().numpy()
                dropped += [s for s in self.sinks(win) if s != token]
        if not options.drop_sink:
            dropped = []
        return drop_and_renormalise(out, dropped)

    def head_rows(self, token: int, refinement: str) -> tuple[np.ndarray, int]:
        """Refined rows of every layer and head for ``token``: ((L, H, n), window start)."""
        self._check_token(token)
        win, local = self.owner(token)
        rows = refined_rows(win, torch.arange(self.info.layers), local, 1, refinement)[:, :, 0]
        return rows.double().numpy(), win.start

    def matrix(self, options: ViewOptions, first: int, count: int) -> np.ndarray:
        """Aggregated refined rows for tokens [first, first+count) restricted to the same sources: (count, count).

        Sinks are zeroed and rows renormalised when ``drop_sink`` is set.
        """
        out = np.zeros((count, count), dtype=np.float64)
        token = first
        while token < first + count:
            w = int(self._owner[token])
            win = self.windows[w]
            end = token
            while end < first + count and int(self._owner[end]) == w:
                end += 1
            local, size = token - win.start, end - token
            if options.aggregate == "rollout":
                matrices = self._layer_matrices(win, options, 0, local + size)
                block = torch.stack([rollout_row(matrices, r)[: local + size] for r in range(local, local + size)])
            else:
                block = self._aggregated_rows(win, options, local, size)
            block_np = block.double().numpy()
            if options.drop_sink:
                for s in self.sinks(win):
                    if s - win.start < block_np.shape[1]:
                        block_np[:, s - win.start] = 0.0
                totals = block_np.sum(axis=1, keepdims=True)
                block_np = np.divide(block_np, totals, out=np.zeros_like(block_np), where=totals > 0)
            lo = max(first, win.start)
            out[token - first : end - first, lo - first : end - first] = block_np[:, lo - win.start : end - win.start]
            token = end
        return out

    def line_weights(self, weights: np.ndarray) -> np.ndarray:
        return line_sums(weights, self.token_lines[: len(weights)], self.lines.line_count)

    def _check_token(self, token: int) -> None:
        if not 0 <= token < self.token_count:
            raise DocumentError(f"Token {token} is outside the analysed document ({self.token_count} tokens).")


def first_difference(old: list[int], new: list[int]) -> int:
    limit = min(len(old), len(new))
    for index in range(limit):
        if old[index] != new[index]:
            return index
    return limit


class Analyzer:
    """Runs analyses with one loaded model."""

    def __init__(self, loaded: LoadedModel, max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        if max_tokens < 16:
            raise ValueError("maxTokens must be at least 16")
        self.loaded = loaded
        self.max_tokens = max_tokens

    def tokenize(self, text: str) -> TokenizedDocument:
        if len(text) > MAX_CHARACTERS:
            raise DocumentError(
                f"The file is too large to analyse ({len(text):,} characters; the limit is {MAX_CHARACTERS:,})."
            )
        return tokenize(self.loaded.tokenizer, text)

    def analyze(
        self,
        text: str,
        previous: Analysis | None = None,
        progress: ProgressFn | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> Analysis:
        """Analyse ``text``; with ``previous`` (an analysis of an earlier version) reuse its unchanged prefix."""
        began = time.perf_counter()
        document = self.tokenize(text)
        if len(document) == 0:
            raise DocumentError("The file is empty: there is nothing to analyse.")
        plan = plan_windows(len(document), self.max_tokens)
        truncated = len(plan) > MAX_WINDOWS
        plan = plan[:MAX_WINDOWS]
        reusable = previous if previous is not None and previous.max_tokens == self.max_tokens else None
        changed = first_difference(reusable.document.ids, document.ids) if reusable else 0
        old_windows = {(w.start, w.n): w for w in reusable.windows} if reusable else {}
        old_by_start = {w.start: w for w in reusable.windows} if reusable else {}
        total = sum(end - start for start, end in plan)

        def check() -> None:
            if cancelled is not None and cancelled():
                raise Cancelled()

        windows: list[CapturedWindow] = []
        done = 0
        reused = 0
        for start, end in plan:
            check()
            ids = document.ids[start:end]
            same = old_windows.get((start, end - start))
            if same is not None and changed >= end:
                windows.append(same)  # every token of this window is unchanged
                reused += end - start
            else:
                prefix = old_by_start.get(start)
                keep = max(0, min(changed, end) - start) if prefix is not None else 0
                if progress is not None:
                    progress(done / total, f"Running the model over tokens {start + keep}-{end} of {len(document)}")
                step = _layer_step(cancelled, progress, done, end - start, total, self.loaded.info.layers)
                window = run_capture(self.loaded.model, ids, start, prefix=prefix, reuse=keep, check_cancelled=step)
                reused += (end - start) - window.recomputed
                windows.append(window)
            done += end - start
        if progress is not None:
            progress(1.0, "Analysis done")
        return Analysis(
            document=document,
            windows=windows,
            info=self.loaded.info,
            max_tokens=self.max_tokens,
            truncated=truncated,
            elapsed_ms=(time.perf_counter() - began) * 1000,
            reused_tokens=reused,
        )


def _layer_step(
    cancelled: Callable[[], bool] | None,
    progress: ProgressFn | None,
    done: int,
    size: int,
    total: int,
    layers: int,
) -> Callable[[], None]:
    """Called before each layer of a forward pass: honours cancellation and reports smooth progress."""
    seen = [0]

    def step() -> None:
        if cancelled is not None and cancelled():
            raise Cancelled()
        if progress is not None and layers > 0:
            fraction = (done + size * min(seen[0], layers) / layers) / total
            progress(fraction, f"Running layer {min(seen[0] + 1, layers)} of {layers}")
        seen[0] += 1

    return step
