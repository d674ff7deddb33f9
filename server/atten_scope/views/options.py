"""The options of a view: how rows are refined and aggregated, in which direction, and how many shown.

Parsed and checked from requests, settings and the CLI by ``protocol.params``; the views read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from atten_scope import limits, registry
from atten_scope.registry import AGGREGATES, REFINEMENTS


@dataclass(frozen=True)
class ViewOptions:
    direction: str = registry.DEFAULT_DIRECTION
    refinement: str = registry.DEFAULT_REFINEMENT
    aggregate: str = registry.DEFAULT_AGGREGATE
    layers: tuple[int, ...] | None = None  # None: all layers
    heads: tuple[int, ...] | None = None  # None: all heads
    drop_sink: bool = True
    top_k: int = limits.TOP_K.default

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
