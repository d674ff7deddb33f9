"""View options shared by the CLI and the language server, validated into sentences a user understands."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .aggregate import AGGREGATES
from .errors import InvalidRequest
from .refine import REFINEMENTS

DIRECTIONS = ("attendsTo", "attendedBy")
DEFAULT_REFINEMENT = "norm"  # the most faithful view measured (bench/RESULTS.md), with lastLayers
DEFAULT_AGGREGATE = "lastLayers"
MAX_TOP_K = 1000


@dataclass(frozen=True)
class ViewOptions:
    direction: str = "attendsTo"
    refinement: str = DEFAULT_REFINEMENT
    aggregate: str = DEFAULT_AGGREGATE
    layers: tuple[int, ...] | None = None  # None: all layers
    heads: tuple[int, ...] | None = None  # None: all heads
    drop_sink: bool = True
    top_k: int = 20

    def to_json(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "refinement": self.refinement,
            "aggregate": self.aggregate,
            "layers": "all" if self.layers is None else list(self.layers),
            "heads": "all" if self.heads is None else list(self.heads),
            "dropSink": self.drop_sink,
            "topK": self.top_k,
        }


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidRequest(f"Unknown {what} {value!r}: use one of {', '.join(allowed)}.")
    return value


def parse_selection(value: Any, count: int, what: str) -> tuple[int, ...] | None:
    """``"all"`` or a list of indices (0-based) below ``count``; ``None`` means all."""
    if value is None or value == "all":
        return None
    if isinstance(value, bool) or not isinstance(value, (list, tuple)) or not value:
        raise InvalidRequest(f'{what} must be "all" or a non-empty list of {what} numbers.')
    chosen = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise InvalidRequest(f"{what} must be whole numbers, got {item!r}.")
        if not 0 <= item < count:
            raise InvalidRequest(f"{what} {item} does not exist: the model has {count} (0 to {count - 1}).")
        chosen.append(item)
    return tuple(sorted(set(chosen)))


def parse_options(params: dict[str, Any], base: ViewOptions, layers: int, heads: int) -> ViewOptions:
    """Overlay request ``params`` (protocol names) on ``base``, validating each field."""
    if not isinstance(params, dict):
        raise InvalidRequest("The request parameters must be an object.")
    options = base
    if params.get("direction") is not None:
        options = replace(options, direction=_choice(params["direction"], DIRECTIONS, "direction"))
    if params.get("refinement") is not None:
        options = replace(options, refinement=_choice(params["refinement"], REFINEMENTS, "refinement"))
    if params.get("aggregate") is not None:
        options = replace(options, aggregate=_choice(params["aggregate"], AGGREGATES, "aggregate"))
    if "layers" in params:
        options = replace(options, layers=parse_selection(params["layers"], layers, "layers"))
    if "heads" in params:
        options = replace(options, heads=parse_selection(params["heads"], heads, "heads"))
    if params.get("dropSink") is not None:
        if not isinstance(params["dropSink"], bool):
            raise InvalidRequest("dropSink must be true or false.")
        options = replace(options, drop_sink=params["dropSink"])
    if params.get("topK") is not None:
        top_k = params["topK"]
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise InvalidRequest("topK must be a positive whole number.")
        options = replace(options, top_k=min(top_k, MAX_TOP_K))
    check_combination(options, layers, heads)
    return options


def check_combination(options: ViewOptions, layers: int, heads: int) -> None:
    if options.aggregate == "perHead":
        chosen_layers = options.layers if options.layers is not None else tuple(range(layers))
        chosen_heads = options.heads if options.heads is not None else tuple(range(heads))
        if len(chosen_layers) != 1 or len(chosen_heads) != 1:
            raise InvalidRequest("The perHead aggregate shows one head: choose exactly one layer and one head.")
