"""The sentences a user reads about an answer, shared by the hover card, the CLI and the HTML report.

Each reads the JSON of an answer (``encode.prediction_json``, ``encode.surprisal_json``,
``ViewOptions.to_json``), so every surface words the same numbers the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def percent(probability: float) -> str:
    """A probability as a percentage with two significant digits at most: 62%, 7.5%, 0.71%, 0.0031%."""
    value = 100.0 * probability
    if value >= 9.95:
        return f"{value:.0f}%"
    if value >= 0.995:
        return f"{value:.1f}%"
    if value <= 0:
        return "0%"
    return f"{value:.2g}%" if value >= 1e-4 else f"{value:.1e}%"


def prediction_sentence(prediction: dict[str, Any] | None, quote: Callable[[str], str]) -> str | None:
    """``Predicts `all` (62%), then `(` 11%, …; actual next `all`: rank 1 (62%)`` from a ``prediction``
    (``prediction_json``), with token labels shown by ``quote``; None when there is none."""
    if not prediction or not prediction.get("top"):
        return None
    top = prediction["top"]
    line = f"Predicts {quote(top[0]['text'])} ({percent(top[0]['probability'])})"
    if len(top) > 1:
        line += ", then " + ", ".join(f"{quote(t['text'])} {percent(t['probability'])}" for t in top[1:])
    actual = prediction.get("actual")
    if actual is None:
        return line + "; nothing follows (end of the file)"
    return line + f"; actual next {quote(actual['text'])}: rank {actual['rank']} ({percent(actual['probability'])})"


def surprisal_sentence(surprisal: dict[str, Any] | None, shown: str) -> str | None:
    """``Surprisal 7.2 bits: the model gave `send` 0.7% after the text before it`` (``surprisal_json``;
    the colour of the surprise heat), or None for the first token."""
    if not surprisal:
        return None
    bits, probability = surprisal["bits"], surprisal["probability"]
    return f"Surprisal {bits:.1f} bits: the model gave {shown} {percent(probability)} after the text before it"


def settings_line(settings: Mapping[str, Any]) -> str:
    """A view's settings (``ViewOptions.to_json``) as a short line for people:
    ``norm \u00b7 lastLayers \u00b7 attendsTo``, then a layer or head selection and ``sink kept`` when they apply."""
    parts = [str(settings.get("refinement")), str(settings.get("aggregate")), str(settings.get("direction"))]
    for key in ("layers", "heads"):
        value = settings.get(key)
        if value != "all" and isinstance(value, list):
            parts.append(f"{key} {', '.join(str(v) for v in value)}")
    if not settings.get("dropSink", True):
        parts.append("sink kept")
    return " \u00b7 ".join(parts)


def settles_sentence(lens: Mapping[str, Any], quote: Callable[[str], str]) -> str | None:
    """``settles on `)` at layer 14 of 30`` from a logit lens (``logitLens`` and ``settledAt`` of the
    answer): the last layer's first choice, shown by ``quote``, and ``settledAt`` counted from 1 among
    the model's layers; None without layers."""
    layers = lens.get("logitLens") or []
    if not layers or not layers[-1].get("top"):
        return None
    final = layers[-1]["top"][0]["text"]
    return f"settles on {quote(final)} at layer {int(lens['settledAt']) + 1} of {len(layers)}"


def contrast_sentence(contrast: Mapping[str, Any], quote: Callable[[str], str]) -> str:
    """``Predicts `)` over `,` by 3.2 logits: attention +2.1, the MLPs +1.5, the token's own embedding
    -0.3, the rest -0.1`` from a contrast (``attenScope/contrast``): its parts, which add up to the difference."""
    predicted, alternative = contrast["predicted"], contrast["alternative"]
    parts = (
        ("attention", contrast["attention"]),
        ("the MLPs", contrast["mlp"]),
        ("the token's own embedding", contrast["residual"]),
        ("the rest", contrast["remainder"]),
    )
    shares = ", ".join(f"{name} {value:+.2f}" for name, value in parts)
    return (
        f"Predicts {quote(predicted['text'])} over {quote(alternative['text'])} by "
        f"{contrast['difference']:.2f} logits: {shares}"
    )
