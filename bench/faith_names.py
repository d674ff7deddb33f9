"""What the faithfulness benchmark compares: the methods' names and the situations it scores.

The definitions are those of ``faithfulness.py``'s docstring; every part of the benchmark (ablations,
scoring, bootstrap, tables) reads them from here.
"""

from __future__ import annotations

from report import ensure_engine_importable

ensure_engine_importable()

import residual  # noqa: E402
from atten_scope import registry  # noqa: E402
from atten_scope.registry import REFINEMENTS  # noqa: E402

MODEL = "embedded:smollm2-135m"
# Every aggregate a user can pick over all layers and heads (headMean over all layers is the layer mean).
AGGREGATES = tuple(name for name, spec in registry.AGGREGATES.items() if not spec.one_head)
LATE_ROLLOUT = "rollout of the last half"  # a rollout variant: only the later layers are multiplied
ENGINE_VIEWS = {f"{r} / {a}" for r in REFINEMENTS for a in AGGREGATES}  # what users can pick
GRADIENT = "gradient x input"
ALTI = "altiRollout"  # the engine's ALTI rollout view (flow.py): not a refinement / aggregate pair
REFERENCE = "raw / headMean"
ATTENTION = "atten_scope"
POSITIONS = ("last", "interior")
UNITS = ("token", "line")
BASELINES = ("space", "delete")
SITUATIONS = tuple(f"{p}/{u}/{b}" for p in POSITIONS for u in UNITS for b in BASELINES)
# The linear datamodeling score of each position and unit (``faith_lds.py``): random half removals.
LDS = "lds"
LDS_SITUATIONS = tuple(f"{p}/{u}/{LDS}" for p in POSITIONS for u in UNITS)
ALL_SITUATIONS = SITUATIONS + LDS_SITUATIONS
MIN_CONTEXT = 16  # an interior query has at least this many tokens before it
MIN_LINES = 3  # fewer line units give no line-level rho


def with_residual(model_id: str) -> bool:
    """The residual-aware references (bench/residual.py) follow the Llama block layout of the default model."""
    return model_id == MODEL


def aggregates(model_id: str = MODEL) -> tuple[str, ...]:
    """The aggregates scored for ``model_id``: ``AGGREGATES``, the learned one only where the model
    ships its coefficients (``views/learned.py``)."""
    from atten_scope.views.learned import learned_heads

    return tuple(a for a in AGGREGATES if not registry.AGGREGATES[a].learned or learned_heads(model_id) is not None)


def method_names(model_id: str = MODEL) -> list[str]:
    """Every method scored for ``model_id``, in the order of the tables before sorting."""
    engine = [f"{r} / {a}" for r in REFINEMENTS for a in aggregates(model_id)]
    late = [f"{r} / {LATE_ROLLOUT}" for r in ("raw", "norm")]
    return engine + late + [ALTI] + (residual.method_names() if with_residual(model_id) else []) + [GRADIENT]
