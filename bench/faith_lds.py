"""The linear datamodeling score (LDS; Park et al. 2023, as ContextCite uses it) of the faithfulness
benchmark: how well a method's weights predict the effect of removing many sources at once.

For a snippet with queries q (the last token and the interior positions) and their greedy next
tokens y_q, ``LDS_MASKS`` random removals are drawn per unit: *token* masks remove each eligible
source token with probability 1/2, *line* masks each line (all its eligible tokens) with
probability 1/2. Eligible: tokens 1..max(q) - 1 that are neither a sink nor a query token (a query
token is the query's own input, never its source; the sinks are what dropSink leaves out). A
removed token is replaced by the neutral space token, as in the *space* baseline, so one masked
sequence gives every query its logits: the drop of query q under mask m is

    d_m(q) = log p(y_q | x_<=q) - log p(y_q | x_<=q with the tokens of m before q replaced)

and a method's prediction is the sum of its dropSink-on weights over the removed sources j < q.
The LDS of the method at q is Spearman's rho between predictions and drops over the masks; a
snippet's interior LDS is the mean over its interior queries, as for the other situations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from faith_ablation import sdpa
from report import ensure_engine_importable

ensure_engine_importable()

from atten_scope.engine.model import LoadedModel  # noqa: E402

LDS_MASKS = 32  # removals per unit and snippet: ContextCite's held-out evaluation uses a few dozen
UNITS = ("token", "line")


def draw_masks(
    name: str, seed: int, end: int, excluded: Sequence[int], token_lines: Sequence[int]
) -> dict[str, list[list[int]]]:
    """The removed positions of each mask, per unit (seeded by ``seed`` and the snippet's name, so a
    resumed run draws the same masks)."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    skip = set(excluded)
    eligible = [j for j in range(1, end) if j not in skip]
    lines = sorted({int(token_lines[j]) for j in eligible})
    masks: dict[str, list[list[int]]] = {"token": [], "line": []}
    for _ in range(LDS_MASKS):
        masks["token"].append([j for j, drop in zip(eligible, rng.random(len(eligible)) < 0.5, strict=True) if drop])
        gone = {line for line, drop in zip(lines, rng.random(len(lines)) < 0.5, strict=True) if drop}
        masks["line"].append([j for j in eligible if int(token_lines[j]) in gone])
    return masks


def mask_drops(
    loaded: LoadedModel,
    ids: list[int],
    queries: list[int],
    targets: list[int],
    masks: list[list[int]],
    neutral: int,
    batch_size: int,
) -> np.ndarray:
    """d_m(q) for every mask m and query q: (masks, queries)."""
    end = max(queries) + 1
    device = loaded.device
    columns = torch.tensor(queries, dtype=torch.long, device=device)
    picked = torch.tensor(targets, dtype=torch.long, device=device)
    rows = torch.arange(len(queries), device=device)

    def logprobs(batch: torch.Tensor) -> torch.Tensor:  # (B, queries) log p(y_q) at each query
        with torch.inference_mode(), sdpa(loaded):
            logits = loaded.model(input_ids=batch.to(device), logits_to_keep=columns, use_cache=False).logits
        return torch.log_softmax(logits.float(), dim=-1)[:, rows, picked]

    base = torch.tensor([ids[:end]], dtype=torch.long)
    full = logprobs(base)[0]
    drops = np.zeros((len(masks), len(queries)), dtype=np.float64)
    for first in range(0, len(masks), batch_size):
        chunk = masks[first : first + batch_size]
        batch = base.repeat(len(chunk), 1)
        for row, removed in enumerate(chunk):
            batch[row, removed] = neutral
        drops[first : first + len(chunk)] = (full[None] - logprobs(batch)).double().cpu().numpy()
    return drops


def lds_effects(
    loaded: LoadedModel,
    name: str,
    ids: list[int],
    records: list[dict[str, Any]],
    sinks: Sequence[int],
    token_lines: Sequence[int],
    neutral: int,
    batch_size: int,
    seed: int = 0,
) -> dict[str, Any]:
    """The snippet's masks and drops per unit (the costly part, cached in its record)."""
    queries = [int(r["index"]) for r in records]
    targets = [int(r["target_id"]) for r in records]
    masks = draw_masks(name, seed, max(queries) + 1, [*sinks, *queries], token_lines)
    found: dict[str, Any] = {"seed": seed, "masks": LDS_MASKS}
    for unit in UNITS:
        drops = mask_drops(loaded, ids, queries, targets, masks[unit], neutral, batch_size)
        found[unit] = {"removed": masks[unit], "drops": [[round(float(d), 6) for d in row] for row in drops.T]}
    return compact(found, max(queries) + 1)


def compact(found: dict[str, Any], end: int) -> dict[str, Any]:
    """``found`` with each mask written as a string of 0 and 1 over tokens 0..end-1 (1: removed), the
    way the record keeps it (a mask as a list of positions takes ten times the room)."""
    out = dict(found)
    for unit in UNITS:
        masks = [set(removed_positions(mask)) for mask in found[unit]["removed"]]
        out[unit] = {
            **found[unit],
            "removed": ["".join("1" if j in mask else "0" for j in range(end)) for mask in masks],
        }
    return out


def removed_positions(mask: str | list[int]) -> list[int]:
    """The removed positions of a mask as recorded (a 0/1 string, or a list of positions)."""
    if isinstance(mask, str):
        return [j for j, flag in enumerate(mask) if flag == "1"]
    return list(mask)


def lds(on: np.ndarray, removed: Sequence[str | list[int]], drops: Sequence[float], query: int, rho: Any) -> float:
    """Spearman rho between the summed weights ``on`` of each mask's removed sources before ``query``
    and the drops of that query; NaN when either side is constant."""
    chosen = [removed_positions(mask) for mask in removed]
    predicted = np.array([on[[j for j in mask if j < query]].sum() for mask in chosen], dtype=np.float64)
    return float(rho(predicted, np.asarray(drops, dtype=np.float64)))
