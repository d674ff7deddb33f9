"""How faithful each view measured: the benchmark's table, shipped with the package.

``bench/faithfulness.py`` scores every view by the Spearman correlation between its weights over
the sources of a query token and the leave-one-out ablation effect of each source on the model's
next-token log-probability, and writes ``data/faithfulness.json``. The query is a snippet's last
token (the table's ``methods``) and, in ``situations``, also interior tokens, and lines as units
(a line's summed weight against ablating the whole line). A view here is a refinement / aggregate
over all layers and heads; the numbers only hold for the model measured.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from typing import Any

from atten_scope.engine.embedded import EMBEDDED_ID
from atten_scope.registry import AGGREGATES, REFINEMENTS
from atten_scope.views.options import ViewOptions

TABLE = "faithfulness.json"


@lru_cache(maxsize=1)
def load_tables() -> dict[str, dict[str, Any]]:
    """The shipped tables by model id; empty if the package was built without them.

    The file is ``{"tables": [{model, snippets, source, methods}, ...]}``, one table per measured
    model: a view's faithfulness is only claimed for the model it was measured on.
    """
    try:
        text = resources.files("atten_scope").joinpath("data", TABLE).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return {}
    data = json.loads(text)
    return {table["model"]: table for table in data.get("tables", [])}


def load_table(model_id: str = EMBEDDED_ID) -> dict[str, Any] | None:
    """The shipped table of ``model_id``, or None where that model was not measured."""
    return load_tables().get(model_id)


def recommended_view(model_id: str) -> dict[str, Any] | None:
    """The most faithful view the engine offers for ``model_id``, or None where it was not measured.

    Among the table's rows that are engine views over all layers and heads (a refinement and an
    aggregate the registry offers; one-head aggregates excluded), the one with the highest mean
    rho with the sink dropped (the default sink setting). Returns ``{refinement, aggregate, rho}``.
    """
    table = load_table(model_id)
    if table is None:
        return None
    best: dict[str, Any] | None = None
    for row in table["methods"]:
        refinement, _, aggregate = row["method"].partition(" / ")
        if refinement not in REFINEMENTS or aggregate not in AGGREGATES or AGGREGATES[aggregate].one_head:
            continue
        if best is None or row["on"][0] > best["rho"]:
            best = {"refinement": refinement, "aggregate": aggregate, "rho": row["on"][0]}
    return best


def recommended_views() -> dict[str, dict[str, Any]]:
    """``recommended_view`` of every measured model, by model id (announced to clients)."""
    views = {model_id: recommended_view(model_id) for model_id in load_tables()}
    return {model_id: view for model_id, view in views.items() if view is not None}


def default_options(model_id: str) -> ViewOptions:
    """The view options a request starts from on ``model_id``: the registry's defaults with the view
    the evidence recommends for that model, where it was measured."""
    view = recommended_view(model_id)
    if view is None:
        return ViewOptions()
    return replace(ViewOptions(), refinement=view["refinement"], aggregate=view["aggregate"])


POSITIONS = ("last", "interior")
UNITS = ("token", "line")
HOME_CORPUS = "bench/corpus"  # the benchmark's own snippets; a situation may name another corpus


def _situations(table: dict[str, Any], position: str, unit: str, column: str) -> list[tuple[list[dict], int, dict]]:
    """Where to look for a figure, in order: the rows measured for the situation (when the table has
    them), then the table's ``methods`` (the last token, token level), each with the snippets behind
    it and the situation it is for. ``situations`` hold dropSink-on figures only."""
    found = []
    if (position, unit) != ("last", "token") and column == "on":
        for entry in table.get("situations", []):
            if entry.get("position") == position and entry.get("unit") == unit and entry.get("methods"):
                rows = [{"method": row["method"], column: row["on"]} for row in entry["methods"]]
                corpus = str(entry.get("corpus", HOME_CORPUS))
                situation = {"position": position, "unit": unit, "corpus": corpus}
                found.append((rows, int(entry.get("snippets", table["snippets"])), situation))
    situation = {"position": "last", "unit": "token", "corpus": str(table.get("corpus", HOME_CORPUS))}
    found.append((table["methods"], int(table["snippets"]), situation))
    return found


def view_faithfulness(
    model_id: str,
    options: ViewOptions,
    table: dict[str, Any] | None = None,
    position: str = "last",
    unit: str = "token",
) -> dict[str, Any] | None:
    """The measured faithfulness of ``options``' view on ``model_id``, or None where it was not measured.

    ``position`` (``last``: the document's last analysed token; ``interior``: any other) and ``unit``
    (``token`` or ``line``: the weights summed per line, against ablating whole lines) name the
    situation on screen. Returns ``{rho, low, high, snippets, rank, methods, best, bestRho, model,
    position, unit, corpus, asked}``: the mean Spearman rho over snippets with its 95 % bootstrap interval,
    for the view's sink setting (dropSink on: token 0 excluded from the sources), its rank among all
    methods measured in that situation, the situation the figure is for (``position``, ``unit``) and
    the one asked for (``asked``), and the code it was measured on (``corpus``: ``bench/corpus`` or,
    for example, the standard library of a Python version). They differ where the asked situation
    was not measured for the view (only the last-token, token-level figure exists with dropSink
    off, or in an older table): the figure is then the last-token, token-level one.
    """
    if position not in POSITIONS or unit not in UNITS:
        raise ValueError(f"unknown situation {position!r} / {unit!r}")
    table = load_table(model_id) if table is None else table
    if table is None or table.get("model") != model_id or options.layers is not None or options.heads is not None:
        return None
    if options.direction != "attendsTo":
        return None  # the benchmark scores rows (what the query token draws on), not columns
    column = "on" if options.drop_sink else "off"
    name = f"{options.refinement} / {options.aggregate}"
    for measured, snippets, situation in _situations(table, position, unit, column):
        found = _ranked_figure(measured, name, column, snippets, model_id)
        if found is not None:
            return {**found, **situation, "asked": {"position": position, "unit": unit}}
    return None


def method_faithfulness(
    model_id: str, name: str, drop_sink: bool, table: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """``view_faithfulness`` of the table's row ``name`` (a view that is no refinement / aggregate
    pair, such as ``altiRollout``, is measured under its own name)."""
    table = load_table(model_id) if table is None else table
    if table is None or table.get("model") != model_id:
        return None
    return _ranked_figure(table["methods"], name, "on" if drop_sink else "off", table["snippets"], model_id)


def _ranked_figure(
    rows: list[dict[str, Any]], name: str, column: str, snippets: int, model_id: str
) -> dict[str, Any] | None:
    """Row ``name``'s rho with its interval, and its rank among ``rows`` by rho in ``column``."""
    ranked = sorted(rows, key=lambda row: -row[column][0])
    for rank, row in enumerate(ranked, start=1):
        if row["method"] == name:
            rho, low, high = row[column]
            return {
                "rho": rho,
                "low": low,
                "high": high,
                "snippets": snippets,
                "rank": rank,
                "methods": len(ranked),
                "best": ranked[0]["method"],
                "bestRho": ranked[0][column][0],
                "model": model_id,
            }
    return None


SITUATION_WORDS = {
    ("last", "token"): "at the last token",
    ("interior", "token"): "at interior tokens",
    ("last", "line"): "per line, at the last token",
    ("interior", "line"): "per line, at interior tokens",
}


def situation_words(faithfulness: dict[str, Any]) -> str:
    """ "at interior tokens", "per line, at the last token": the situation a figure was measured in."""
    return SITUATION_WORDS.get((faithfulness.get("position", "last"), faithfulness.get("unit", "token")), "")


def corpus_words(faithfulness: dict[str, Any]) -> str:
    """ " of the Python 3.11.7 standard library": where a figure's snippets come from, when not the benchmark's own."""
    corpus = faithfulness.get("corpus")
    return f" of the {corpus}" if corpus and corpus != HOME_CORPUS else ""


def faithfulness_line(faithfulness: dict[str, Any] | None, lines: dict[str, Any] | None = None) -> str:
    """One sentence on how faithful the view measured (see ``evidence.view_faithfulness``), in the
    situation it was measured in; ``lines``, where given and measured per line, adds the figure of
    the per-line weights."""
    if not faithfulness:
        return "faithfulness of this view: not measured for this model and selection"
    asked = faithfulness.get("asked")
    measured = {"position": faithfulness.get("position", "last"), "unit": faithfulness.get("unit", "token")}
    fallback = ""
    if asked and asked != measured:
        fallback = f"; not measured {SITUATION_WORDS.get((asked['position'], asked['unit']), 'here')}"
    return (
        f"faithfulness of this view: \u03c1 = {faithfulness['rho']:+.2f} "
        f"[{faithfulness['low']:+.2f}, {faithfulness['high']:+.2f}] against leave-one-out ablation "
        f"{situation_words(faithfulness)} "
        f"({faithfulness['snippets']} snippets{corpus_words(faithfulness)}; "
        f"rank {faithfulness['rank']} of {faithfulness['methods']}{fallback})"
        + (
            f"; line sums \u03c1 = {lines['rho']:+.2f} [{lines['low']:+.2f}, {lines['high']:+.2f}]"
            if lines and lines.get("unit") == "line"
            else ""
        )
    )
