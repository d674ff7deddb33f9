"""The faithfulness table the server ships (``server/atten_scope/data/faithfulness.json``).

One entry per model: its last-token figures under ``methods`` and one figure per situation
(position x unit, space baseline) under ``situations``, each naming its corpus and the language ids
of its snippets (``languages``: a figure shown on a document in another language says which one it
stands in for). The CLI, the HTML report, the status bar and the hover card read it through
``atten_scope.views.evidence``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from typing import Any

import numpy as np

from faith_names import MODEL, POSITIONS, UNITS
from report import BENCH_DIR

SHIPPED_TABLE = BENCH_DIR.parent / "server" / "atten_scope" / "data" / "faithfulness.json"
SHIPPED_BASELINE = "space"  # the figures the editor shows; the delete baseline is reported alongside


def rounded(values: tuple[float, float, float]) -> list[float]:
    """A (mean, low, high) triple to 4 decimals, as the shipped table stores it."""
    return [round(v, 4) for v in values]


def shipped_table(
    rows: list[dict[str, Any]],
    snippets: int,
    model_id: str,
    situations: dict[str, list[dict[str, Any]]] | None = None,
    corpora: dict[str, str] | None = None,
    languages: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """One model's summary in the table the server ships (atten_scope/data/faithfulness.json).

    ``methods`` (the last token, token level, space baseline) keeps its meaning for older readers;
    ``situations`` adds one entry per position x unit (space baseline), each with its corpus, and
    beside each method's rho its LDS in that situation (``lds``) where it was measured.
    ``languages`` maps a corpus name to the language ids of its snippets.
    """
    languages = languages or {}
    shipped: dict[str, Any] = {
        "model": model_id,
        "snippets": snippets,
        "source": "bench/RESULTS.md",
        "languages": languages.get("bench/corpus", []),
        "methods": [{"method": r["method"], "on": rounded(r["on"]), "off": rounded(r["off"])} for r in rows],
    }
    if situations:
        entries = []
        for position in POSITIONS:
            for unit in UNITS:
                found = situations.get(f"{position}/{unit}/{SHIPPED_BASELINE}")
                if not found:
                    continue
                measured = [r for r in found if np.isfinite(r["on"][0])]
                lds = {
                    r["method"]: r["on"]
                    for r in situations.get(f"{position}/{unit}/lds", [])
                    if np.isfinite(r["on"][0])
                }
                corpus = (corpora or {}).get(position, "bench/corpus")
                entries.append(
                    {
                        "position": position,
                        "unit": unit,
                        "baseline": SHIPPED_BASELINE,
                        "corpus": corpus,
                        "languages": languages.get(corpus, []),
                        "snippets": max((r["snippets"] for r in measured), default=0),
                        "methods": [
                            {"method": r["method"], "on": rounded(r["on"])}
                            | ({"lds": rounded(lds[r["method"]])} if r["method"] in lds else {})
                            for r in measured
                        ],
                    }
                )
        shipped["situations"] = entries
    return shipped


def write_shipped(
    args: argparse.Namespace,
    rows: list[dict[str, Any]] | None,
    snippets: int,
    situations: dict[str, list[dict[str, Any]]],
    external: dict[str, list[dict[str, Any]]] | None,
    languages: dict[str, list[str]] | None = None,
) -> None:
    """Replace this model's entry of the shipped table (the others are kept): the last-token figures
    from ``bench/corpus``, the interior ones from the external corpus where it was measured.
    ``languages``: the language ids of the snippets of ``bench`` (``bench/corpus``) and ``external``.

    ``rows`` None (``--only-external``): ``bench/corpus`` was not scored in this run, so the entry's
    last-token table is kept as shipped and every situation comes from the external corpus."""
    merged = dict(situations)
    corpora = {"last": "bench/corpus", "interior": "bench/corpus"}
    stdlib = f"Python {platform.python_version()} standard library"
    by_corpus = {"bench/corpus": (languages or {}).get("bench", []), stdlib: (languages or {}).get("external", [])}
    if external:
        for key, found in external.items():
            if key.startswith("interior/") or rows is None:
                merged[key] = found
        corpora["interior"] = stdlib
        if rows is None:
            corpora["last"] = stdlib
    shipped = json.loads(SHIPPED_TABLE.read_text(encoding="utf-8")) if SHIPPED_TABLE.is_file() else {}
    tables = [t for t in shipped.get("tables", []) if t.get("model") != args.model]
    if rows is None:
        kept = next((t for t in shipped.get("tables", []) if t.get("model") == args.model), None)
        if kept is None:
            model = args.model
            raise SystemExit(f"--only-external needs a shipped last-token table for {model}: score bench/corpus first")
        entry = {**kept, **shipped_table([], kept["snippets"], args.model, merged, corpora, by_corpus)}
        entry["methods"] = kept["methods"]
        entry["languages"] = kept.get("languages", [])
    else:
        entry = shipped_table(rows, snippets, args.model, merged, corpora, by_corpus)
    tables.append(entry)
    tables.sort(key=lambda t: (t["model"] != MODEL, t["model"]))
    SHIPPED_TABLE.write_text(json.dumps({"tables": tables}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {SHIPPED_TABLE}", file=sys.stderr)
