"""A self-contained HTML report: the code with tints for a focus token, hover to move the focus,
and a heatmap of the region around it. No network: data, script and style are inline, and
every token's text reaches the page as JSON and is inserted with ``textContent`` (never parsed
as HTML), so code that looks like markup is shown as text.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from .analysis import Analysis
from .options import ViewOptions
from .progress import ReportProgress, ignore_progress
from .tokens import visible
from .views import attention_matrix, attention_vector

REGION_TOKENS = 768  # rows computed for hover and the heatmap: the focus token and the tokens before it
TOP_PER_ROW = 24

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
#code { font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; white-space: pre; tab-size: 4;
  border: 1px solid #d0d7de; padding: 8px; overflow: auto; max-height: 85vh; flex: 1 1 60%%; }
#code span.t { border-radius: 2px; }
#code span.focus { outline: 2px solid #0969da; }
#side { flex: 0 0 420px; }
#sources { width: 100%%; border-collapse: collapse; font-size: 12px; }
#sources td, #sources th { border-bottom: 1px solid #eaeef2; padding: 2px 6px; text-align: left; }
#sources td.w { text-align: right; font-variant-numeric: tabular-nums; }
#sources code { white-space: pre; }
canvas { border: 1px solid #d0d7de; image-rendering: pixelated; width: 400px; height: 400px; }
.note { color: #57606a; font-size: 12px; }
</style></head>
<body>
<header><h1>Atten-Scope: <span id="file"></span></h1>
<div class="note" id="settings"></div></header>
<main><div id="code"></div>
<div id="side"><h3>Sources of <code id="focus-text"></code></h3>
<table id="sources"><thead><tr><th>token</th><th>line</th><th>weight</th></tr></thead><tbody></tbody></table>
<h3>Heatmap</h3><canvas id="heatmap" width="1" height="1"></canvas>
<div class="note" id="heatmap-note"></div></div></main>
<script id="data" type="application/json">%(data)s</script>
<script>
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  document.getElementById("file").textContent = D.file;
  document.getElementById("settings").textContent = D.settings;
  var code = document.getElementById("code");
  var spans = [];
  D.tokens.forEach(function (t, i) {
    var s = document.createElement("span");
    s.className = "t"; s.textContent = t.text; s.dataset.i = String(i);
    spans.push(s); code.appendChild(s);
  });
  function paint(focus) {
    spans.forEach(function (s) { s.style.background = ""; s.classList.remove("focus"); });
    var row = D.rows[String(focus)];
    if (!row) { return; }
    spans[focus].classList.add("focus");
    var max = row.length ? row[0][1] : 1;
    var body = document.querySelector("#sources tbody");
    body.textContent = "";
    document.getElementById("focus-text").textContent = D.tokens[focus].shown;
    row.forEach(function (entry) {
      var j = entry[0], w = entry[1];
      spans[j].style.background = "rgba(255, 140, 0, " + (0.15 + 0.75 * w / max).toFixed(3) + ")";
      var tr = document.createElement("tr");
      var a = document.createElement("td"); var c = document.createElement("code");
      c.textContent = D.tokens[j].shown; a.appendChild(c);
      var b = document.createElement("td"); b.textContent = String(D.tokens[j].line + 1);
      var d = document.createElement("td"); d.className = "w"; d.textContent = (100 * w).toFixed(2) + "%%";
      tr.appendChild(a); tr.appendChild(b); tr.appendChild(d); body.appendChild(tr);
    });
  }
  code.addEventListener("mouseover", function (event) {
    var i = event.target && event.target.dataset ? event.target.dataset.i : undefined;
    if (i !== undefined && D.rows[i]) { paint(Number(i)); }
  });
  paint(D.focus);
  var H = D.heatmap, canvas = document.getElementById("heatmap");
  if (H.n > 0) {
    var bytes = Uint8Array.from(atob(H.data), function (ch) { return ch.charCodeAt(0); });
    canvas.width = H.n; canvas.height = H.n;
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(H.n, H.n), k = 0;
    for (var r = 0; r < H.n; r++) {
      for (var col = 0; col <= r; col++, k++) {
        var v = bytes[k], p = 4 * (r * H.n + col);
        img.data[p] = 255; img.data[p + 1] = 255 - Math.round(v * 0.45);
        img.data[p + 2] = 255 - v; img.data[p + 3] = 255;
      }
      for (var c2 = r + 1; c2 < H.n; c2++) { var q = 4 * (r * H.n + c2); img.data[q + 3] = 0; }
    }
    ctx.putImageData(img, 0, 0);
    document.getElementById("heatmap-note").textContent =
      "tokens " + H.offset + "-" + (H.offset + H.n - 1) + "; rows: query token, columns: source token";
  }
})();
</script></body></html>
"""


def _json_for_script(value: Any) -> str:
    # Inside <script>, only "</" can end the element early; escape it (and "<!--") for safety.
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build_report(analysis: Analysis, focus: int, options: ViewOptions, title: str) -> str:
    """The report's HTML for ``analysis`` with ``focus`` as the initially shown token."""
    doc = analysis.document
    count = min(REGION_TOKENS, focus + 1)
    first = focus + 1 - count
    # A streamed aggregate (rollout) costs every earlier row per row: only the focus row is shipped.
    if options.direction == "attendsTo" and not options.aggregate_spec.streamed:
        matrix = attention_matrix(analysis, options, first, count)
        rows = {}
        for r in range(count):
            row = matrix[r]
            order = np.argsort(-row, kind="stable")[:TOP_PER_ROW]
            rows[str(first + r)] = [[int(first + j), round(float(row[j]), 6)] for j in order if row[j] > 0]
    else:
        matrix = np.zeros((0, 0))
        weights = attention_vector(analysis, focus, options)
        order = np.argsort(-weights, kind="stable")[:TOP_PER_ROW]
        rows = {str(focus): [[int(j), round(float(weights[j]), 6)] for j in order if weights[j] > 0]}
    from .evidence import faithfulness_line, view_faithfulness
    from .results import heatmap_json

    heatmap = heatmap_json(analysis, options, first, count) if matrix.size else {"n": 0, "data": "", "offset": 0}
    settings = options.to_json()
    data = {
        "file": title,
        "settings": (
            f"model {analysis.info.id} · {settings['refinement']} · {settings['aggregate']} · {settings['direction']}"
            f" · layers {settings['layers']} · heads {settings['heads']}"
            f" · {'sink dropped' if settings['dropSink'] else 'sink kept'}"
            f" · {analysis.token_count} tokens in {len(analysis.windows)} window(s)"
            + (" · the file was truncated" if analysis.truncated else "")
            + (
                f" · {faithfulness_line(view_faithfulness(analysis.info.id, options))}"
                if settings["direction"] == "attendsTo"
                else ""
            )
        ),
        "tokens": [
            {"text": doc.token_text(i), "shown": visible(doc.token_text(i)), "line": int(analysis.token_lines[i])}
            for i in range(analysis.token_count)
        ],
        "focus": focus,
        "rows": rows,
        "heatmap": {"n": heatmap["n"], "data": heatmap["data"], "offset": heatmap["offset"]},
    }
    return _PAGE % {"title": html.escape(title), "data": _json_for_script(data)}


def write_report(
    path: Path,
    analysis: Analysis,
    focus: int,
    options: ViewOptions,
    title: str,
    progress: ReportProgress = ignore_progress,
) -> None:
    progress(0.0, "Writing the report")
    path.write_text(build_report(analysis, focus, options, title), encoding="utf-8")
