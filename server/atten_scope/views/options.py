"""View options shared by the CLI and the language server, validated into sentences a user understands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from atten_scope import registry
from atten_scope.common.errors import InvalidRequest
from atten_scope.registry import AGGREGATES, DIRECTIONS, REFINEMENTS


@dataclass(frozen=True)
class ViewOptions:
    direction: str = registry.DEFAULT_DIRECTION
    refinement: str = registry.DEFAULT_REFINEMENT
    aggregate: str = registry.DEFAULT_AGGREGATE
    layers: tuple[int, ...] | None = None  # None: all layers
    heads: tuple[int, ...] | None = None  # None: all heads
    drop_sink: bool = True
    top_k: int = registry.TOP_K.default

    @property
    def refinement_spec(self) -> registry.Refinement:
        return REFINEMENTS[self.refinement]

    @property
    def aggregate_spec(self) -> registry.Aggregate:
        return AGGREGATES[self.aggregate]

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


VIEW_KEYS = ("direction", "refinement", "aggregate", "layers", "heads", "dropSink", "topK")


@dataclass(frozen=True)
class ViewQuery:
    """A view request: its params, the user's view defaults under them, and the version it answers."""

    params: Mapping[str, Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    version: int | None = None
    # Set while the document has changed since its analysis: only tokens [0, fresh_tokens) are exact.
    fresh_tokens: int | None = None
    # The editor's definitions in the document (``attenScope/symbols``), raw; a request's own
    # ``symbols`` field wins.
    symbols: Sequence[Any] | None = None

    def options(
        self, layers: int, heads: int, fixed: Mapping[str, Any] | None = None, base: ViewOptions | None = None
    ) -> ViewOptions:
        """``base`` (the model's default view; the registry's when None) overlaid with the defaults,
        the request's view fields and what the view ``fixed``; ``layers`` and ``heads`` are the
        model's counts."""
        merged = dict(self.defaults)
        merged.update({k: self.params[k] for k in VIEW_KEYS if self.params.get(k) is not None})
        merged.update(fixed or {})
        return parse_options(merged, base or ViewOptions(), layers, heads)


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
        options = replace(options, direction=registry.choice(DIRECTIONS, params["direction"], "direction"))
    if params.get("refinement") is not None:
        options = replace(options, refinement=registry.choice(REFINEMENTS, params["refinement"], "refinement"))
    if params.get("aggregate") is not None:
        options = replace(options, aggregate=registry.choice(AGGREGATES, params["aggregate"], "aggregate"))
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
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < registry.TOP_K.minimum:
            raise InvalidRequest("topK must be a positive whole number.")
        options = replace(options, top_k=min(top_k, registry.TOP_K.maximum))
    check_combination(options, layers, heads)
    return options


def check_combination(options: ViewOptions, layers: int, heads: int) -> None:
    if options.aggregate_spec.one_head:
        chosen_layers = options.layers if options.layers is not None else tuple(range(layers))
        chosen_heads = options.heads if options.heads is not None else tuple(range(heads))
        if len(chosen_layers) != 1 or len(chosen_heads) != 1:
            raise InvalidRequest(
                f"The {options.aggregate} aggregate shows one head: choose exactly one layer and one head."
            )
