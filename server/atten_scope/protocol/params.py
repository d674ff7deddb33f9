"""The parameters of every request, typed: one frozen dataclass each, read by ``fields.parse_params``.

A request is ``DocumentRequest`` (the document, its version, a progress token) plus its view's
params (``ViewRequest.params``). What depends on the model or the document (a layer index, a
position inside the text, a token span) is checked where they are known, with the same sentences.
No torch: the CLI and the settings validate before a model loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from atten_scope import limits
from atten_scope.common.errors import InvalidRequest
from atten_scope.limits import ALTERNATIVES, FLOW_NODES, FLOW_THRESHOLD, LENS_TOP, MAX_NEW_TOKENS, TOP_K, Limit
from atten_scope.protocol.fields import (
    All,
    array,
    boolean,
    fraction,
    line_ranges,
    nested,
    non_negative,
    one_of,
    one_or_all,
    param,
    parse_params,
    progress_token,
    selection,
    span,
    string,
    token_choice,
    token_ids,
    whole,
    within,
)
from atten_scope.registry import AGGREGATES, DIRECTIONS, REFINEMENTS
from atten_scope.views.options import ViewOptions

HEATMAP_BIN_LIMIT = Limit(1, limits.HEATMAP_BINS, limits.HEATMAP_BINS)
SEED = Limit(0, (1 << 63) - 1, 0)  # what torch.Generator.manual_seed takes


def _version(value: Any, name: str) -> int:
    # A version is compared with the document's: "1" would never equal 1 and the client would retry forever.
    return whole(value, name)


@dataclass(frozen=True, kw_only=True)
class DocumentRef:
    """``textDocument``: which document, and optionally the version the request's positions refer to."""

    uri: str = param("uri", string)
    version: int | None = param("version", _version, None)


@dataclass(frozen=True, kw_only=True)
class DocumentRequest:
    """What every request carries besides its view's params."""

    text_document: DocumentRef = param("textDocument", nested(DocumentRef))
    work_done_token: str | int | None = param("workDoneToken", progress_token, None)


@dataclass(frozen=True, kw_only=True)
class ContextFileParam:
    """One of ``contextFiles``: a file the model reads before the document, as the editor holds it."""

    uri: str = param("uri", string)
    text: str = param("text", lambda value, name: _text(value, name))


def _text(value: Any, name: str) -> str:
    """Any JSON string (a file may be empty), without NUL characters (the mark of a binary file)."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string (the file's text).")
    if "\x00" in value:
        raise InvalidRequest(f"{name} looks binary (it contains NUL characters): choose text files.")
    return value


def context_files(value: Any, name: str) -> tuple[ContextFileParam, ...]:
    """A list of ``{uri, text}``, in the order the model reads them: at most ``limits.CONTEXT_FILES``
    files, ``limits.CONTEXT_CHARACTERS`` characters in all, no URI twice."""
    if not isinstance(value, list):
        raise InvalidRequest(f"{name} must be a list of {{uri, text}}.")
    if len(value) > limits.CONTEXT_FILES:
        raise InvalidRequest(
            f"{name} lists {len(value)} files: at most {limits.CONTEXT_FILES} are read before the document."
        )
    files = tuple(parse_params(ContextFileParam, item, prefix=f"{name}[{i}].") for i, item in enumerate(value))
    total = sum(len(file.text) for file in files)
    if total > limits.CONTEXT_CHARACTERS:
        raise InvalidRequest(
            f"{name} hold {total:,} characters: at most {limits.CONTEXT_CHARACTERS:,} in all are read before the "
            "document. Choose fewer or smaller files."
        )
    seen: set[str] = set()
    for i, file in enumerate(files):
        if file.uri in seen:
            raise InvalidRequest(f"{name}[{i}] names a file listed before it: list each file once.")
        seen.add(file.uri)
    return files


@dataclass(frozen=True, kw_only=True)
class AnalyzeRequest(DocumentRequest):
    """``attenScope/analyze``: the document, and the files the model reads before it (none by default)."""

    context_files: tuple[ContextFileParam, ...] = param("contextFiles", context_files, ())


@dataclass(frozen=True, kw_only=True)
class Position:
    """An LSP position: 0-based line and UTF-16 character (checked against the document where it is used)."""

    line: int = param("line", whole)
    character: int = param("character", whole)


@dataclass(frozen=True, kw_only=True)
class ViewFields:
    """The view options a request may set; each left out comes from the user's settings, then the model's default."""

    direction: str | None = param("direction", one_of(DIRECTIONS, "direction"), None)
    refinement: str | None = param("refinement", one_of(REFINEMENTS, "refinement"), None)
    aggregate: str | None = param("aggregate", one_of(AGGREGATES, "aggregate"), None)
    layers: tuple[int, ...] | All | None = param("layers", selection, None)
    heads: tuple[int, ...] | All | None = param("heads", selection, None)
    drop_sink: bool | None = param("dropSink", boolean, None)
    top_k: int | None = param("topK", within(TOP_K), None)

    def over(self, base: ViewFields) -> ViewFields:
        """These fields, with ``base``'s where these leave one out."""
        given = {f.name: getattr(self, f.name) for f in fields(ViewFields) if getattr(self, f.name) is not None}
        return replace(base, **given)

    def apply(self, base: ViewOptions, layers: int, heads: int) -> ViewOptions:
        """``base`` with these fields, layer and head indices checked against the model's ``layers`` and ``heads``."""
        options = base
        for name in ("direction", "refinement", "aggregate", "drop_sink", "top_k"):
            if getattr(self, name) is not None:
                options = replace(options, **{name: getattr(self, name)})
        if self.layers is not None:
            options = replace(options, layers=_indices(self.layers, layers, "layers"))
        if self.heads is not None:
            options = replace(options, heads=_indices(self.heads, heads, "heads"))
        _check_combination(options, layers, heads)
        return options


VIEW_KEYS = tuple(f.metadata["atten_scope.param"].name for f in fields(ViewFields))


def view_fields(params: Mapping[str, Any]) -> ViewFields:
    """The view options of settings or the CLI, where a key set to None is unset (VS Code's unset setting)."""
    return parse_params(ViewFields, {k: v for k, v in params.items() if k in VIEW_KEYS and v is not None})


def parse_options(params: Mapping[str, Any], base: ViewOptions, layers: int, heads: int) -> ViewOptions:
    """Overlay view options (protocol names; None: unset) on ``base`` for a model of ``layers`` x ``heads``."""
    if not isinstance(params, Mapping):
        raise InvalidRequest("The request parameters must be an object.")
    return view_fields(params).apply(base, layers, heads)


def _indices(chosen: tuple[int, ...] | All, count: int, what: str) -> tuple[int, ...] | None:
    """A selection checked against the model's ``count``; None means all."""
    if chosen == "all":
        return None
    for item in chosen:
        if not 0 <= item < count:
            raise InvalidRequest(f"{what} {item} does not exist: the model has {count} (0 to {count - 1}).")
    return chosen


def _check_combination(options: ViewOptions, layers: int, heads: int) -> None:
    if options.aggregate_spec.one_head:
        chosen_layers = options.layers if options.layers is not None else tuple(range(layers))
        chosen_heads = options.heads if options.heads is not None else tuple(range(heads))
        if len(chosen_layers) != 1 or len(chosen_heads) != 1:
            raise InvalidRequest(
                f"The {options.aggregate} aggregate shows one head: choose exactly one layer and one head."
            )


# ---- the params of each view (registry.VIEWS); the builder of a view declares which it reads


@dataclass(frozen=True, kw_only=True)
class AttentionParams(ViewFields):
    position: Position = param("position", nested(Position))
    symbols: list[Any] | None = param("symbols", array, None)  # the request's own; else the editor's last
    # A cursor move that only paints tints skips the LM head: on Gemma 3 its 262k-row matrix costs more than the row.
    prediction: bool = param("prediction", boolean, True)


@dataclass(frozen=True, kw_only=True)
class HeadsParams(ViewFields):
    position: Position = param("position", nested(Position))


@dataclass(frozen=True, kw_only=True)
class HeatmapParams(ViewFields):
    layer: tuple[int, ...] | All = param("layer", one_or_all, "all")
    head: tuple[int, ...] | All = param("head", one_or_all, "all")
    rows: tuple[int, int] | None = param("rows", span, None)
    columns: tuple[int, int] | None = param("columns", span, None)
    bins: int = param("bins", within(HEATMAP_BIN_LIMIT), HEATMAP_BIN_LIMIT.default)

    @property
    def fixed(self) -> ViewFields:
        """The selection the heatmap's ``layer`` and ``head`` make, over the view fields."""
        return ViewFields(layers=self.layer, heads=self.head)


@dataclass(frozen=True, kw_only=True)
class HeatmapTileParams(HeatmapParams):
    def check(self) -> None:
        if self.rows is None or self.columns is None:
            raise InvalidRequest("A heatmap tile needs rows and columns, each [start, end].")


@dataclass(frozen=True, kw_only=True)
class SurpriseParams:
    rows: tuple[int, int] | None = param("rows", span, None)


@dataclass(frozen=True, kw_only=True)
class NeuronParams:
    position: Position = param("position", nested(Position))
    layer: int = param("layer", whole)
    head: int = param("head", whole)
    source: int | None = param("source", whole, None)  # a token index; the head's strongest when left out
    drop_sink: bool = param("dropSink", boolean, True)


@dataclass(frozen=True, kw_only=True)
class FlowParams:
    position: Position = param("position", nested(Position))
    threshold: float = param("threshold", fraction, FLOW_THRESHOLD)
    max_nodes: int = param("maxNodes", within(FLOW_NODES), FLOW_NODES.default)


@dataclass(frozen=True, kw_only=True)
class AltiRolloutParams:
    position: Position = param("position", nested(Position))
    drop_sink: bool = param("dropSink", boolean, True)
    top_k: int = param("topK", within(TOP_K), TOP_K.default)


@dataclass(frozen=True, kw_only=True)
class LogitLensParams:
    position: Position = param("position", nested(Position))
    top_k: int = param("topK", within(LENS_TOP), LENS_TOP.default)


@dataclass(frozen=True, kw_only=True)
class ContrastParams:
    position: Position = param("position", nested(Position))
    alternative: int | str = param("alternative", token_choice)  # an id, or the token's text
    top_k: int = param("topK", within(TOP_K), TOP_K.default)


# Lines and Range are alike in shape with Position by design: each declares two JSON fields.
@dataclass(frozen=True, kw_only=True)
class Lines:
    first: int = param("first", whole)
    last: int = param("last", whole)


@dataclass(frozen=True, kw_only=True)
class Range:
    start: Position = param("start", nested(Position))
    end: Position = param("end", nested(Position))


@dataclass(frozen=True, kw_only=True)
class RemoveLinesParams:
    lines: Lines | None = param("lines", nested(Lines), None)
    range: Range | None = param("range", nested(Range), None)
    position: Position = param("position", nested(Position))
    heat: bool = param("heat", boolean, False)

    def check(self) -> None:
        if self.lines is None and self.range is None:
            raise InvalidRequest("The request needs lines: {first, last} or range: {start, end}, the lines to remove.")

    @property
    def first_last(self) -> tuple[int, int]:
        """The lines [first, last] to remove: ``lines``, else the lines ``range`` touches. A last line
        it reaches only at character 0 is untouched (a selection of whole lines ends at the start of
        the next one), so an empty range at the start of a line touches no line and is refused."""
        if self.lines is not None:
            return self.lines.first, self.lines.last
        assert self.range is not None  # check() saw one of the two
        start, end = self.range.start, self.range.end
        first, last = start.line, end.line
        if end.character == 0 and (last > first or (last == first and start.character == 0)):
            last -= 1
            if last < first:
                raise InvalidRequest(
                    f"range is empty at the start of line {first + 1}, so it touches no line to remove: "
                    "select the lines, or name them with lines: {first, last}."
                )
        return first, last


@dataclass(frozen=True, kw_only=True)
class ExplainParams:
    """``attenScope/explainCompletion``: a kept completion (``completionUri``), else the prediction at ``position``."""

    completion_uri: str | None = param("completionUri", string, None)
    position: Position | None = param("position", nested(Position), None)
    ablations: int = param("ablations", within(limits.ABLATIONS), limits.ABLATIONS.default)
    seed: int = param("seed", whole, 0)
    symbols: list[Any] | None = param("symbols", array, None)  # the request's own; else the editor's last

    def check(self) -> None:
        if self.completion_uri is None and self.position is None:
            raise InvalidRequest(
                "The request needs completionUri (a completion to explain) or position (the prediction there)."
            )


@dataclass(frozen=True, kw_only=True)
class CompleteParams:
    """``attenScope/complete``: continue the code at ``position`` (docs/PROTOCOL.md)."""

    position: Position = param("position", nested(Position))
    max_new_tokens: int = param("maxNewTokens", within(MAX_NEW_TOKENS), MAX_NEW_TOKENS.default)
    temperature: float = param("temperature", non_negative, 0.0)
    seed: int | None = param("seed", within(SEED), None)
    alternatives: int = param("alternatives", within(ALTERNATIVES), ALTERNATIVES.default)
    forced: tuple[int, ...] = param("forced", token_ids, ())
    without_lines: tuple[tuple[int, int], ...] | None = param("withoutLines", line_ranges, None)
