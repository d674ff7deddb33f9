"""Completion at the cursor, captured as an analysis is: the model continues the text before the
cursor, and every generated token's queries, keys, values, log-sum-exps and final hidden row are
recorded by the capturing attention (``capture.py``), so the result is an ``Analysis`` of
context + completion on which every per-token view works.

Reuse. The context is the text before the cursor, tokenised on its own (a cursor inside a token
re-splits that token), in the analysis' windows; the completion extends the last one. Of that
window, the tokens whose ids agree with the analysis' are copied, not computed: their keys and
values are the generation's KV cache, read in place from the buffers the capture fills
(``kv_cache.buffer_cache``). The rest of the context, the forced tokens and each generated token
run once, through transformers' ``generate`` with that cache; generate never feeds its last token
back, so one single-token pass records it. Earlier windows are the analysis' own, unless the text
before the cursor differs there (then ``run_analysis`` redoes the context with prefix reuse). A
reused prefix is read as the analysis stored it: float16 in the language server (``storage.py``).

Choice. Greedy by default, x_t = argmax_v z_t[v], z_t the logits after the model's own generation
processors. With a temperature T > 0, x_t is drawn from softmax(z_t / T) by a ``torch.Generator``
seeded per request (``SeededSampling``): the same seed gives the same completion on one machine.

Per token, from the model's distribution p_t = softmax(z_t) at temperature 1 (whatever the rule
that chose it): its probability p_t(x_t), the entropy H_t = -sum_v p_t(v) log2 p_t(v) in bits, and
the k most probable tokens as alternatives.

Stop rule (``stopping.stop_point``): the token limit; the end-of-sequence token (not kept); or, after a
completed line, a line dedented below the cursor line's indentation, or two blank lines in a row.
The last two cut the completion at the end of the last line before them (whole tokens: a token
that straddles the cut stays); tokens generated past the cut are dropped with their state.
"""

from __future__ import annotations

import copy
import math
import secrets
import time
from dataclasses import dataclass
from typing import Any

import torch

from atten_scope.common import cancellation
from atten_scope.common.errors import InvalidRequest
from atten_scope.common.progress import ReportProgress, ignore_progress
from atten_scope.engine.analysis import (
    DEFAULT_MAX_TOKENS,
    MAX_WINDOWS,
    Analysis,
    first_difference,
    plan_windows,
    run_analysis,
    tokenize_text,
    window_shape,
)
from atten_scope.engine.architecture import attention_modules, layer_devices
from atten_scope.engine.capture import finish_window, keep_final_hidden_states
from atten_scope.engine.hooks import hooked
from atten_scope.engine.kv_cache import buffer_cache, placed_cache
from atten_scope.engine.model import LoadedModel
from atten_scope.engine.prediction import Head, Reference
from atten_scope.engine.recorder import Recorder, recording
from atten_scope.engine.stopping import CodeStop, SeededSampling, indent_width, stop_point
from atten_scope.engine.storage import MemoryBudget
from atten_scope.engine.tokens import TokenizedDocument, extend
from atten_scope.engine.window import CapturedWindow
from atten_scope.limits import ALTERNATIVES, MAX_NEW_TOKENS

LN2 = math.log(2.0)


@dataclass(frozen=True)
class GenerationSettings:
    """How to continue: at most ``max_new_tokens`` tokens (forced ones included), greedy at
    temperature 0 else sampled with ``seed`` (None: a fresh one, reported), ``alternatives`` per
    token, and ``forced`` ids the completion begins with (a branch)."""

    max_new_tokens: int = MAX_NEW_TOKENS.default
    temperature: float = 0.0
    seed: int | None = None
    alternatives: int = ALTERNATIVES.default
    forced: tuple[int, ...] = ()
    code_stops: bool = True  # False: only the limit and the end-of-sequence token stop it (benchmarks)


@dataclass(frozen=True)
class Alternative:
    id: int
    probability: float


@dataclass(frozen=True)
class GeneratedToken:
    """One completion token: ``index`` in the completion analysis, [start, end) in code points of
    the completion text, p_t(x_t), H_t in bits, whether it was forced, and the top alternatives."""

    index: int
    id: int
    start: int
    end: int
    probability: float
    entropy: float
    forced: bool
    alternatives: tuple[Alternative, ...]


@dataclass
class Generation:
    """A completion and the analysis of context + completion (tokens [start, analysis.token_count))."""

    analysis: Analysis
    context: str  # the text before the cursor: analysis.document.text begins with it
    start: int
    text: str
    tokens: list[GeneratedToken]
    stop: str  # "limit" | "endOfSequence" | "dedent" | "blankLines"
    seed: int | None  # the seed sampling used (None: greedy)
    reused_tokens: int  # context tokens copied from the analysis
    computed_tokens: int  # context tokens the model ran over
    seconds: float


def check_settings(settings: GenerationSettings, vocabulary: int | None = None) -> None:
    """Refuse settings outside their limits, with the request's field names; forced ids too when the
    model's ``vocabulary`` size is given."""
    if not MAX_NEW_TOKENS.minimum <= settings.max_new_tokens <= MAX_NEW_TOKENS.maximum:
        raise InvalidRequest(
            f"maxNewTokens must be a whole number from {MAX_NEW_TOKENS.minimum} to {MAX_NEW_TOKENS.maximum}."
        )
    if not ALTERNATIVES.minimum <= settings.alternatives <= ALTERNATIVES.maximum:
        raise InvalidRequest(
            f"alternatives must be a whole number from {ALTERNATIVES.minimum} to {ALTERNATIVES.maximum}."
        )
    if not math.isfinite(settings.temperature) or settings.temperature < 0:
        raise InvalidRequest("temperature must be a number of 0 or more (0: the most probable token each time).")
    if len(settings.forced) >= settings.max_new_tokens:
        raise InvalidRequest(
            f"forced has {len(settings.forced)} tokens: fewer than maxNewTokens ({settings.max_new_tokens}) are needed "
            "so that the model continues after them."
        )
    wrong = [i for i in settings.forced if vocabulary is not None and not 0 <= i < vocabulary]
    if vocabulary is not None and wrong:
        raise InvalidRequest(f"forced token id {wrong[0]} is not in the model's vocabulary (0 to {vocabulary - 1}).")


def generate(
    loaded: LoadedModel,
    source: Analysis | str,
    cursor: int,
    settings: GenerationSettings | None = None,
    *,
    previous: Analysis | None = None,
    max_tokens: int | None = None,
    progress: ReportProgress = ignore_progress,
    budget: MemoryBudget | None = None,
) -> Generation:
    """Continue ``source``'s text before code point ``cursor`` (see the module doc).

    ``source``: an analysis of the text (its state is reused) or the text itself, then with an
    optional ``previous`` analysis of an earlier version whose agreeing token prefix is reused.
    ``max_tokens``: the window size (default: the analysis'). With ``budget``, the completion's
    window is refused before the model runs when it cannot fit, and admitted (compacted) after.
    Stops with ``Cancelled`` at the next layer or token once this thread's work is cancelled.
    """
    began = time.perf_counter()
    settings = settings or GenerationSettings()
    if isinstance(source, Analysis):
        text, previous = source.document.text, source
    else:
        text = source
    size = max_tokens or (previous.max_tokens if previous is not None else DEFAULT_MAX_TOKENS)
    check_settings(settings, int(loaded.model.config.get_text_config().vocab_size))
    if cursor <= 0:
        raise InvalidRequest("The cursor is at the start of the file: there is no code before it to continue.")
    if cursor > len(text):
        raise InvalidRequest(f"The cursor (character {cursor}) is past the end of the file ({len(text)} characters).")
    document = tokenize_text(loaded, text[:cursor])
    plan = plan_windows(len(document), size)
    if len(plan) > MAX_WINDOWS:
        raise InvalidRequest(
            "The cursor is past the part of the file that is analysed: move it up, or raise maxTokens."
        )
    shape = window_shape(loaded)
    if budget is not None:
        budget.check_fits(
            shape, [end - start for start, end in plan[:-1]] + [len(document) - plan[-1][0] + settings.max_new_tokens]
        )
    analysed_here = previous is None or previous.max_tokens != size
    if analysed_here:
        # Nothing to reuse: the context is analysed as a document is (a prefill measured against a
        # plain forward pass), then generation continues from its state.
        previous = run_analysis(loaded, document.text, size, progress=progress)
    windows, prefix, reuse, reused, computed = _context(loaded, document, plan, previous, size, progress)
    if analysed_here:
        reused, computed = 0, computed + reused
    start = plan[-1][0]
    ids = document.ids[start:]
    if budget is not None:
        budget.make_room(shape.capture_bytes(len(ids) + settings.max_new_tokens))
    line_start = text.rfind("\n", 0, cursor) + 1
    window, kept, stop, seed = _generate(
        loaded, ids, start, prefix, reuse, settings, indent_width(text[line_start:cursor]), progress
    )
    completed = extend(document, loaded.tokenizer, kept)
    tokens = _token_stats(loaded, window, completed, len(document), len(document.text), settings)
    if budget is not None:
        for kept_window in [*windows, window]:  # the context's own were analysed at full precision
            budget.admit(kept_window)
    analysis = Analysis(
        document=completed,
        windows=[*windows, window],
        info=loaded.info,
        max_tokens=size,
        elapsed_ms=(time.perf_counter() - began) * 1000,
        reused_tokens=reused,
        head=Head.of(loaded.model),
        model=loaded.model,
    )
    progress(1.0, "Completion done")
    return Generation(
        analysis=analysis,
        context=document.text,
        start=len(document),
        text=completed.text[len(document.text) :],
        tokens=tokens,
        stop=stop,
        seed=seed,
        reused_tokens=reused,
        computed_tokens=computed,
        seconds=time.perf_counter() - began,
    )


def _context(
    loaded: LoadedModel,
    document: TokenizedDocument,
    plan: list[tuple[int, int]],
    previous: Analysis | None,
    size: int,
    progress: ReportProgress,
) -> tuple[list[CapturedWindow], CapturedWindow | None, int, int, int]:
    """(earlier windows, the prefix of the completion's window, how many of its tokens to copy from
    it, context tokens reused, context tokens computed) for the context ``document`` in ``plan``."""
    usable = previous if previous is not None and previous.max_tokens == size else None
    changed = first_difference(usable.document.ids, document.ids) if usable is not None else 0
    by_bounds = {(w.start, w.n): w for w in usable.windows} if usable is not None else {}
    earlier = [by_bounds.get((s, e - s)) for s, e in plan[:-1]]
    start, end = plan[-1]
    if all(w is not None and changed > w.start + w.n for w in earlier):
        found = [w for w in earlier if w is not None]
        prefix = next((w for w in usable.windows if w.start == start), None) if usable is not None else None
        reuse = max(0, min(changed - start, end - start - 1)) if prefix is not None else 0
        return found, prefix, reuse, sum(w.n for w in found) + reuse, end - start - reuse
    # The text differs inside an earlier window: analyse the context again, reusing what agrees.
    context = run_analysis(loaded, document.text, size, previous=usable, progress=progress)
    last = context.windows[-1]
    computed = sum(w.recomputed for w in context.windows) + 1  # the last token runs again to begin generating
    return context.windows[:-1], last, last.n - 1, context.reused_tokens, computed


def _generate(
    loaded: LoadedModel,
    ids: list[int],
    start: int,
    prefix: CapturedWindow | None,
    reuse: int,
    settings: GenerationSettings,
    indent: int,
    progress: ReportProgress,
) -> tuple[CapturedWindow, list[int], str, int | None]:
    """Generate after the window's context ``ids`` (its first ``reuse`` copied from ``prefix``) and
    capture it: (the window of context + kept completion, the kept completion ids, stop, seed)."""
    from transformers import DynamicCache, LogitsProcessorList, StoppingCriteriaList, TemperatureLogitsWarper

    model, info = loaded.model, loaded.info
    parameter = next(model.parameters())
    device = parameter.device
    forced = list(settings.forced)
    capacity = len(ids) + settings.max_new_tokens
    layer_count = int(model.config.get_text_config().num_hidden_layers)
    recorder = Recorder(layer_count=layer_count, offset=reuse, prefix=prefix if reuse > 0 else None)
    recorder.allocate(capacity, info.heads, info.kv_heads, info.head_dim, info.head_dim, parameter.dtype, device)
    assert recorder.key is not None and recorder.value is not None
    places = layer_devices(model)
    if set(places.values()) <= {device}:
        cache = buffer_cache(recorder.key, recorder.value, reuse)
    else:
        cache = placed_cache(prefix.key, prefix.value, reuse, places, device) if prefix and reuse else DynamicCache()
    for layer in cache.layers:
        layer.is_croppable = False  # generate must not run ahead and roll back (MPS): the capture has no undo
    config = copy.deepcopy(model.generation_config)
    config.update(do_sample=False, max_new_tokens=settings.max_new_tokens - len(forced), num_beams=1)
    eos = config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    if config.pad_token_id is None and eos_ids:
        config.pad_token_id = min(eos_ids)
    seed = None
    processors = LogitsProcessorList()
    if settings.temperature > 0:
        seed = settings.seed if settings.seed is not None else secrets.randbelow(1 << 31)
        processors.extend([TemperatureLogitsWarper(settings.temperature), SeededSampling(seed)])
    limit = settings.max_new_tokens

    def report(done: int) -> None:
        progress(done / limit, f"Generated {done} of at most {limit} tokens")

    stop_rule = CodeStop(loaded.tokenizer, ids[-1:], len(ids), indent, report)
    stop_rule.since = len(stop_rule.decode(forced)) if forced else 0
    stop_rule.active = settings.code_stops

    def advance(_module: Any, args: Any, kwargs: Any, _output: Any) -> None:
        given = kwargs.get("input_ids", args[0] if args else None)
        recorder.offset += int(given.shape[-1])  # the next pass writes its rows after this one's
        recorder.order = 0

    progress(0.0, f"Running the model over {len(ids) - reuse} tokens before the cursor")
    reference = None
    with hooked() as hooks:
        for _, module in attention_modules(model):
            hooks.pre(module, lambda *_: cancellation.check())  # a long prefill stops within a layer
        found = keep_final_hidden_states(hooks, model)
        hooks.forward(model, advance, with_kwargs=True)
        with torch.inference_mode(), recording(recorder):
            full = torch.tensor([ids + forced], dtype=torch.long, device=device)
            sequences = model.generate(
                full,
                attention_mask=torch.ones_like(full),
                past_key_values=cache,
                generation_config=config,
                logits_processor=processors,
                stopping_criteria=StoppingCriteriaList([stop_rule]),
            )
            generated = [int(i) for i in sequences[0, len(ids) :].tolist()]
            kept, stop = _kept(generated, len(forced), settings.max_new_tokens, eos_ids, stop_rule)
            if kept == len(generated):
                # generate never feeds its last token back: one pass records it
                last = torch.tensor([[generated[-1]]], dtype=torch.long, device=device)
                place = torch.tensor([[len(ids) + kept - 1]], device=device)
                output = model(input_ids=last, past_key_values=cache, position_ids=place, logits_to_keep=1)
                reference = Reference.of(getattr(output, "logits", None))
    n = len(ids) + kept
    hidden = _hidden(found, prefix, reuse, n)
    window = finish_window(model, recorder, ids + generated[:kept], start, reuse, prefix, hidden, reference, None)
    return window, generated[:kept], stop, seed


def _kept(generated: list[int], forced: int, limit: int, eos_ids: set[int], rule: CodeStop) -> tuple[int, str]:
    """How many generated tokens the completion keeps, and why it stopped (module doc)."""
    ended = next((k for k in range(forced, len(generated)) if generated[k] in eos_ids), None)
    if ended is not None:
        return ended, "endOfSequence"
    found = stop_point(rule.decode(generated), rule.indent, rule.since) if rule.active else None
    if found is None:
        return len(generated), "limit" if len(generated) >= limit else "endOfSequence"
    reason, cut = found
    kept = forced
    while kept < len(generated) and len(rule.decode(generated[:kept])) < max(cut, rule.since):
        kept += 1
    return kept, reason


def _hidden(found: list[torch.Tensor], prefix: CapturedWindow | None, reuse: int, n: int) -> torch.Tensor | None:
    """The window's final hidden rows (n, hidden): the prefix's first ``reuse``, then every pass's."""
    if not found:
        return None
    computed = torch.cat([rows[0] for rows in found])
    if reuse == 0:
        return computed[:n]
    if prefix is None or prefix.hidden is None:
        return None
    return torch.cat([prefix.hidden[:reuse].to(device=computed.device, dtype=computed.dtype), computed])[:n]


def _token_stats(
    loaded: LoadedModel,
    window: CapturedWindow,
    document: TokenizedDocument,
    first: int,
    base: int,
    settings: GenerationSettings,
) -> list[GeneratedToken]:
    """Per completion token t: p_t(x_t), H_t and the top alternatives, from the LM head over the
    hidden row before it (the row whose prediction chose it), in blocks."""
    head = Head.of(loaded.model)
    count = len(document) - first
    if head is None or window.hidden is None or count == 0:
        return [_token(document, first, base, k, math.nan, math.nan, (), settings) for k in range(count)]
    local = first - window.start  # the window-local index of the first completion token
    out: list[GeneratedToken] = []
    step = head.block_rows()
    for block in range(0, count, step):
        cancellation.check()
        rows = window.hidden[local - 1 + block : local - 1 + min(count, block + step)]
        logp = torch.log_softmax(head.logits(rows), dim=-1)
        entropy = -(logp.exp() * logp).nan_to_num().sum(dim=-1) / LN2
        top = torch.topk(logp, min(settings.alternatives, logp.shape[-1]), dim=-1) if settings.alternatives else None
        for r in range(rows.shape[0]):
            k = block + r
            chosen = float(logp[r, document.ids[first + k]].exp())
            alternatives: tuple[Alternative, ...] = ()
            if top is not None:
                pairs = zip(top.indices[r].tolist(), top.values[r].exp().tolist(), strict=True)
                alternatives = tuple(Alternative(int(i), float(p)) for i, p in pairs)
            out.append(_token(document, first, base, k, chosen, float(entropy[r]), alternatives, settings))
    return out


def _token(
    document: TokenizedDocument,
    first: int,
    base: int,
    k: int,
    probability: float,
    entropy: float,
    alternatives: tuple[Alternative, ...],
    settings: GenerationSettings,
) -> GeneratedToken:
    index = first + k
    return GeneratedToken(
        index=index,
        id=document.ids[index],
        start=document.starts[index] - base,
        end=document.ends[index] - base,
        probability=probability,
        entropy=entropy,
        forced=k < len(settings.forced),
        alternatives=alternatives,
    )
