"""Analysis -> the JSON objects of the protocol (docs/PROTOCOL.md), shared by the CLI and the server."""

from __future__ import annotations

import base64
import math
import time
from typing import Any

import numpy as np

from .aggregate import drop_and_renormalise
from .analysis import Analysis
from .errors import InvalidRequest
from .evidence import view_faithfulness
from .options import ViewOptions


def token_json(analysis: Analysis, index: int) -> dict[str, Any]:
    doc = analysis.document
    return {
        "index": index,
        "range": analysis.lines.range(doc.starts[index], doc.ends[index]).to_lsp(),
        "text": doc.token_text(index),
    }


def token_at_position(analysis: Analysis, position: Any) -> int:
    """The token covering an LSP position ``{line, character}``."""
    if not isinstance(position, dict):
        raise InvalidRequest("position must be an object {line, character}.")
    line, character = position.get("line"), position.get("character")
    if (
        isinstance(line, bool)
        or isinstance(character, bool)
        or not isinstance(line, int)
        or not isinstance(character, int)
    ):
        raise InvalidRequest("position.line and position.character must be whole numbers.")
    try:
        offset = analysis.lines.offset(line, character)
    except ValueError as error:
        raise InvalidRequest(f"The position is outside the document: {error}.") from error
    token = analysis.document.token_at(offset)
    if token >= analysis.token_count:
        raise InvalidRequest("That position is past the analysed part of the file (it was too long to analyse whole).")
    return token


def analyze_json(analysis: Analysis, uri: str, version: int | None) -> dict[str, Any]:
    return {
        "uri": uri,
        "version": version,
        "model": analysis.info.to_json(),
        "tokens": analysis.token_count,
        "windows": [{"start": w.start, "end": w.start + w.n} for w in analysis.windows],
        "truncated": analysis.truncated,
        "reusedTokens": analysis.reused_tokens,
        "elapsedMs": round(analysis.elapsed_ms, 1),
    }


def attention_json(analysis: Analysis, token: int, options: ViewOptions, version: int | None = None) -> dict[str, Any]:
    began = time.perf_counter()
    weights = analysis.weights(token, options)
    order = np.argsort(-weights, kind="stable")
    targets = [
        {**token_json(analysis, int(i)), "weight": float(weights[i])} for i in order[: options.top_k] if weights[i] > 0
    ]
    per_line = analysis.line_weights(weights)
    lines = [{"line": int(line), "weight": float(per_line[line])} for line in np.nonzero(per_line > 0)[0]]
    return {
        "version": version,
        "token": token_json(analysis, token),
        "targets": targets,
        "lines": lines,
        "settings": options.to_json(),
        "faithfulness": view_faithfulness(analysis.info.id, options),
        "elapsedMs": round((time.perf_counter() - began) * 1000, 2),
    }


def heatmap_json(
    analysis: Analysis, options: ViewOptions, first: int, count: int, version: int | None = None
) -> dict[str, Any]:
    """The lower triangle of the aggregated matrix, quantised to uint8 against its maximum."""
    matrix = analysis.matrix(options, first, count)
    rows, cols = np.tril_indices(count)
    triangle = matrix[rows, cols]
    scale = float(triangle.max()) if triangle.size and triangle.max() > 0 else 1.0
    data = np.clip(np.rint(triangle / scale * 255.0), 0, 255).astype(np.uint8)
    return {
        "version": version,
        "tokens": [token_json(analysis, i) for i in range(first, first + count)],
        "n": count,
        "offset": first,
        "scale": scale,
        "data": base64.b64encode(data.tobytes()).decode("ascii"),
        "settings": options.to_json(),
    }


def heads_json(analysis: Analysis, token: int, options: ViewOptions, version: int | None = None) -> dict[str, Any]:
    """Per layer x head: entropy (nats) of the refined row, its top source and the weight on it."""
    rows, start = analysis.head_rows(token, options.refinement)
    win, _ = analysis.owner(token)
    sinks = [s - start for s in analysis.sinks(win)] if options.drop_sink else []
    cells = []
    for layer in range(rows.shape[0]):
        for head in range(rows.shape[1]):
            row = drop_and_renormalise(rows[layer, head], sinks)
            positive = row[row > 0]
            entropy = float(-(positive * np.log(positive)).sum()) if positive.size else 0.0
            top = int(np.argmax(row))
            cells.append(
                {
                    "layer": layer,
                    "head": head,
                    "entropy": entropy if math.isfinite(entropy) else 0.0,
                    "top": token_json(analysis, start + top),
                    "weight": float(row[top]),
                }
            )
    return {
        "version": version,
        "token": token_json(analysis, token),
        "layers": analysis.info.layers,
        "heads": analysis.info.heads,
        "cells": cells,
        "settings": options.to_json(),
    }
