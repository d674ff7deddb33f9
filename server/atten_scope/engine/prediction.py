"""What the model predicted at every token, computed on demand from the kept final hidden states.

The pass that captures attention ends in the model's final hidden states h_i (after its final
norm: what the LM head consumes). They are kept with the window (``CapturedWindow.hidden``, a few
hundred to a thousand numbers per token) and the LM head is *not* run during the analysis: on a
large vocabulary it costs more than the layers. A prediction is computed when it is asked for:

    z_i = post(W_U h_i)                          the logits of row i (``post``: the model's own
                                                  soft-capping or scaling of its logits, if any,
                                                  as its family declares: ``families.py``)
    log p_i(v) = z_i[v] - logsumexp(z_i)        the next-token distribution after token i
    top_i = the TOP tokens v with the largest p_i(v), and their probabilities
    log p_i(x_{i+1})                             the log-probability of the token that follows
    rank_i = 1 + #{v : z_i[v] > z_i[x_{i+1}]}    its rank (1: the model's first choice)

One token's prediction is one row of the head (``predict``); every token's log p_i(x_{i+1}), for
the surprise heat, is the head over all rows in blocks of at most ``BLOCK_ELEMENTS`` logits
(``next_logprobs``). The last token of a document has no next token: its log-probability is NaN
and its rank 0.

Whether ``Head`` reproduces the model's logits is checked against the model's own logits of the
pass's last row, which the forward pass returns anyway (``logits_to_keep=1``): ``Reference`` keeps
their top values and log-sum-exp, and ``Head.agrees`` compares when a window is first read.
"""

from __future__ import annotations

import logging
import math
import weakref
from dataclasses import dataclass
from typing import Any

import torch

from atten_scope.common import cancellation
from atten_scope.engine.architecture import hidden_states_module
from atten_scope.engine.families import LogitStep, family_of

log = logging.getLogger(__name__)

TOP = 5  # predicted tokens kept per row
# Logits computed at once: 16 MB of float32 whatever the window size (85 rows of the embedded
# model's 49k vocabulary, 16 of Gemma 3's 262k): the work between two cancellation checks, so the
# longest a cursor request waits behind the surprise heat.
BLOCK_ELEMENTS = 1 << 22
NO_NEXT = -1  # the id of a missing next token (the document's last token)


@dataclass
class Predictions:
    """Per row: the model's top next tokens and how it rated the actual next one."""

    top_ids: torch.Tensor  # (n, TOP) int32
    top_probs: torch.Tensor  # (n, TOP) float32
    next_logprob: torch.Tensor  # (n,) float32: log p_i(x_{i+1}), NaN without a next token
    next_rank: torch.Tensor  # (n,) int32: 1-based rank of x_{i+1}, 0 without a next token


def concatenate(parts: list[Predictions]) -> Predictions:
    return Predictions(
        torch.cat([p.top_ids for p in parts]),
        torch.cat([p.top_probs for p in parts]),
        torch.cat([p.next_logprob for p in parts]),
        torch.cat([p.next_rank for p in parts]),
    )


@dataclass(frozen=True)
class Reference:
    """The model's own logits of a pass's last row, in brief: its TOP largest (ids, values) and
    their log-sum-exp."""

    ids: torch.Tensor  # (k,) int64
    values: torch.Tensor  # (k,) float32
    lse: float

    @staticmethod
    def of(logits: Any) -> Reference | None:
        if not isinstance(logits, torch.Tensor) or logits.numel() == 0:
            return None
        row = logits.reshape(-1, logits.shape[-1])[-1].float()
        values, ids = torch.topk(row, min(TOP, row.shape[0]))
        return Reference(ids.cpu(), values.cpu(), float(torch.logsumexp(row, dim=0)))


class Head:
    """The model's LM head and its logit post-processing, the steps its family declares with their
    constants from its config (soft-capping tanh(z / c) c, Cohere's scale, Granite's divisor). The
    head module is held weakly: an analysis kept after its model was replaced does not keep the
    model's largest matrix alive (its predictions are then None)."""

    def __init__(self, module: Any, config: Any, steps: tuple[LogitStep, ...]) -> None:
        self._module = weakref.ref(module)
        weight = module.weight
        self.vocabulary = int(weight.shape[0])
        self.hidden_size = int(weight.shape[1])
        constants = [(step, step.constant(config)) for step in steps]
        self.post = [(step.kind, c) for step, c in constants if c is not None]

    @staticmethod
    def of(model: Any) -> Head | None:
        """The head of ``model``, or None when it has no LM head that takes its decoder's rows."""
        if hidden_states_module(model) is None:
            return None
        getter = getattr(model, "get_output_embeddings", None)
        module = getter() if callable(getter) else None
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
            return None
        config = model.config.get_text_config()
        family = family_of(model)
        hidden = family.config.read(config, family.config.hidden)
        if hidden is not None and int(hidden) != weight.shape[1]:
            return None
        return Head(module, config, family.logits)

    @property
    def alive(self) -> bool:
        return self._module() is not None

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """z = post(W_U h) as float32 for hidden rows (b, hidden)."""
        module = self._module()
        if module is None:
            raise RuntimeError("the model of this analysis was unloaded")
        weight = module.weight
        with torch.inference_mode():
            logits = module(hidden.to(device=weight.device, dtype=weight.dtype)).float()
            for kind, c in self.post:
                if kind == "scale":
                    logits = logits * c
                elif kind == "divide":
                    logits = logits / c
                else:  # softcap
                    logits = torch.tanh(logits / c) * c
        return logits

    def block_rows(self) -> int:
        """Rows of logits per block so that a block holds at most BLOCK_ELEMENTS floats."""
        return max(1, BLOCK_ELEMENTS // max(1, self.vocabulary))

    def agrees(self, last_row: torch.Tensor, reference: Reference | None) -> bool:
        """Whether this head's logits of a pass's last hidden row (as kept: the rounding of a float16
        copy is allowed for) equal the model's own (``reference``)."""
        if reference is None:
            return True
        ours = self.logits(last_row.reshape(1, -1))[0].cpu()
        if ours.shape[0] <= int(reference.ids.max()):
            log.warning("The LM head's logits have another shape than the model's: no predictions")
            return False
        precision = torch.finfo(last_row.dtype).eps if last_row.is_floating_point() else 0.0
        tolerance = (1e-3 + 8 * precision) * (1.0 + float(reference.values.abs().max()))
        difference = max(
            float((ours[reference.ids] - reference.values).abs().max()),
            abs(float(torch.logsumexp(ours, dim=0)) - reference.lse),
        )
        if not difference <= tolerance:
            log.warning("The LM head's logits differ from the model's: no predictions")
            return False
        return True


def predict(head: Head, hidden: torch.Tensor, next_ids: list[int]) -> Predictions:
    """The predictions of hidden rows (m, hidden), given the id that follows each row (NO_NEXT: none).

    Computed in blocks of ``Head.block_rows`` rows, checking for cancellation between blocks; see
    the module doc for the math.
    """
    m = hidden.shape[0]
    top_ids = torch.empty((m, TOP), dtype=torch.int32)
    top_probs = torch.empty((m, TOP), dtype=torch.float32)
    next_logprob = torch.full((m,), math.nan, dtype=torch.float32)
    next_rank = torch.zeros((m,), dtype=torch.int32)
    step = head.block_rows()
    with torch.inference_mode():
        for start in range(0, m, step):
            cancellation.check()
            end = min(start + step, m)
            logits = head.logits(hidden[start:end])
            k = min(TOP, logits.shape[-1])
            values, indices = torch.topk(logits, k, dim=-1)
            wanted = torch.tensor(next_ids[start:end], dtype=torch.long, device=logits.device)
            known = wanted >= 0
            chosen = logits.gather(1, wanted.clamp_min(0)[:, None])[:, 0]
            rank = torch.count_nonzero(logits > chosen[:, None], dim=-1) + 1
            lse = _lse_in_place(logits, values[:, :1])
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


def next_logprobs(head: Head, hidden: torch.Tensor, next_ids: list[int]) -> torch.Tensor:
    """(m,) float32: log p_i(x_{i+1}) of hidden rows (m, hidden) given the id after each (NO_NEXT:
    NaN), one block of ``Head.block_rows`` rows (the caller splits); no top tokens or ranks."""
    with torch.inference_mode():
        logits = head.logits(hidden)
        wanted = torch.tensor(next_ids, dtype=torch.long, device=logits.device)
        chosen = logits.gather(1, wanted.clamp_min(0)[:, None])[:, 0]
        lse = _lse_in_place(logits, logits.max(dim=-1, keepdim=True).values)
        del logits
        return torch.where(wanted >= 0, chosen - lse, math.nan).cpu()


def _lse_in_place(logits: torch.Tensor, peak: torch.Tensor) -> torch.Tensor:
    """logsumexp of each row from its maximum ``peak`` (b, 1), overwriting ``logits`` (not needed after)."""
    return peak[:, 0] + torch.log(logits.sub_(peak).exp_().sum(dim=-1))
