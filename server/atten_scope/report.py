"""A self-contained HTML report: the code with line numbers, tints for a focus token, hover any
token to move the focus, and the heatmap overview of the whole file. No network: data, script and
style are inline, and every token's text reaches the page as JSON and is inserted with
``textContent`` (never parsed as HTML), so code that looks like markup is shown as text.

Every analysed token answers a hover: the page carries each token's TOP strongest links in the
report's direction (``links.links``, computed row block by row block, about as costly as the
attention of the analysis itself) as two base64 arrays, targets (int32) and weights (float32),
n x TOP each. A streamed aggregate (rollout) costs every earlier row per row, so only the focus
token's links are computed, and the page says so on hover elsewhere.

A hover also shows what the model predicted after the token and the token's own surprisal: the
page carries every token's predictions (``_prediction``, the LM head over the analysis's kept hidden
rows: 48 bytes a token, the predicted ids' labels once each).
"""

from __future__ import annotations

import base64
import html
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from atten_scope.common.progress import ReportProgress, ignore_progress
from atten_scope.engine.analysis import Analysis
from atten_scope.engine.tokens import id_label, label
from atten_scope.protocol.builders import view_result
from atten_scope.protocol.sentences import settings_line
from atten_scope.views.evidence import faithfulness_sentence, view_faithfulness
from atten_scope.views.links import links, vector_links
from atten_scope.views.options import ViewOptions

TOP = 20  # links per token in the page
BINS = 512  # cells a side of the heatmap overview (the editor's asks for what its canvas shows)
PERCENTILE = 2  # the colour scale starts at this percentile of the nonzero cells, as in the editor

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
  content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>Atten-Scope report: %(title)s</title>
<style>
body { font: 13px/1.45 system-ui, sans-serif; margin: 0; color: #1f2328; background: #fff; }
header { padding: 10px 16px; border-bottom: 1px solid #d0d7de; background: #f6f8fa; }
header h1 { font-size: 15px; margin: 0 0 4px; }
main { display: flex; gap: 16px; padding: 12px 16px; align-items: flex-start; }
#view { position: relative; display: flex; flex: 1 1 60%%; border: 1px solid #d0d7de; overflow: auto; max-height: 85vh;
  font: 12px/18px ui-monospace, SFMono-Regular, Menlo, monospace; }
#gutter { white-space: pre; text-align: right; color: #8c959f; padding: 8px 8px 8px 10px; user-select: none;
  border-right: 1px solid #eaeef2; background: #f6f8fa; position: sticky; left: 0; }
#code { white-space: pre; tab-size: 4; padding: 8px; flex: 1 0 auto; }
#code span.t { border-radius: 2px; }
#code span.focus { outline: 2px solid #0969da; }
#code span.nl::before { content: "\\21b5"; color: #afb8c1; }
#code.pinned span.focus { outline-style: double; outline-width: 3px; }
#side { flex: 0 0 420px; }
#sources { width: 100%%; border-collapse: collapse; font-size: 12px; }
#sources td, #sources th { border-bottom: 1px solid #eaeef2; padding: 2px 6px; text-align: left; }
#sources td.w, #sources th.w { text-align: right; font-variant-numeric: tabular-nums; }
#sources tbody tr { cursor: pointer; }
#sources code { white-space: pre; }
canvas { border: 1px solid #d0d7de; image-rendering: pixelated; width: 400px; height: 400px; }
#legend { display: flex; align-items: center; gap: 6px; font-size: 12px; color: #57606a; margin-top: 4px; }
#legend canvas { width: 160px; height: 10px; border: none; }
.note { color: #57606a; font-size: 12px; }
</style></head>
<body>
<header><h1>Atten-Scope: <span id="file"></span></h1>
<div class="note" id="settings"></div><div class="note" id="faithfulness"></div></header>
<main><div id="view"><div id="gutter" aria-hidden="true"></div><div id="code"></div></div>
<div id="side">
<h3><span id="heading"></span> <code id="focus-text"></code> <span class="note" id="focus-line"></span></h3>
<div id="prediction"></div><div class="note" id="surprisal"></div>
<div class="note" id="help">Hover a token to show its links; click to pin it (click again to release).</div>
<table id="sources"><thead><tr><th>token</th><th>line</th><th class="w">weight</th></tr></thead><tbody></tbody></table>
<div class="note" id="empty"></div>
<h3>Heatmap</h3><canvas id="heatmap" width="1" height="1"></canvas>
<div id="legend"><span id="legend-low"></span><canvas id="ramp" width="160" height="1"></canvas>
<span id="legend-high"></span></div>
<div class="note" id="heatmap-note"></div><div class="note" id="heatmap-cell"></div></div></main>
<script id="data" type="application/json">%(data)s</script>
<script>
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  function text(id, value) { document.getElementById(id).textContent = value; }
  function bytes(b64) { return Uint8Array.from(atob(b64), function (ch) { return ch.charCodeAt(0); }); }
  function percent(w) { return (100 * w).toFixed(2) + "%%"; }
  text("file", D.file); text("settings", D.settings);
  text("heading", D.heading);
  var K = D.k, targets = new Int32Array(bytes(D.targets).buffer), weights = new Float32Array(bytes(D.weights).buffer);
  var code = document.getElementById("code"), spans = [], lines = [], line = 0;
  var fragment = document.createDocumentFragment();
  D.texts.forEach(function (t, i) {
    var s = document.createElement("span");
    // A token that starts with a line break would have no width to hover or tint: it shows a faint
    // return sign at the end of the line (a pseudo-element, so the code's text stays exact).
    s.className = /^[\\r\\n]/.test(t) ? "t nl" : "t"; s.textContent = t; s.dataset.i = String(i);
    spans.push(s); lines.push(line); fragment.appendChild(s);
    var breaks = t.match(/\\r\\n|\\r|\\n/g);
    if (breaks) { line += breaks.length; }
  });
  code.appendChild(fragment);
  var numbers = [];
  for (var n = 1; n <= D.lineCount; n++) { numbers.push(String(n)); }
  text("gutter", numbers.join("\\n"));
  function shown(i) { return Object.prototype.hasOwnProperty.call(D.labels, i) ? D.labels[i] : D.texts[i]; }
  // What the model predicted after each token (sentences.prediction_sentence, with the same percentages).
  var P = D.prediction, PK = P ? P.k : 0;
  var ptop = P ? new Int32Array(bytes(P.top).buffer) : null;
  var pprob = P ? new Float32Array(bytes(P.probs).buffer) : null;
  var pnext = P ? new Float32Array(bytes(P.next).buffer) : null;
  var prank = P ? new Int32Array(bytes(P.rank).buffer) : null;
  function pct(p) {
    var v = 100 * p;
    if (v >= 9.95) { return v.toFixed(0) + "%%"; }
    if (v >= 0.995) { return v.toFixed(1) + "%%"; }
    if (v <= 0) { return "0%%"; }
    return (v >= 1e-4 ? String(Number(v.toPrecision(2))) : v.toExponential(1)) + "%%";
  }
  function predicted(i) {
    if (!P) { return ""; }
    var names = [];
    for (var r = 0; r < PK && ptop[i * PK + r] >= 0; r++) {
      // The actual next token by its label in the file (a piece of a character shows the character).
      var name = prank[i] === r + 1 ? shown(i + 1) : P.vocab[ptop[i * PK + r]];
      names.push([name, pct(pprob[i * PK + r])]);
    }
    if (!names.length) { return ""; }
    var line = "Predicts \u201c" + names[0][0] + "\u201d (" + names[0][1] + ")";
    if (names.length > 1) {
      line += ", then " + names.slice(1).map(function (x) { return "\u201c" + x[0] + "\u201d " + x[1]; }).join(", ");
    }
    if (prank[i] <= 0) { return line + "; nothing follows (end of the file)."; }
    var actual = pct(Math.exp(pnext[i]));
    return line + "; actual next \u201c" + shown(i + 1) + "\u201d: rank " + prank[i] + " (" + actual + ").";
  }
  function surprised(i) {
    if (!P || i === 0 || !isFinite(pnext[i - 1])) { return ""; }
    var p = Math.exp(pnext[i - 1]);
    return "Surprisal " + (-pnext[i - 1] / Math.LN2).toFixed(1) + " bits: the model gave it " + pct(p) +
      " after the text before it.";
  }
  var tinted = [], focus = -1, pinned = false;
  var body = document.querySelector("#sources tbody");
  function paint(i) {
    tinted.forEach(function (s) { s.style.background = ""; });
    tinted = [];
    if (focus >= 0) { spans[focus].classList.remove("focus"); }
    focus = i;
    spans[i].classList.add("focus");
    text("focus-text", shown(i)); text("focus-line", "line " + (lines[i] + 1));
    text("prediction", predicted(i)); text("surprisal", surprised(i));
    // the figure of the focus token's situation (attention.query_position: the last token, or interior)
    if (D.faithfulness) { text("faithfulness", D.faithfulness[i === D.lastToken ? "last" : "interior"]); }
    body.textContent = "";
    var row = [], base = i * K;
    var computed = D.computed === null || D.computed[i];
    if (computed) {
      for (var r = 0; r < K && targets[base + r] >= 0; r++) { row.push([targets[base + r], weights[base + r]]); }
    }
    text("empty", !computed ? D.notComputed : row.length ? "" : D.noLinks);
    var max = row.length ? row[0][1] : 1;
    row.forEach(function (entry) {
      var j = entry[0], w = entry[1];
      spans[j].style.background = "rgba(255, 140, 0, " + (0.15 + 0.75 * w / max).toFixed(3) + ")";
      tinted.push(spans[j]);
      var tr = document.createElement("tr"); tr.dataset.i = String(j);
      var a = document.createElement("td"), c = document.createElement("code");
      c.textContent = shown(j); a.appendChild(c);
      var b = document.createElement("td"); b.textContent = String(lines[j] + 1);
      var d = document.createElement("td"); d.className = "w"; d.textContent = percent(w);
      tr.appendChild(a); tr.appendChild(b); tr.appendChild(d); body.appendChild(tr);
    });
  }
  code.addEventListener("mouseover", function (event) {
    var i = event.target && event.target.dataset ? event.target.dataset.i : undefined;
    if (i !== undefined && !pinned) { paint(Number(i)); }
  });
  code.addEventListener("click", function (event) {
    var i = event.target && event.target.dataset ? event.target.dataset.i : undefined;
    if (i === undefined) { return; }
    pinned = !(pinned && Number(i) === focus);
    code.classList.toggle("pinned", pinned);
    paint(Number(i));
  });
  var view = document.getElementById("view");
  function reveal(i) {
    // Scroll the code view only (not the page, whose header stays in sight): the token in the middle.
    var s = spans[i];
    view.scrollTop = Math.max(0, s.offsetTop - view.clientHeight / 2);
    if (s.offsetLeft < view.scrollLeft || s.offsetLeft > view.scrollLeft + view.clientWidth - 40) {
      view.scrollLeft = Math.max(0, s.offsetLeft - view.clientWidth / 3);
    }
  }
  body.addEventListener("click", function (event) {
    var tr = event.target.closest ? event.target.closest("tr") : null;
    if (tr && tr.dataset.i !== undefined) { reveal(Number(tr.dataset.i)); }
  });
  paint(D.focus);
  reveal(D.focus);
  // The editor's colour map (extension/src/core/colormap.ts): dark blue -> magenta -> orange -> pale yellow.
  var STOPS = [[0, 13, 8, 64], [0.25, 84, 15, 109], [0.5, 187, 55, 84], [0.75, 249, 142, 9], [1, 252, 255, 164]];
  function colour(t) {
    for (var s = 1; s < STOPS.length; s++) {
      if (t <= STOPS[s][0]) {
        var a = STOPS[s - 1], b = STOPS[s], f = (t - a[0]) / (b[0] - a[0]);
        return [0, 1, 2].map(function (c) { return Math.round(a[c + 1] + (b[c + 1] - a[c + 1]) * f); });
      }
    }
    return STOPS[STOPS.length - 1].slice(1);
  }
  var H = D.heatmap, canvas = document.getElementById("heatmap");
  if (H.bins > 0) {
    var cells = bytes(H.data), B = H.bins;
    canvas.width = B; canvas.height = B;
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(B, B);
    for (var k = 0; k < B * B; k++) {
      var v = cells[k], rgb = v ? colour((v - 1) / 254) : [255, 255, 255];
      img.data[4 * k] = rgb[0]; img.data[4 * k + 1] = rgb[1]; img.data[4 * k + 2] = rgb[2]; img.data[4 * k + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    var ramp = document.getElementById("ramp"), rctx = ramp.getContext("2d");
    for (var x = 0; x < 160; x++) {
      rctx.fillStyle = "rgb(" + colour(x / 159).join(",") + ")"; rctx.fillRect(x, 0, 1, 1);
    }
    text("legend-low", percent(H.low)); text("legend-high", percent(H.high));
    text("heatmap-note", H.note);
    function bin(event, axis) {
      var box = canvas.getBoundingClientRect();
      var f = axis === "y" ? (event.clientY - box.top) / box.height : (event.clientX - box.left) / box.width;
      return Math.min(B - 1, Math.max(0, Math.floor(f * B)));
    }
    function tokens(b2) {
      var first = H.edges[b2], last = H.edges[b2 + 1] - 1;
      return (first === last ? shown(first) : "tokens " + first + "-" + last) + " (line " + (lines[first] + 1) + ")";
    }
    canvas.addEventListener("mousemove", function (event) {
      var r = bin(event, "y"), c2 = bin(event, "x");
      text("heatmap-cell", c2 > r ? "" : tokens(r) + " \u2192 " + tokens(c2));
    });
    canvas.addEventListener("click", function (event) {
      var first = H.edges[bin(event, "y")];
      paint(first); reveal(first);
    });
  } else {
    document.getElementById("legend").style.display = "none";
    text("heatmap-note", H.note);
  }
})();
</script></body></html>
"""


def _json_for_script(value: Any) -> str:
    # Inside <script>, only "</" can end the element early; escape it (and "<!--") for safety.
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _base64(array: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def log_codes(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    """uint8 codes of non-negative ``values`` on the editor's log scale, with the (low, high) it spans.

    As the editor's heatmap (extension/src/core/heatmapGrid.ts, ``logScale``): low is the
    PERCENTILE-th percentile of the nonzero values and high the largest; a positive w gets
    1 + round(254 t) with t = (ln w - ln low) / (ln high - ln low) clipped to [0, 1], so weights
    below low take the darkest colour; 0 stays 0 (no colour).
    """
    positive = values[values > 0]
    if positive.size == 0:
        return np.zeros(values.shape, dtype=np.uint8), 0.0, 0.0
    low, high = float(np.percentile(positive, PERCENTILE)), float(positive.max())
    t = np.zeros(values.shape, dtype=np.float64)
    mask = values > 0
    if high > low:
        t[mask] = np.clip((np.log(np.maximum(values[mask], low)) - np.log(low)) / np.log(high / low), 0.0, 1.0)
    else:
        t[mask] = 1.0
    return np.where(mask, 1 + np.rint(254 * t), 0).astype(np.uint8), low, high


def _heatmap(analysis: Analysis, options: ViewOptions, progress: ReportProgress) -> dict[str, Any]:
    """The editor's heatmap overview: what ``attenScope/heatmap`` answers for the whole file at BINS
    cells a side (max-pooled, its rows read as the server reads them), on the editor's log scale."""
    n = analysis.token_count
    if options.aggregate_spec.streamed:
        note = f"No heatmap: the {options.aggregate} aggregate rebuilds every row of the file for it."
        return {"bins": 0, "edges": [], "data": "", "low": 0.0, "high": 0.0, "note": note}
    progress(None, "Heatmap overview")
    one = {"layer": options.layers, "head": options.heads}
    params = {
        "bins": BINS,
        "refinement": options.refinement,
        "aggregate": options.aggregate,
        "dropSink": options.drop_sink,
        **{k: v[0] for k, v in one.items() if v is not None and len(v) == 1},
    }
    grid = view_result("heatmap", analysis, params)
    edges = np.array(grid["rows"]["edges"])
    data = base64.b64decode(grid["data"])
    if grid.get("compression") == "deflate":
        data = zlib.decompress(data)
    codes = np.frombuffer(data, dtype="<u2").astype(np.float64)
    # log16 (docs/PROTOCOL.md): 0 is no weight, v >= 1 is low * (high / low)^((v - 1) / 65534)
    span = np.log(grid["high"] / grid["low"]) if grid["high"] > 0 else 0.0
    weights = np.where(codes > 0, grid["low"] * np.exp((codes - 1) / 65534 * span), 0.0)
    shown, low, high = log_codes(weights)
    read, total = grid["rowsRead"], grid["rowsTotal"]
    sampled = "" if read == total else f"; {read:,} of {total:,} rows read"
    selection = "" if all(v is None or len(v) == 1 for v in one.values()) else " (every layer and head)"
    return {
        "bins": len(edges) - 1,
        "edges": [int(e) for e in edges],
        "data": base64.b64encode(shown.tobytes()).decode("ascii"),
        "low": low,
        "high": high,
        "note": (
            f"All {n:,} tokens{selection}, {len(edges) - 1} cells a side (each the largest weight of its "
            f"tokens{sampled}): row = query token, column = source token; log colour scale from the "
            f"{_ordinal(PERCENTILE)} percentile of the cells to the largest weight. Click a cell to focus "
            "its row's first token."
        ),
    }


def _prediction(analysis: Analysis) -> dict[str, Any] | None:
    """Every token's predictions for the page: ``top`` (n x k int32) indexes ``vocab``, the labels of
    the predicted ids (``tokens.id_label``), with ``probs`` (n x k float32); ``next`` the log-probability
    of the actual next token (float32, NaN at the end) and ``rank`` its rank (int32, 0 at the end)."""
    predicted = analysis.owned_predictions()
    if predicted is None:
        return None
    ids = predicted.top_ids.numpy()
    vocabulary, index = np.unique(ids[ids >= 0], return_inverse=True)
    top = np.full(ids.shape, -1, dtype=np.int32)
    top[ids >= 0] = index
    return {
        "k": int(ids.shape[1]),
        "vocab": [id_label(analysis.document, int(i)) for i in vocabulary],
        "top": _base64(top, "<i4"),
        "probs": _base64(predicted.top_probs.numpy(), "<f4"),
        "next": _base64(predicted.next_logprob.numpy(), "<f4"),
        "rank": _base64(predicted.next_rank.numpy(), "<i4"),
    }


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def build_report(
    analysis: Analysis,
    focus: int,
    options: ViewOptions,
    title: str,
    progress: ReportProgress = ignore_progress,
    language: str | None = None,
) -> str:
    """The report's HTML for ``analysis``, opened at ``focus``; ``progress`` follows the row blocks.
    ``language``: the file's language id, for the faithfulness figure to say what it was measured on."""
    doc = analysis.document
    n = analysis.token_count
    found = links(analysis, options, TOP, progress)
    computed = found.computed.copy()
    if not computed[focus]:  # a streamed aggregate: the focus token only
        targets, weights = vector_links(analysis, options, focus, TOP)
        found.targets[focus, : len(targets)] = targets
        found.weights[focus, : len(weights)] = weights
        computed[focus] = True
    texts = [doc.token_text(i) for i in range(n)]
    labels = {i: shown for i in range(n) if (shown := label(doc, i)) != texts[i]}
    settings = options.to_json()
    windows = len(analysis.windows)
    # The header states the figure of the situation on screen: the focus token's position, as the
    # editor does (``attention.query_position``); the page switches between the two as the focus moves.
    faithfulness = None
    if options.direction == "attendsTo":
        faithfulness = {
            position: faithfulness_sentence(
                view_faithfulness(analysis.info.id, options, position=position, language=language)
            )
            for position in ("last", "interior")
        }
    data = {
        "file": title,
        "settings": (
            f"{analysis.info.id} \u00b7 {settings_line(settings)} \u00b7 {n:,} tokens"
            + (f" in {windows} windows of up to {analysis.max_tokens:,}" if windows > 1 else "")
            + (" \u00b7 the rest of the file was too long to analyse" if analysis.truncated else "")
        ),
        "faithfulness": faithfulness,  # by position, or None: the view was not measured (attendedBy)
        "lastToken": n - 1,  # the one token whose figure is the last-token one (attention.query_position)
        "heading": "Sources of" if options.direction == "attendsTo" else "Later tokens drawing on",
        "texts": texts,
        "labels": labels,
        "lineCount": analysis.lines.line_count,
        "focus": focus,
        "k": TOP,
        "targets": _base64(found.targets, "<i4"),
        "weights": _base64(found.weights, "<f4"),
        "computed": None if computed.all() else [bool(c) for c in computed],  # None: every token
        "noLinks": "No attention outside the sink tokens.",
        "notComputed": f"The {options.aggregate} aggregate costs every earlier row per token: only the token "
        "the report was written for is shown. Run the report at another token with --at.",
        "heatmap": _heatmap(analysis, options, progress),
        "prediction": _prediction(analysis),
    }
    return _PAGE % {"title": html.escape(title), "data": _json_for_script(data)}


def write_report(
    path: Path,
    analysis: Analysis,
    focus: int,
    options: ViewOptions,
    title: str,
    progress: ReportProgress = ignore_progress,
    language: str | None = None,
) -> None:
    """Write the report of ``analysis`` opened at ``focus`` to ``path``, reporting the row blocks to ``progress``."""

    def rows(fraction: float | None, message: str) -> None:
        progress(fraction, f"Writing the report: {message[0].lower()}{message[1:]}")

    path.write_text(build_report(analysis, focus, options, title, rows, language), encoding="utf-8")
