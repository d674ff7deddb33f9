"""Teacher-forced log-probabilities of a completion when lines of its context are removed.

The context is a text whose first ``lines`` lines (each with its line break) may be removed; what
follows them (the start of the cursor's line) always stays. For a keep-mask z in {0, 1}^lines the
edited context is the kept lines joined, then that tail; with its ids c(z) (tokenized as the
model reads a document) and the completion's ids y_1..y_C (fixed: teacher forcing),

    f(z) = log p(y | c(z)) = sum_t log p(y_t | c(z), y_1..y_{t-1})      in nats.

A context left empty reads as the model's start token (``start_ids``): "no context" is
f(0) = log p(y | BOS), one short pass.

Reuse. A causal model's keys and values of the tokens before the first id where c(z) differs
from the full context's c(1) do not depend on what follows, so they are read from a cache of one
pass over c(1): an ablation computes only the tokens from its first removed line on. Ablations
run in batches, padded on the right: a causal row never reads the padding after it, so no mask is
needed and each row equals its own pass (up to the kernels' rounding). A batch reuses the
shortest unchanged prefix of its rows; masks are sorted by that prefix so that batches share most.

The LM head runs only over the rows that predict a completion token (the model's vocabulary is
large: the head over every row of a batch would cost more than the layers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import torch

from atten_scope.common import cancellation
from atten_scope.common.progress import ReportProgress, ignore_progress
from atten_scope.engine.analysis import first_difference
from atten_scope.engine.architecture import hidden_states_module
from atten_scope.engine.positions import LineIndex
from atten_scope.engine.prediction import Head, next_logprobs

MAX_BATCH = 16  # rows of one batched pass
MAX_BATCH_TOKENS = 4096  # new tokens of one batched pass: its activations stay a few hundred MB


def start_ids(model: Any) -> list[int]:
    """What a sequence with no context begins with: the model's BOS token, else its EOS token (the
    tokenizers of some models add no BOS to a document; the first prediction still needs a row)."""
    config = model.config.get_text_config()
    for name in ("bos_token_id", "eos_token_id"):
        value = getattr(config, name, None)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, int):
            return [value]
    raise ValueError("the model declares neither a BOS nor an EOS token: a completion without context has no start")


@dataclass(frozen=True)
class ContextLines:
    """A context text and the code-point spans [start, end) of its maskable lines, line breaks included."""

    text: str
    spans: tuple[tuple[int, int], ...]

    @staticmethod
    def of(text: str, lines: int | None = None) -> ContextLines:
        """The first ``lines`` lines of ``text`` as maskable (default: every line that ends with a
        line break; the last, unfinished one is the cursor's)."""
        index = LineIndex(text)
        complete = index.line_count - 1
        lines = complete if lines is None else lines
        if not 0 <= lines <= complete:
            raise ValueError(f"the context has {complete} complete lines, not {lines}")
        starts = [index.offset(line, 0) for line in range(lines + 1)]
        return ContextLines(text, tuple(pairwise(starts)))

    @property
    def count(self) -> int:
        return len(self.spans)

    def edited(self, keep: np.ndarray) -> str:
        """The context with the lines where ``keep`` (count,) is False removed."""
        if not self.spans:
            return self.text
        kept = [self.text[s:e] for (s, e), k in zip(self.spans, keep, strict=True) if k]
        return "".join(kept) + self.text[self.spans[-1][1] :]


class Ablations:
    """The log-probability of one completion under removals of its context's lines (module doc).

    ``forward_tokens`` counts the tokens the model ran over, the cached prefix pass included.
    """

    def __init__(self, model: Any, tokenizer: Any, context: ContextLines, completion_ids: Sequence[int]) -> None:
        if not completion_ids:
            raise ValueError("a completion of no tokens has no log-probability to explain")
        head = Head.of(model)
        base = hidden_states_module(model)
        if head is None or base is None:
            raise ValueError("this model has no LM head over its decoder's rows: log-probabilities need one")
        self.model, self.tokenizer, self.context = model, tokenizer, context
        self.completion = [int(i) for i in completion_ids]
        self.head, self.base = head, base
        self.start = start_ids(model)
        self.device = next(model.parameters()).device
        self.full_ids = self.context_ids(np.ones(context.count, dtype=bool))
        self.forward_tokens = 0
        self._prefix: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # per layer (1, KV, n, d)

    def context_ids(self, keep: np.ndarray) -> list[int]:
        """c(z): the edited context's ids, or the start token when nothing is left."""
        text = self.context.edited(keep)
        ids = [int(i) for i in self.tokenizer(text, add_special_tokens=True)["input_ids"]] if text else []
        return ids or list(self.start)

    def _prefix_cache(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Every layer's keys and values of the full context c(1), from one pass (kept); empty when a
        layer keeps no per-token keys and values (then every ablation runs from its first token)."""
        if self._prefix is None:
            from transformers import DynamicCache

            cache = DynamicCache()
            with torch.inference_mode():
                self.base(
                    input_ids=torch.tensor([self.full_ids], device=self.device), past_key_values=cache, use_cache=True
                )
            self.forward_tokens += len(self.full_ids)
            self._prefix = []
            for layer in cache.layers:
                keys, values = getattr(layer, "keys", None), getattr(layer, "values", None)
                if not isinstance(keys, torch.Tensor) or not isinstance(values, torch.Tensor):
                    # A recurrent layer's state is no per-token cache: nothing can be cut at a prefix.
                    self._prefix = []
                    break
                self._prefix.append((keys, values))
        return self._prefix

    def logprobs(self, keep: np.ndarray, progress: ReportProgress = ignore_progress) -> np.ndarray:
        """(m,) float64: f(z_k) in nats for each keep-mask row of ``keep`` (m, count).

        Checks ``cancellation.check()`` before each batch and reports ``progress`` (k of m)."""
        keep = np.asarray(keep, dtype=bool).reshape(-1, self.context.count)
        contexts = [self.context_ids(row) for row in keep]
        # Rows must recompute at least their last context token: its row predicts y_1.
        reused = [min(first_difference(self.full_ids, ids), len(ids) - 1) for ids in contexts]
        if not self._prefix_cache():
            reused = [0] * len(contexts)
        order = sorted(range(len(contexts)), key=lambda k: -reused[k])
        out = np.zeros(len(contexts), dtype=np.float64)
        done = 0
        for batch in self._batches(order, contexts, reused):
            cancellation.check()
            progress(done / len(contexts), f"Ablation {done + 1} of {len(contexts)}: running the model")
            shared = min(reused[k] for k in batch)
            rows = self._run([contexts[k] for k in batch], shared)
            out[batch] = rows.sum(axis=1)
            done += len(batch)
        progress(1.0, f"{len(contexts)} ablations done")
        return out

    def token_logprobs(self, keep: np.ndarray) -> np.ndarray:
        """(C,) float64: log p(y_t | c(z), y_<t) of one keep-mask ``keep`` (count,)."""
        ids = self.context_ids(np.asarray(keep, dtype=bool))
        shared = min(first_difference(self.full_ids, ids), len(ids) - 1) if self._prefix_cache() else 0
        return self._run([ids], shared)[0]

    def _batches(self, order: list[int], contexts: list[list[int]], reused: list[int]) -> Iterable[list[int]]:
        """Consecutive runs of ``order`` of at most MAX_BATCH rows and MAX_BATCH_TOKENS new tokens."""
        batch: list[int] = []
        for k in order:
            candidate = [*batch, k]
            shared = min(reused[j] for j in candidate)
            width = max(len(contexts[j]) for j in candidate) + len(self.completion) - shared
            if batch and (len(candidate) > MAX_BATCH or len(candidate) * width > MAX_BATCH_TOKENS):
                yield batch
                candidate = [k]
            batch = candidate
        if batch:
            yield batch

    def _run(self, contexts: list[list[int]], shared: int) -> np.ndarray:
        """(B, C) per-token log-probabilities of the completion after each context, reusing the
        first ``shared`` tokens' keys and values of the full context."""
        from transformers import DynamicCache

        tails = [ids[shared:] + self.completion for ids in contexts]
        width = max(len(t) for t in tails)
        pad = self.completion[0]  # any id: a causal row never reads the padding after it
        batch = torch.tensor([t + [pad] * (width - len(t)) for t in tails], device=self.device)
        cache = DynamicCache()
        if shared > 0:
            for layer, (keys, values) in enumerate(self._prefix_cache()):
                size = (len(tails), *keys.shape[1:2], shared, keys.shape[3])
                cache.update(keys[:, :, :shared].expand(size), values[:, :, :shared].expand(size), layer)
        positions = torch.arange(shared, shared + width, device=self.device)[None].expand(len(tails), width)
        with torch.inference_mode():
            hidden = self.base(
                input_ids=batch, past_key_values=cache, position_ids=positions, use_cache=True
            ).last_hidden_state
        self.forward_tokens += sum(len(t) for t in tails)
        count = len(self.completion)
        # Row r of a tail predicts its token r + 1: y_t is predicted by the row before it.
        first = torch.tensor([len(ids) - shared - 1 for ids in contexts], device=self.device)
        where = first[:, None] + torch.arange(count, device=self.device)[None]
        rows = hidden[torch.arange(len(tails), device=self.device)[:, None], where].reshape(-1, hidden.shape[-1])
        values = next_logprobs(self.head, rows, self.completion * len(tails))
        return values.double().numpy().reshape(len(tails), count)


def completion_logprob(
    loaded: Any, context: str, completion_ids: Sequence[int], removed_lines: Iterable[int] = ()
) -> float:
    """log p(completion | context without ``removed_lines``) in nats, teacher-forced (module doc).

    ``loaded``: a ``LoadedModel``; ``context``: the text before the completion, whose complete
    lines (0-based) may be removed. One ablation; for many, use ``Ablations`` (batched, reused)."""
    lines = ContextLines.of(context)
    keep = np.ones(lines.count, dtype=bool)
    for line in removed_lines:
        if not 0 <= line < lines.count:
            raise ValueError(f"line {line} is not a complete line of the context (0..{lines.count - 1})")
        keep[line] = False
    return float(Ablations(loaded.model, loaded.tokenizer, lines, completion_ids).token_logprobs(keep).sum())


def sequence_logprob(model: Any, context_ids: Sequence[int], completion_ids: Sequence[int]) -> float:
    """log p(completion | context) in nats for token ids, teacher-forced: one plain pass."""
    head, base = Head.of(model), hidden_states_module(model)
    if head is None or base is None:
        raise ValueError("this model has no LM head over its decoder's rows: log-probabilities need one")
    ids = [int(i) for i in context_ids] + [int(i) for i in completion_ids]
    device = next(model.parameters()).device
    with torch.inference_mode():
        hidden = base(input_ids=torch.tensor([ids], device=device), use_cache=False).last_hidden_state[0]
    first = len(context_ids) - 1
    rows = hidden[first : first + len(completion_ids)]
    return float(next_logprobs(head, rows, [int(i) for i in completion_ids]).double().sum())


def no_context_logprob(model: Any, completion_ids: Sequence[int]) -> float:
    """log p(completion | start token) in nats: the completion with its whole context removed (one short pass)."""
    return sequence_logprob(model, start_ids(model), completion_ids)
