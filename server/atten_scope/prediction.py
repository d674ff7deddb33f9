"""What the model predicted at every token, from the hidden states of the capturing forward pass.

The pass that captures attention also ends in the model's final hidden states h_i (after its final
norm). Instead of letting the model turn every row into a vocabulary-sized logit vector (n x V
floats: 800 MB at 4,096 tokens for a 49k vocabulary), the LM head is applied here in row blocks
of at most ``BLOCK_ELEMENTS`` logits, and only a few numbers per token are kept:

    z_i = post(W_U h_i)                          the logits of row i (``post``: the model's own
                                                  soft-capping or scaling of its logits, if any)
    log p_i(v) = z_i[v] - logsumexp(z_i)        the next-token distribution after token i
    top_i = the TOP tokens v with the largest p_i(v), and their probabilities
    log p_i(x_{i+1})                             the log-probability of the token that follows
    rank_i = 1 + #{v : z_i[v] > z_i[x_{i+1}]}    its rank (1: the model's first choice)

The last token of a document has no next token: its log-probability is NaN and its rank 0.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

log = logging.getLogger(__name__)

TOP = 5  # predicted tokens kept per row
BLOCK_ELEMENTS = 1 << 24  # logits computed at once: 64 MB of float32, whatever the window size
NO_NEXT = -1  # the id of a missing next token (the document's last token)
# Transient bytes while predictions are computed: a block of float32 logits and its comparison mask.
PEAK_BYTES = BLOCK_ELEMENTS * (4 + 1)


@dataclass
class Predictions:
    """Per token of a window: the model's top next tokens and how it rated the actual next one."""

    top_ids: torch.Tensor  # (n, TOP) int32
    top_probs: torch.Tensor  # (n, TOP) float32
    next_logprob: torch.Tensor  # (n,) float32: log p_i(x_{i+1}), NaN without a next token
    next_rank: torch.Tensor  # (n,) int32: 1-based rank of x_{i+1}, 0 without a next token

    def nbytes(self) -> int:
        tensors = (self.top_ids, self.top_probs, self.next_logprob, self.next_rank)
        return sum(t.element_size() * t.nelement() for t in tensors)

    @staticmethod
    def bytes_per_token() -> int:
        """Bytes kept per token: TOP int32 ids, TOP float32 probabilities, a float32 and an int32."""
        return TOP * 4 + TOP * 4 + 4 + 4

    def rows(self, first: int, count: int) -> Predictions:
        """Rows [first, first + count) as a new (copied) set."""
        end = first + count
        return Predictions(
            self.top_ids[first:end].clone(),
            self.top_probs[first:end].clone(),
            self.next_logprob[first:end].clone(),
            self.next_rank[first:end].clone(),
        )


def concatenate(parts: list[Predictions]) -> Predictions:
    return Predictions(
        torch.cat([p.top_ids for p in parts]),
        torch.cat([p.top_probs for p in parts]),
        torch.cat([p.next_logprob for p in parts]),
        torch.cat([p.next_rank for p in parts]),
    )


@contextmanager
def final_hidden_states(model: Any) -> Iterator[list[torch.Tensor]]:
    """Within the block, the forward pass's final hidden states (1, m, hidden) land in the list.

    They are the base model's output (``last_hidden_state``, after the final norm), which the LM
    head maps to logits.
    """
    found: list[torch.Tensor] = []

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        hidden = getattr(output, "last_hidden_state", None)
        if hidden is None and isinstance(output, tuple | list):
            hidden = output[0]
        if isinstance(hidden, torch.Tensor):
            found.append(hidden.detach())

    base = getattr(model, "base_model", None)
    if base is None or base is model:  # no separate decoder whose output is the hidden states
        yield found
        return
    handle = base.register_forward_hook(hook)
    try:
        yield found
    finally:
        handle.remove()


def head_logits(model: Any, hidden: torch.Tensor) -> torch.Tensor:
    """z = post(W_U h) as float32 for hidden rows (b, hidden): the LM head and the model's logit
    post-processing (soft-capping tanh(z / c) c, Cohere's scale, Granite's divisor)."""
    logits = model.get_output_embeddings()(hidden).float()
    config = model.config.get_text_config()
    scale = getattr(config, "logit_scale", None)
    if isinstance(scale, int | float) and not isinstance(scale, bool):
        logits = logits * float(scale)
    divisor = getattr(config, "logits_scaling", None)
    if isinstance(divisor, int | float) and not isinstance(divisor, bool) and divisor:
        logits = logits / float(divisor)
    cap = getattr(config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / float(cap)) * float(cap)
    return logits


def block_rows(vocabulary: int) -> int:
    """Rows of logits per block so that a block holds at most BLOCK_ELEMENTS floats."""
    return max(1, BLOCK_ELEMENTS // max(1, vocabulary))


def predict(model: Any, hidden: torch.Tensor, next_ids: list[int]) -> Predictions:
    """The predictions of hidden rows (m, hidden), given the id that follows each row (NO_NEXT: none).

    Computed in blocks of ``block_rows`` rows; see the module doc for the math.
    """
    m = hidden.shape[0]
    device = hidden.device
    top_ids = torch.empty((m, TOP), dtype=torch.int32)
    top_probs = torch.empty((m, TOP), dtype=torch.float32)
    next_logprob = torch.full((m,), math.nan, dtype=torch.float32)
    next_rank = torch.zeros((m,), dtype=torch.int32)
    following = torch.tensor(next_ids, dtype=torch.long, device=device)
    vocabulary = int(model.get_output_embeddings().weight.shape[0])
    step = block_rows(vocabulary)
    with torch.inference_mode():
        for start in range(0, m, step):
            end = min(start + step, m)
            logits = head_logits(model, hidden[start:end])
            k = min(TOP, logits.shape[-1])
            values, indices = torch.topk(logits, k, dim=-1)
            wanted = following[start:end]
            known = wanted >= 0
            chosen = logits.gather(1, wanted.clamp_min(0)[:, None])[:, 0]
            rank = torch.count_nonzero(logits > chosen[:, None], dim=-1) + 1
            # logsumexp from the row maximum topk found, in place: the block is not needed after it
            peak = values[:, :1]
            lse = peak[:, 0] + torch.log(logits.sub_(peak).exp_().sum(dim=-1))
            del logits
            top_ids[start:end, :k] = indices.to(torch.int32).cpu()
            top_probs[start:end, :k] = torch.exp(values - lse[:, None]).cpu()
            if k < TOP:
                top_ids[start:end, k:] = NO_NEXT
                top_probs[start:end, k:] = 0.0
            if bool(known.any()):
                rows = torch.nonzero(known.cpu())[:, 0] + start
                next_logprob[rows] = (chosen - lse)[known].cpu()
                next_rank[rows] = rank[known].to(torch.int32).cpu()
    return Predictions(top_ids, top_probs, next_logprob, next_rank)


def has_head(model: Any, hidden: torch.Tensor) -> bool:
    """Whether the model has an LM head that takes these hidden rows."""
    getter = getattr(model, "get_output_embeddings", None)
    head = getter() if callable(getter) else None
    weight = getattr(head, "weight", None)
    return isinstance(weight, torch.Tensor) and weight.dim() == 2 and weight.shape[1] == hidden.shape[-1]


def check_last_row(model: Any, hidden: torch.Tensor, logits: torch.Tensor | None) -> bool:
    """Whether ``head_logits`` of the last hidden row equals the model's own logits for it (so the
    head above is the model's); the forward pass returns them anyway (``logits_to_keep=1``)."""
    if logits is None or hidden.shape[0] == 0:
        return True
    ours = head_logits(model, hidden[-1:]).float()
    theirs = logits.reshape(-1, logits.shape[-1])[-1:].float()
    if ours.shape != theirs.shape:
        log.warning("The LM head's logits have another shape than the model's: no predictions")
        return False
    tolerance = 1e-3 * (1.0 + float(theirs.abs().max()))
    if float((ours - theirs).abs().max()) > tolerance:
        log.warning("The LM head's logits differ from the model's: no predictions")
        return False
    return True
