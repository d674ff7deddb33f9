"""A view request as its builder receives it, and the table of builders (one per ``registry.VIEWS`` entry).

A builder is a function of one ``ViewRequest``: the analysis, the view's typed params, and what
the caller holds for it (the user's view settings, the editor's symbols, the loaded model for a
view that runs it, a progress reporter, the memory budget). It checks ``cancellation.check()``
in its loops. The language server calls builders through one handler (``lsp.requests``); the
CLI, the report and the tests through ``builders.view_result``.

Adding a view: its builder, registered with ``@builds("name", ItsParams)``, and one registry entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from atten_scope.common.progress import ReportProgress, ignore_progress
from atten_scope.engine.analysis import Analysis
from atten_scope.engine.model import LoadedModel
from atten_scope.engine.storage import MemoryBudget
from atten_scope.protocol.encode import token_at_position
from atten_scope.protocol.fields import parse_params
from atten_scope.protocol.params import Position, ViewFields, view_fields
from atten_scope.registry import VIEWS, Implementations
from atten_scope.views.evidence import default_options
from atten_scope.views.options import ViewOptions

P = TypeVar("P")


@dataclass(frozen=True)
class ViewRequest(Generic[P]):
    """What a builder answers from: ``analysis`` and the view's ``params``, with the caller's context."""

    analysis: Analysis
    params: P
    version: int | None = None  # the document version the answer is for
    # Set while the document has changed since its analysis: only tokens [0, fresh_tokens) are exact.
    fresh_tokens: int | None = None
    # The user's view settings (protocol names; a request's own fields win), as the settings hold them.
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # The editor's definitions in the document (``attenScope/symbols``), raw; a request's own win.
    symbols: Sequence[Any] | None = None
    # The loaded model, for a view that runs it (``registry.View.runs_model``); it analysed ``analysis``.
    model: LoadedModel | None = None
    progress: ReportProgress = ignore_progress
    # Captured state of every analysis the caller holds: a view that analyses more text counts it here.
    budget: MemoryBudget | None = None
    # Where a view hands over what it made for later requests (a completion, ``generation.Generation``)
    # and learns the URI that names it (None: the caller keeps nothing).
    keep: Callable[[Any], str] | None = None
    # What the caller keeps, by URI (the completions of this document): views that read one look it up.
    completions: Mapping[str, Any] = field(default_factory=dict)
    # The document's language id (the editor's ``languageId``): a faithfulness figure says whether it
    # was measured on that language or stands in for it (``evidence.view_faithfulness``).
    language: str | None = None

    def options(self, fields: ViewFields, fixed: ViewFields | None = None) -> ViewOptions:
        """The model's default view, overlaid with the user's settings, the request's ``fields`` and
        what the view ``fixed``, checked against the model's layers and heads."""
        info = self.analysis.info
        merged = fields.over(view_fields(self.defaults))
        if fixed is not None:
            merged = fixed.over(merged)
        return merged.apply(default_options(info.id), info.layers, info.heads)

    def token(self, position: Position) -> int:
        """The token at ``position``, refused when it was edited after the analysis (``fresh_tokens``)."""
        return token_at_position(self.analysis, position, self.fresh_tokens)


@dataclass(frozen=True)
class Builder:
    """A view's builder and the params class its requests are parsed into."""

    params: type[Any]
    build: Callable[[ViewRequest[Any]], dict[str, Any]]

    def __call__(self, request: ViewRequest[Any]) -> dict[str, Any]:
        return self.build(request)

    def parse(self, raw: Any) -> Any:
        return parse_params(self.params, raw)


BUILDERS = Implementations[Builder](VIEWS, "view")
F = TypeVar("F", bound=Callable[[ViewRequest[Any]], dict[str, Any]])


def builds(name: str, params: type[Any]) -> Callable[[F], F]:
    """A decorator: its function builds the answer of the view ``name``, from requests parsed as ``params``."""

    def register(build: F) -> F:
        BUILDERS.register(name)(Builder(params, build))
        return build

    return register
