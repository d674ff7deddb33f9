"""The one parser of request parameters: JSON objects into frozen dataclasses, checked field by field.

A params class declares each field with ``param(json_name, kind, default)``; ``parse_params``
reads them all, and a kind (a function of the value and its JSON name) checks one value. The
rules are the same for every request (docs/PROTOCOL.md, "Parameters"):

- a JSON type is never coerced: a boolean is ``true`` or ``false``, a whole number is a JSON
  integer (``true`` and ``"1"`` are not), a number is an integer or a float;
- a field may be left out, and its default applies; ``null`` is not a value of any field;
- a number outside its limits (the registry's, announced under ``limits``) is refused, never
  clamped.

Every refusal is ``InvalidRequest`` (InvalidParams on the wire) with a sentence that names the
field. Hand-rolled rather than cattrs or pydantic: those coerce or word their errors otherwise,
and the sentence is what a user reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

from atten_scope.common.errors import InvalidRequest
from atten_scope.common.quoting import quoted
from atten_scope.limits import Limit
from atten_scope.registry import choice

T = TypeVar("T")
P = TypeVar("P")
Kind = Callable[[Any, str], T]  # (JSON value, field name) -> the parsed value, or InvalidRequest
All = Literal["all"]
_KEY = "atten_scope.param"


@dataclasses.dataclass(frozen=True)
class Param:
    """A declared field: its JSON name and the kind that checks its value."""

    name: str
    kind: Kind[Any]


def param(name: str, kind: Kind[Any], default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field read from the JSON field ``name`` by ``kind``; required without ``default``."""
    return dataclasses.field(default=default, metadata={_KEY: Param(name, kind)})


def parse_params(cls: type[P], raw: Any, prefix: str = "") -> P:
    """``raw`` (a JSON object) as ``cls``, a dataclass whose fields are declared with ``param``.

    Fields not declared are ignored; ``prefix`` names a nested object's fields (``position.line``).
    Afterwards ``cls.check()``, when it has one, checks what spans fields."""
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{prefix.rstrip('.') or 'The request parameters'} must be an object.")
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        spec: Param | None = field.metadata.get(_KEY)
        if spec is None:
            continue
        name = prefix + spec.name
        if spec.name not in raw:
            if field.default is dataclasses.MISSING:
                raise InvalidRequest(f"The request needs {name}.")
            continue
        values[field.name] = spec.kind(raw[spec.name], name)
    parsed = cls(**values)
    check = getattr(parsed, "check", None)
    if check is not None:
        check()
    return parsed


def nested(cls: type[P]) -> Kind[P]:
    """A JSON object parsed as ``cls`` (its fields named ``outer.inner`` in errors)."""
    return lambda value, name: parse_params(cls, value, prefix=f"{name}.")


def boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false.")
    return value


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def whole(value: Any, name: str) -> int:
    """Any JSON integer (bounds are checked where they are known, e.g. against the document)."""
    if not _is_whole(value):
        raise InvalidRequest(f"{name} must be a whole number.")
    return int(value)


def within(limit: Limit) -> Kind[int]:
    """A JSON integer from ``limit.minimum`` to ``limit.maximum``."""

    def read(value: Any, name: str) -> int:
        if not _is_whole(value) or not limit.minimum <= value <= limit.maximum:
            raise InvalidRequest(f"{name} must be a whole number from {limit.minimum} to {limit.maximum}.")
        return int(value)

    return read


def fraction(value: Any, name: str) -> float:
    """A JSON number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise InvalidRequest(f"{name} must be a number between 0 and 1 (exclusive).")
    return float(value)


def one_of(table: Mapping[str, Any], what: str) -> Kind[str]:
    """A name that ``table`` offers (a registry table)."""
    return lambda value, name: choice(dict(table), value, what)


def selection(value: Any, name: str) -> tuple[int, ...] | All:
    """``"all"`` or a non-empty list of 0-based indices (checked against the model later)."""
    if value == "all":
        return "all"
    if not isinstance(value, list) or not value:
        raise InvalidRequest(f'{name} must be "all" or a non-empty list of {name} numbers.')
    for item in value:
        if not _is_whole(item):
            raise InvalidRequest(f"{name} must be whole numbers, got {quoted(item)}.")
    return tuple(sorted(set(value)))


def one_or_all(value: Any, name: str) -> tuple[int, ...] | All:
    """``"all"`` or one index, as a selection."""
    if value == "all":
        return "all"
    if not _is_whole(value):
        raise InvalidRequest(f'{name} must be "all" or a {name} number.')
    return (int(value),)


def span(value: Any, name: str) -> tuple[int, int]:
    """``[start, end]``: two token indices, end exclusive (checked against the analysis later)."""
    if not isinstance(value, list) or len(value) != 2 or not all(_is_whole(v) for v in value):
        raise InvalidRequest(f"{name} must be [start, end], two token indices.")
    return int(value[0]), int(value[1])


def string(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{name} must be a non-empty string.")
    return value


def array(value: Any, name: str) -> list[Any]:
    """A JSON array, its items checked by whoever reads them (the editor's symbols: ``units.parse_symbols``)."""
    if not isinstance(value, list):
        raise InvalidRequest(f"{name} must be an array.")
    return value


def progress_token(value: Any, name: str) -> str | int:
    """An LSP ``ProgressToken``: a string or an integer."""
    if not isinstance(value, str) and not _is_whole(value):
        raise InvalidRequest(f"{name} must be a string or a whole number.")
    return value


def non_negative(value: Any, name: str) -> float:
    """A finite JSON number of 0 or more."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise InvalidRequest(f"{name} must be a number of 0 or more.")
    return float(value)


def token_ids(value: Any, name: str) -> tuple[int, ...]:
    """A JSON array of token ids, whole numbers of 0 or more (checked against the vocabulary later)."""
    if not isinstance(value, list) or not all(_is_whole(v) and v >= 0 for v in value):
        raise InvalidRequest(f"{name} must be a list of token ids (whole numbers of 0 or more).")
    return tuple(int(v) for v in value)


def token_choice(value: Any, name: str) -> int | str:
    """One vocabulary token: its id (a whole number of 0 or more) or its text (checked against the model later)."""
    if _is_whole(value) and value >= 0:
        return int(value)
    if isinstance(value, str) and value:
        return value
    raise InvalidRequest(f"{name} must be a token id (a whole number of 0 or more) or the token's text.")


def line_ranges(value: Any, name: str) -> tuple[tuple[int, int], ...]:
    """A non-empty JSON array of [first, last] 0-based line ranges, first <= last."""
    if not isinstance(value, list) or not value:
        raise InvalidRequest(f"{name} must be a non-empty list of [first, last] line ranges (0-based).")
    ranges = []
    for item in value:
        if not isinstance(item, list) or len(item) != 2 or not all(_is_whole(v) for v in item):
            raise InvalidRequest(f"{name} must be a list of [first, last] line ranges (0-based), got {quoted(item)}.")
        if not 0 <= item[0] <= item[1]:
            raise InvalidRequest(f"{name}: each range needs 0 <= first <= last, got {quoted(item)}.")
        ranges.append((int(item[0]), int(item[1])))
    return tuple(ranges)
