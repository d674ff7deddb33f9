"""The builders of the views' answers, one module per family of views, registered in ``request.BUILDERS``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atten_scope.engine.analysis import Analysis
from atten_scope.protocol.builders import attention, attribution, completion, flow, heatmap, prediction, removal
from atten_scope.protocol.request import BUILDERS, Builder, ViewRequest

MODULES = (attention, heatmap, flow, prediction, removal, attribution, completion)  # imported for their registrations
BUILDERS.check()


def builder(name: str) -> Builder:
    """The builder of the view ``name`` (a ``registry.VIEWS`` key)."""
    return BUILDERS.get(name)


def view_result(name: str, analysis: Analysis, params: Mapping[str, Any], **context: Any) -> dict[str, Any]:
    """The JSON answer of the view ``name`` to ``params`` (its request's fields besides ``textDocument``);
    ``context``: the other fields of ``ViewRequest`` (``version``, ``model``, ...)."""
    chosen = BUILDERS.get(name)
    return chosen(ViewRequest(analysis, chosen.parse(dict(params)), **context))
