"""The ground truth of the attribution study: plain forward passes over contexts with lines removed.

Everything here runs the model with plain SDPA attention (no capture) and reads the completion's
log-probability teacher forced: the context's kept lines are tokenized on their own and the
completion's token ids (as generated from the whole context) are appended, so every mask scores
the same tokens. The cursor line's text before the cursor is always kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.stats import spearmanr

from completion_corpus import Case
from faith_ablation import sdpa
from report import ensure_engine_importable

ensure_engine_importable()

from atten_scope.engine.model import LoadedModel  # noqa: E402


def context_ids(loaded: LoadedModel, text: str) -> list[int]:
    """The context's ids as the engine tokenizes a document (its special tokens included)."""
    return [int(i) for i in loaded.tokenizer(text, add_special_tokens=True).input_ids]


def greedy_completion(loaded: LoadedModel, ids: list[int], new_tokens: int, exact: bool = False) -> list[int]:
    """The model's greedy continuation of ``ids``: ``new_tokens`` ids, fewer if it ends the sequence
    (``exact``: never fewer, for timing a known number of tokens)."""
    prompt = torch.tensor([ids], dtype=torch.long, device=loaded.device)
    with torch.inference_mode(), sdpa(loaded):
        out = loaded.model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens if exact else None,
            do_sample=False,
            pad_token_id=loaded.tokenizer.eos_token_id,
        )
    generated = [int(t) for t in out[0, len(ids) :]]
    eos = loaded.tokenizer.eos_token_id
    return generated[: generated.index(eos)] if eos in generated else generated


def completion_logprobs(
    loaded: LoadedModel, contexts: Sequence[list[int]], completion: list[int], batch_size: int
) -> np.ndarray:
    """sum_k log p(completion_k | context, completion_<k) for each context, teacher forced (nats).

    Rows are padded on the right (a causal model's real positions never see the padding) and
    grouped by length; the LM head runs only over the rows that predict the completion.
    """
    out = np.zeros(len(contexts), dtype=np.float64)
    m = len(completion)
    order = sorted(range(len(contexts)), key=lambda k: len(contexts[k]))
    device = loaded.device
    targets = torch.tensor(completion, dtype=torch.long, device=device)
    backbone = loaded.model.get_decoder()
    head = loaded.model.get_output_embeddings()
    for first in range(0, len(order), batch_size):
        rows = order[first : first + batch_size]
        width = max(len(contexts[k]) for k in rows) + m
        padded = [contexts[k] + completion + [completion[-1]] * (width - len(contexts[k]) - m) for k in rows]
        batch = torch.tensor(padded, dtype=torch.long, device=device)
        with torch.inference_mode(), sdpa(loaded):
            hidden = backbone(input_ids=batch, use_cache=False).last_hidden_state
            # The row that predicts completion token k sits at len(context) - 1 + k.
            index = torch.tensor([[len(contexts[r]) - 1 + k for k in range(m)] for r in rows], device=device)
            picked = hidden[torch.arange(len(rows), device=device)[:, None], index]  # (B, m, d)
            logp = torch.log_softmax(head(picked).float(), dim=-1)
            chosen = logp.gather(-1, targets[None, :, None].expand(len(rows), m, 1))[..., 0]
        out[rows] = chosen.double().sum(dim=1).cpu().numpy()
    return out


def random_masks(lines: int, count: int, seed: int, salt: int) -> np.ndarray:
    """``count`` masks over ``lines`` lines, each line kept with probability 1/2: (count, lines) bool.

    ``salt`` separates the held-out masks from every method's training masks."""
    rng = np.random.default_rng([seed, salt])
    return rng.random((count, lines)) < 0.5


def masked_logprobs(loaded: LoadedModel, case: Case, masks: np.ndarray, batch_size: int) -> np.ndarray:
    """The completion's teacher-forced log-probability with each mask's lines kept."""
    contexts = [context_ids(loaded, case.kept_text(mask)) for mask in masks]
    return completion_logprobs(loaded, contexts, case.completion_ids, batch_size)


def leave_one_out(loaded: LoadedModel, case: Case, base: float, batch_size: int) -> np.ndarray:
    """Exact per-line scores: base - log p(completion | context without line l), for every line."""
    masks = ~np.eye(len(case.lines), dtype=bool)
    return base - masked_logprobs(loaded, case, masks, batch_size)


def predicted_from_scores(scores: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """A line attribution's linear prediction for each mask: minus the sum of the removed lines' scores
    (the base log-probability is the same for every mask, so it does not change a rank)."""
    return -((~masks).astype(np.float64) @ np.asarray(scores, dtype=np.float64))


def lds(predicted: np.ndarray, actual: np.ndarray) -> float:
    """The linear datamodeling score: Spearman's rho of predicted against actual (NaN if one is constant)."""
    if np.ptp(predicted) == 0 or np.ptp(actual) == 0:
        return float("nan")
    return float(spearmanr(predicted, actual).statistic)


def fit_surrogate(masks: np.ndarray, outputs: np.ndarray, alpha: float = 1.0) -> tuple[np.ndarray, float]:
    """A ridge fit of outputs ~ bias + w . mask: per-line scores w (the drop when a line is removed is
    w_l) and the bias. Used where the server's removal surrogate is not importable."""
    x = masks.astype(np.float64)
    mean_x, mean_y = x.mean(axis=0), float(outputs.mean())
    xc, yc = x - mean_x, outputs - mean_y
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ yc)
    return w, mean_y - float(mean_x @ w)
