"""How faithful each view measured: the benchmark's table, shipped with the package.

``bench/faithfulness.py`` scores every view by the Spearman correlation between its weights over
the sources of a query token and the leave-one-out ablation effect of each source on the model's
next-token log-probability, and writes ``data/faithfulness.json``. The query is a snippet's last
token (the table's ``methods``) and, in ``situations``, also interior tokens, and lines as units
(a line's summed weight against ablating the whole line). A view here is a refinement / aggregate
over all layers and heads; the numbers only hold for the model measured, and each names the
languages of its snippets, so that a figure shown on a document in another language says which
language it stands in for. ``view_faithfulness`` is the one function every surface takes a figure
and its words from.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from typing import Any

from atten_scope.engine.embedded import EMBEDDED_ID
from atten_scope.registry import AGGREGATES, REFINEMENTS
from atten_scope.views.languages import language_name
from atten_scope.views.options import ViewOptions

TABLE = "faithfulness.json"


@lru_cache(maxsize=1)
def load_tables() -> dict[str, dict[str, Any]]:
    """The shipped tables by model id; empty if the package was built without them.

    The file is ``{"tables": [{model, snippets, source, languages, methods, situations}, ...]}``,
    one table per measured model: a view's faithfulness is only claimed for the model it was
    measured on. ``languages`` (the language ids of the snippets) is in each table and situation.
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


def _situations(
    table: dict[str, Any], position: str, unit: str, column: str
) -> list[tuple[list[dict[str, Any]], int, dict[str, Any]]]:
    """Where to look for a figure, in order: the rows measured for the situation (when the table has
    them), then the table's ``methods`` (the last token, token level), each with the snippets behind
    it and the situation it is for (with the corpus and the language ids of its snippets, where the
    table names them). ``situations`` hold dropSink-on figures only."""
    found = []
    if (position, unit) != ("last", "token") and column == "on":
        for entry in table.get("situations", []):
            if entry.get("position") == position and entry.get("unit") == unit and entry.get("methods"):
                rows = [
                    {"method": row["method"], column: row["on"], **({"lds": row["lds"]} if "lds" in row else {})}
                    for row in entry["methods"]
                ]
                situation = {
                    "position": position,
                    "unit": unit,
                    "corpus": str(entry.get("corpus", HOME_CORPUS)),
                    "languages": [str(language) for language in entry.get("languages", [])],
                }
                found.append((rows, int(entry.get("snippets", table["snippets"])), situation))
    situation = {
        "position": "last",
        "unit": "token",
        "corpus": str(table.get("corpus", HOME_CORPUS)),
        "languages": [str(language) for language in table.get("languages", [])],
    }
    found.append((table["methods"], int(table["snippets"]), situation))
    return found


def view_faithfulness(
    model_id: str,
    options: ViewOptions,
    table: dict[str, Any] | None = None,
    position: str = "last",
    unit: str = "token",
    language: str | None = None,
) -> dict[str, Any] | None:
    """The measured faithfulness of ``options``' view on ``model_id`` and how to word it, or None
    where it was not measured: the one source of the figure the CLI, the HTML report, the hover and
    the status bar show.

    ``position`` (``last``: the document's last analysed token; ``interior``: any other) and ``unit``
    (``token`` or ``line``: the weights summed per line, against ablating whole lines) name the
    situation on screen; ``language`` is the document's language id (``python``, ``c``; None where
    it is not known). Returns ``{rho, low, high, snippets, rank, methods, best, bestRho, model,
    position, unit, corpus, languages, asked, language, standsIn, text, sentence}``: the mean
    Spearman rho over snippets with its 95 % bootstrap interval, for the view's sink setting
    (dropSink on: token 0 excluded from the sources), its rank among all methods measured in that
    situation, the situation the figure is for (``position``, ``unit``) and the one asked for
    (``asked``), the code it was measured on (``corpus``: ``bench/corpus`` or, for example, the
    standard library of a Python version; ``languages``: the language ids of its snippets, empty
    where the table does not name them), whether it stands in for a language it was not measured
    on (``standsIn``), and its words (``figure_words``): ``text`` for one short line, ``sentence``
    in full. The situations differ where the asked one was not measured for the view (only the
    last-token, token-level figure exists with dropSink off, or in an older table): the figure is
    then the last-token, token-level one.
    """
    if position not in POSITIONS or unit not in UNITS:
        raise ValueError(f"unknown situation {position!r} / {unit!r}")
    table = load_table(model_id) if table is None else table
    if table is None or table.get("model") != model_id or options.layers is not None or options.heads is not None:
        return None
    if options.direction != "attendsTo":
        return None  # the benchmark scores rows (what the query token draws on), not columns
    name = f"{options.refinement} / {options.aggregate}"
    return _figure(table, model_id, name, "on" if options.drop_sink else "off", position, unit, language)


def method_faithfulness(
    model_id: str, name: str, drop_sink: bool, table: dict[str, Any] | None = None, language: str | None = None
) -> dict[str, Any] | None:
    """``view_faithfulness`` of the table's row ``name`` at the last token (a view that is no
    refinement / aggregate pair, such as ``altiRollout``, is measured under its own name)."""
    table = load_table(model_id) if table is None else table
    if table is None or table.get("model") != model_id:
        return None
    return _figure(table, model_id, name, "on" if drop_sink else "off", "last", "token", language)


def _figure(
    table: dict[str, Any], model_id: str, name: str, column: str, position: str, unit: str, language: str | None
) -> dict[str, Any] | None:
    """Row ``name``'s figure in the first situation of ``_situations`` that measured it, worded."""
    for measured, snippets, situation in _situations(table, position, unit, column):
        found = _ranked_figure(measured, name, column, snippets, model_id)
        if found is not None:
            languages = situation["languages"]
            figure = {
                **found,
                **situation,
                "asked": {"position": position, "unit": unit},
                "language": language,
                "standsIn": bool(language and languages and language not in languages),
            }
            return {**figure, **figure_words(figure)}
    return None


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
                **({"lds": list(row["lds"])} if "lds" in row else {}),
            }
    return None


SITUATION_WORDS = {
    ("last", "token"): "at the last token",
    ("interior", "token"): "at interior tokens",
    ("last", "line"): "per line, at the last token",
    ("interior", "line"): "per line, at interior tokens",
}
SITUATION_SHORT = {
    ("last", "token"): "last token",
    ("interior", "token"): "interior tokens",
    ("last", "line"): "line sums, last token",
    ("interior", "line"): "line sums, interior tokens",
}
NOT_MEASURED = "Faithfulness of this view: not measured for this model and selection."
NOT_MEASURED_SHORT = "faithfulness not measured for this model and view"


def corpus_words(faithfulness: dict[str, Any]) -> str:
    """ " of the Python 3.11.7 standard library": where a figure's snippets come from, when not the benchmark's own."""
    corpus = faithfulness.get("corpus")
    return f" of the {corpus}" if corpus and corpus != HOME_CORPUS else ""


def language_words(languages: list[str], language: str | None) -> tuple[str, str]:
    """What a figure was measured on, for a document in ``language`` (an id; None: not known), as
    (short, long): ("Python", "measured on Python") where they match or the document's language is
    not known, ("measured on Python, standing in for C", the same) where the figure stands in for
    a language it was not measured on; for several languages ("9 languages incl. C", "measured on 9
    languages, C among them"). ("", "") where the table does not name its languages."""
    if not languages:
        return "", ""
    measured = language_name(languages[0]) if len(languages) == 1 else f"{len(languages)} languages"
    if language is not None and language not in languages:
        words = f"measured on {measured}, standing in for {language_name(language)}"
        return words, words
    if len(languages) == 1 or language is None:
        return measured, f"measured on {measured}"
    shown = language_name(language)
    return f"{measured} incl. {shown}", f"measured on {measured}, {shown} among them"


def figure_words(figure: dict[str, Any]) -> dict[str, str]:
    """A figure's words (``view_faithfulness`` without them): ``text``, one short line,

        ρ +0.38 vs ablation (Python, interior tokens)
        ρ +0.38 vs ablation (measured on Python, standing in for C; interior tokens)

    and ``sentence``, the full statement with the interval, the snippets and the rank,

        Faithfulness of this view: ρ = +0.38 [+0.33, +0.44] against leave-one-out ablation at
        interior tokens, measured on Python (16 snippets of the Python 3.11.7 standard library; rank
        1 of 31).

    (a line-unit figure opens "Line sums (the gutter)" and is against ablating whole lines; where
    the situation has the figure's LDS, the sentence ends with it: "Its LDS (...): +0.41 [+0.35,
    +0.47]."). Both print rho the same way, ``f"{rho:+.2f}"``. Where the figure is not for the situation asked,
    both say it was not measured there."""
    position, unit = figure.get("position", "last"), figure.get("unit", "token")
    short_language, long_language = language_words(list(figure.get("languages", [])), figure.get("language"))
    asked = figure.get("asked")
    fallback = ""
    if asked and (asked["position"], asked["unit"]) != (position, unit):
        fallback = f"not measured {SITUATION_WORDS.get((asked['position'], asked['unit']), 'here')}"
    where = SITUATION_SHORT.get((position, unit), "")
    if short_language:
        where = f"{short_language}{'; ' if figure.get('standsIn') else ', '}{where}"
    rho = f"{figure['rho']:+.2f}"
    text = f"\u03c1 {rho} vs ablation ({where}{'; ' + fallback if fallback else ''})"
    what, against = (
        ("Line sums (the gutter)", "against ablating whole lines")
        if unit == "line"
        else ("Faithfulness of this view", "against leave-one-out ablation")
    )
    situation = SITUATION_WORDS[(position, "token")]  # "per line" is in the words before it
    sentence = (
        f"{what}: \u03c1 = {rho} [{figure['low']:+.2f}, {figure['high']:+.2f}] {against} "
        f"{situation}{', ' + long_language if long_language else ''} "
        f"({figure['snippets']} snippets{corpus_words(figure)}; "
        f"rank {figure['rank']} of {figure['methods']}{'; ' + fallback if fallback else ''})."
    )
    if figure.get("lds"):
        mean, low, high = figure["lds"]
        removed = "lines" if unit == "line" else "tokens"
        sentence += (
            f" Its LDS (the weights against removing half of the {removed} at once, Spearman over 32 "
            f"removals): {mean:+.2f} [{low:+.2f}, {high:+.2f}]."
        )
    return {"text": text, "sentence": sentence}


def faithfulness_text(faithfulness: dict[str, Any] | None) -> str:
    """The short line of a figure (``view_faithfulness``), or that it was not measured."""
    return str(faithfulness["text"]) if faithfulness else NOT_MEASURED_SHORT


def faithfulness_sentence(faithfulness: dict[str, Any] | None) -> str:
    """The full sentence of a figure (``view_faithfulness``), or that it was not measured."""
    return str(faithfulness["sentence"]) if faithfulness else NOT_MEASURED
