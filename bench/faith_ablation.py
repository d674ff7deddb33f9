"""Leave-one-out ablations for the faithfulness benchmark: the forward passes behind every effect.

A token (or a whole line) is replaced by the neutral space token or deleted, and the drop in the
log-probability of the model's greedy next token is its effect. The model runs with plain SDPA
attention here (no capture), in batches, reusing the unablated prefix's keys and values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from faith_names import ATTENTION, BASELINES
from report import ensure_engine_importable

ensure_engine_importable()

from atten_scope.engine.model import LoadedModel  # noqa: E402


class sdpa:
    """Temporarily run the model with plain SDPA attention (no capture)."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.model = loaded.model

    def __enter__(self) -> None:
        self.model.set_attn_implementation("sdpa")

    def __exit__(self, *_: object) -> None:
        self.model.set_attn_implementation(ATTENTION)


def last_logprobs(loaded: LoadedModel, batch: torch.Tensor) -> torch.Tensor:
    """log p(. | sequence) at the last position for each row of ``batch``: (B, vocab), on the model's device."""
    with torch.inference_mode(), sdpa(loaded):
        logits = loaded.model(input_ids=batch.to(loaded.device), logits_to_keep=1, use_cache=False).logits[:, -1]
    return torch.log_softmax(logits.float(), dim=-1)


def prefix_cache(layers: list[tuple[torch.Tensor, torch.Tensor]], start: int, copies: int) -> Any:
    """A KV cache holding the first ``start`` tokens' keys and values, repeated ``copies`` times."""
    from transformers import DynamicCache

    cache = DynamicCache()
    for index, (key, value) in enumerate(layers):
        cache.update(
            key[:, :, :start].expand(copies, -1, -1, -1).contiguous(),
            value[:, :, :start].expand(copies, -1, -1, -1).contiguous(),
            index,
        )
    return cache


def ablation_effects_reference(loaded: LoadedModel, ids: list[int], neutral: int, delete: bool = False) -> np.ndarray:
    """The last token's effects from full forward passes, one per ablation (for checking ``query_ablations``)."""
    base = torch.tensor([ids], dtype=torch.long)
    logp = last_logprobs(loaded, base)[0]
    target = int(torch.argmax(logp))
    if delete:
        rows = [ids[:j] + ids[j + 1 :] for j in range(len(ids) - 1)]
        batch = torch.tensor(rows, dtype=torch.long)
    else:
        batch = base.repeat(len(ids) - 1, 1)
        batch[torch.arange(len(ids) - 1), torch.arange(len(ids) - 1)] = neutral
    return (logp[target] - last_logprobs(loaded, batch)[:, target]).double().cpu().numpy()


def sequence_logprobs(loaded: LoadedModel, sequences: list[list[int]], target: int, batch_size: int) -> np.ndarray:
    """log p(target | s) at the last position of each sequence, in batches of similar length.

    Shorter rows are padded on the right; the model is causal, so a row's real positions never see
    its padding, and only the logits at the rows' last real positions are computed and read.
    """
    out = np.zeros(len(sequences), dtype=np.float64)
    order = sorted(range(len(sequences)), key=lambda k: len(sequences[k]))
    device = loaded.device
    for first in range(0, len(order), batch_size):
        rows = order[first : first + batch_size]
        width = max(len(sequences[k]) for k in rows)
        pad = sequences[rows[0]][-1]  # any token: no real position attends to it
        padded = [sequences[k] + [pad] * (width - len(sequences[k])) for k in rows]
        lasts = sorted({len(sequences[k]) - 1 for k in rows})
        batch = torch.tensor(padded, dtype=torch.long, device=device)
        keep = torch.tensor(lasts, dtype=torch.long, device=device)
        with torch.inference_mode(), sdpa(loaded):
            logits = loaded.model(input_ids=batch, logits_to_keep=keep, use_cache=False).logits
        columns = torch.tensor([lasts.index(len(sequences[k]) - 1) for k in rows], device=device)
        picked = logits[torch.arange(len(rows), device=device), columns]
        out[rows] = torch.log_softmax(picked.float(), dim=-1)[:, target].double().cpu().numpy()
    return out


def unit_effects(
    loaded: LoadedModel,
    ids: list[int],
    units: list[list[int]],
    target: int,
    neutral: int,
    batch_size: int,
    delete: bool = False,
) -> np.ndarray:
    """e_u = log p(y | x) - log p(y | x with every token of unit u replaced by ``neutral``, or deleted)."""
    base = sequence_logprobs(loaded, [ids], target, 1)[0]
    sequences = []
    for unit in units:
        members = set(unit)
        if delete:
            sequences.append([t for j, t in enumerate(ids) if j not in members])
        else:
            sequences.append([neutral if j in members else t for j, t in enumerate(ids)])
    return base - sequence_logprobs(loaded, sequences, target, batch_size)


def query_ablations(
    loaded: LoadedModel, ids: list[int], queries: list[int], neutral: int, batch_size: int, delete: bool = False
) -> tuple[list[int], list[np.ndarray]]:
    """For every query q: its greedy next token y_q = argmax p(. | x_<=q) and the token ablation effects
    e_j(q) = log p(y_q | x_<=q) - log p(y_q | x_<=q ablated at j) for j < q.

    One ablated sequence serves every query after its ablated token: a causal model's logits at q
    depend only on x_<=q, so the sequence cut after the last query, ablated at j, gives at each q > j
    the logits of the ablated prefix x_<=q (with deletion at q - 1). The queries cost one query's
    ablations. A causal model's states before j do not depend on x_j, so each batch of ablations
    j in [a, b) reuses the unablated keys and values of tokens < a and runs only tokens a.. (about
    half the work; with deletion every row is one token shorter, at positions a..), and the LM head
    is applied at the query columns only.
    """
    from transformers import DynamicCache

    end = max(queries) + 1
    device = loaded.device
    base = torch.tensor([ids[:end]], dtype=torch.long, device=device)
    cache = DynamicCache()
    columns_all = torch.tensor(queries, dtype=torch.long, device=device)
    with torch.inference_mode(), sdpa(loaded):
        out = loaded.model(input_ids=base, logits_to_keep=columns_all, use_cache=True, past_key_values=cache)
    logp = torch.log_softmax(out.logits[0].float(), dim=-1)  # (queries, vocab)
    targets = [int(t) for t in torch.argmax(logp, dim=-1)]
    layers = [(layer.keys, layer.values) for layer in cache.layers]
    effects = [np.zeros(q, dtype=np.float64) for q in queries]
    for first in range(0, end - 1, batch_size):
        rows = list(range(first, min(first + batch_size, end - 1)))
        live = [k for k, q in enumerate(queries) if q > first]  # queries some row of this batch ablates
        picked = torch.arange(len(rows), device=device)
        ablated_at = torch.tensor(rows, device=device) - first
        batch = base[:, first:].repeat(len(rows), 1)
        if delete:
            keep = torch.ones_like(batch, dtype=torch.bool)
            keep[picked, ablated_at] = False
            batch = batch[keep].view(len(rows), -1)
        else:
            batch[picked, ablated_at] = neutral
        shift = 1 if delete else 0
        kept = torch.tensor([queries[k] - first - shift for k in live], dtype=torch.long, device=device)
        kwargs: dict[str, Any] = {"logits_to_keep": kept, "use_cache": first > 0}
        if first > 0:
            kwargs["past_key_values"] = prefix_cache(layers, first, len(rows))
            positions = torch.arange(first, first + batch.shape[1], device=device)
            kwargs["position_ids"] = positions[None].expand(len(rows), -1)
        with torch.inference_mode(), sdpa(loaded):
            logits = loaded.model(input_ids=batch, **kwargs).logits  # (rows, live, vocab)
        for column, k in enumerate(live):
            query, target = queries[k], targets[k]
            sources = [r for r, j in enumerate(rows) if j < query]
            ablated = torch.log_softmax(logits[sources, column].float(), dim=-1)[:, target]
            effects[k][[rows[r] for r in sources]] = (logp[k, target] - ablated).double().cpu().numpy()
    return targets, effects


def query_effects(
    loaded: LoadedModel, ids: list[int], queries: list[int], units: dict[int, list[list[int]]], neutral: int, batch: int
) -> list[dict[str, Any]]:
    """The ablation effects of every query for every baseline and unit (the costly part, cached)."""
    records: list[dict[str, Any]] = [{"index": query} for query in queries]
    for baseline in BASELINES:
        delete = baseline == "delete"
        targets, tokens = query_ablations(loaded, ids, queries, neutral, batch, delete)
        for record, query, target, effects in zip(records, queries, targets, tokens, strict=True):
            prefix = ids[: query + 1]
            found = units[query]
            lines = unit_effects(loaded, prefix, found, target, neutral, batch, delete) if found else np.zeros(0)
            record["target_id"] = target
            record[baseline] = {
                "token": [round(float(e), 6) for e in effects],
                "line": [round(float(e), 6) for e in lines],
            }
    return records
