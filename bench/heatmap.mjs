// Times the heatmap from request to drawn canvas (targets: 2,048 tokens under 1 s, 16,384 under 5 s
// on 2 cores), against the real language server and the webview's drawing code.
//
// Starts `python -m atten_scope serve` (torch on --threads threads) and speaks JSON-RPC to it over
// stdio. For each size, a file of that many tokens (Python standard-library sources joined, read at
// run time; nothing is copied into the repository) is opened and analysed; then, --repeats times:
// attenScope/heatmap (the overview: at most 1,024 max-pooled cells a side) is sent, and its answer
// handed (as JSON text, like VS Code's postMessage) to extension/out/webview/heatmapDraw.js in
// headless Chromium, which parses, decodes and draws it on a fresh 1,000 x 1,000 canvas. "Request to drawn" is from sending the request to the flushed
// canvas; "server" is the time the server reports computing it. Also measured: an exact 1,024-token
// tile at the end of the file (what zooming in asks for), and an attention request sent while a
// heatmap computes (the cursor does not wait for the heatmap).
//
// Usage: node bench/heatmap.mjs [--sizes 2048,4096,16384] [--repeats 3] [--threads 2] [--device cuda]
//        [--out bench/results] [--python .venv/bin/python] [--chromium /usr/bin/chromium] [--quick]
// Needs `npm run compile` (the drawing bundle) and playwright-core (see render.mjs).

import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchPython, openDrawingPage, percentile, regenerate } from './drawingPage.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(benchDir);
const require = createRequire(path.join(root, 'package.json'));
const rpc = require('vscode-jsonrpc/node');

function parseArgs(argv) {
  const args = {
    sizes: [2048, 4096, 16384],
    repeats: 3,
    threads: 2,
    out: undefined,
    device: 'cpu',
    python: benchPython(),
    chromium: '/usr/bin/chromium',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--sizes') args.sizes = value.split(',').map(Number);
    else if (flag === '--repeats') args.repeats = Number(value);
    else if (flag === '--threads') args.threads = Number(value);
    else if (flag === '--out') args.out = path.resolve(value);
    else if (flag === '--device') args.device = value;
    else if (flag === '--python') args.python = value;
    else if (flag === '--chromium') args.chromium = value;
    else if (flag === '--quick') {
      args.sizes = [300];
      args.repeats = 1;
      continue;
    } else throw new Error(`unknown option ${flag}`);
    i++;
  }
  // a GPU's table goes beside the CPU's, not over it
  args.out ??= path.join(benchDir, 'results', ...(args.device === 'cpu' ? [] : [args.device]));
  return args;
}

// Standard-library sources joined, cut at the character where the wanted token count ends (by the
// embedded model's tokenizer). Printed as JSON {size: text}.
const TEXTS = `
import json, pathlib, sys, sysconfig
from atten_scope.engine.model import load_model
sizes = [int(s) for s in sys.argv[1].split(",")]
tokenizer = load_model("embedded:smollm2-135m", "cpu").tokenizer
lib = pathlib.Path(sysconfig.get_paths()["stdlib"])
text = ""
for name in ("http/client.py", "http/server.py", "email/message.py", "argparse.py", "inspect.py", "typing.py"):
    text += (lib / name).read_text(encoding="utf-8")
    if len(tokenizer(text)["input_ids"]) > max(sizes) + 16:
        break
ends = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
json.dump({n: text[: ends[n - 1][1]] for n in sizes}, sys.stdout)
`;

function serverEnv(threads) {
  const env = { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_VERBOSITY: 'error', OMP_NUM_THREADS: String(threads) };
  env.PYTHONPATH = [path.join(root, 'server'), env.PYTHONPATH].filter(Boolean).join(path.delimiter);
  return env;
}

async function startServer(python, threads, device) {
  const child = spawn(python, ['-m', 'atten_scope', 'serve'], { env: serverEnv(threads), stdio: ['pipe', 'pipe', 'inherit'] });
  const connection = rpc.createMessageConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
  connection.onRequest(() => null); // progress tokens, configuration: nothing to answer
  connection.onNotification(() => undefined);
  connection.listen();
  await connection.sendRequest('initialize', {
    processId: process.pid,
    rootUri: null,
    capabilities: {},
    initializationOptions: { settings: { device } },
  });
  await connection.sendNotification('initialized', {});
  return { child, connection };
}

function torchThreads(python, threads) {
  try {
    return execFileSync(python, ['-c', 'import torch; print(torch.__version__, torch.get_num_threads())'], {
      encoding: 'utf8',
      env: serverEnv(threads),
    }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Hands a heatmap answer to the page as VS Code's postMessage does (serialised to JSON by the
 * extension host, parsed by the webview) and draws it on a fresh canvas; returns the page's
 * milliseconds (parse, decode, draw).
 */
async function drawIn(page, answer) {
  return page.evaluate(async (message) => {
    const t0 = performance.now();
    const answer = JSON.parse(message);
    const canvas = document.createElement('canvas');
    canvas.width = 1000;
    canvas.height = 1000;
    document.body.replaceChildren(canvas);
    await window.drawHeatmap(canvas, answer);
    canvas.getContext('2d').getImageData(0, 0, 1, 1); // flush
    return performance.now() - t0;
  }, JSON.stringify(answer));
}

async function measure(connection, page, uri, repeats) {
  const params = { textDocument: { uri }, layer: 'all', head: 'all' };
  const runs = [];
  let answer;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    answer = await connection.sendRequest('attenScope/heatmap', params);
    const t1 = performance.now();
    const drawMs = await drawIn(page, answer);
    const t2 = performance.now();
    runs.push({ totalMs: t2 - t0, serverMs: answer.elapsedMs, answerMs: t1 - t0, drawMs, pageMs: t2 - t1 });
  }
  const tokens = answer.tokens;
  const tile = Math.min(1024, tokens);
  const t0 = performance.now();
  const tileAnswer = await connection.sendRequest('attenScope/heatmapTile', { ...params, rows: [tokens - tile, tokens], columns: [tokens - tile, tokens] });
  await drawIn(page, tileAnswer);
  const tileMs = performance.now() - t0;

  // A cursor request while a heatmap computes: answered first, and how fast.
  let heatmapDone = false;
  const pending = connection.sendRequest('attenScope/heatmap', params).then(() => (heatmapDone = true));
  await new Promise((resolve) => setTimeout(resolve, 150));
  const c0 = performance.now();
  await connection.sendRequest('attenScope/attention', { textDocument: { uri }, position: { line: 40, character: 8 } });
  const cursorMs = performance.now() - c0;
  const cursorFirst = !heatmapDone;
  await pending;
  return {
    tokens,
    bins: answer.columns.edges.length - 1,
    rowBins: answer.rows.edges.length - 1,
    rowsRead: answer.rowsRead,
    exact: answer.exact,
    bytes: JSON.stringify(answer).length,
    runs,
    tileTokens: tile,
    tileMs,
    cursorMs,
    cursorFirst,
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const loadBefore = os.loadavg()[0];
  console.error(`texts of ${args.sizes.join(', ')} tokens from the standard library`);
  const texts = JSON.parse(
    execFileSync(args.python, ['-c', TEXTS, args.sizes.join(',')], { env: serverEnv(args.threads), maxBuffer: 1 << 28, encoding: 'utf8' }),
  );
  const { browser, page } = await openDrawingPage(args.chromium);
  const server = await startServer(args.python, args.threads, args.device);
  const rows = [];
  try {
    for (const n of args.sizes) {
      const uri = `file:///bench/heatmap-${n}.py`;
      server.connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'python', version: 1, text: texts[n] } });
      const a0 = performance.now();
      const analysis = await server.connection.sendRequest('attenScope/analyze', { textDocument: { uri } });
      console.error(`n=${n}: analysed ${analysis.tokens} tokens in ${((performance.now() - a0) / 1000).toFixed(1)} s`);
      const row = await measure(server.connection, page, uri, args.repeats);
      const totals = row.runs.map((r) => r.totalMs);
      console.error(
        `n=${n}: request to drawn ${totals.map((t) => t.toFixed(0)).join(', ')} ms; server ${row.runs.map((r) => r.serverMs).join(', ')} ms; ` +
          `tile ${row.tileMs.toFixed(0)} ms; cursor during heatmap ${row.cursorMs.toFixed(0)} ms (${row.cursorFirst ? 'before' : 'after'} the heatmap)`,
      );
      rows.push({ n, windows: analysis.windows.length, ...row, p50: percentile(totals, 0.5), first: totals[0], max: Math.max(...totals) });
      server.connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
    }
  } finally {
    await browser.close();
    await server.connection.sendRequest('shutdown').catch(() => undefined);
    server.connection.sendNotification('exit');
    server.connection.dispose();
    setTimeout(() => server.child.kill('SIGKILL'), 5000).unref();
  }
  const fmt = (x, digits = 0) => x.toFixed(digits);
  const pct = (r) => `${((100 * r.rowsRead) / r.tokens).toFixed(0)} %`;
  const text = [
    '## Heatmap from request to drawn canvas (targets: 2,048 tokens under 1 s, 16,384 under 5 s on 2 cores)',
    '',
    `Machine: date ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} CPU cores, load average (1 min) ${loadBefore.toFixed(1)} before and ` +
      `${os.loadavg()[0].toFixed(1)} after the run (other jobs shared the cores: the times scale with the share this run got), ` +
      `Node ${process.version}, torch ${torchThreads(args.python, args.threads)} threads, Chromium (headless, software canvas). ` +
      `Model on ${args.device}. Default view (norm / lastLayers), embedded model, files from the Python standard library analysed in windows of 4,096 tokens. ${args.repeats} requests per size.`,
    '',
    'Request to drawn = `attenScope/heatmap` sent to the language server over stdio until the webview code has decoded and drawn ' +
      'the answer (passed as JSON text, as VS Code posts messages to a webview) on a 1,000 x 1,000 canvas in headless Chromium. ' +
      'Server = the time the server reports computing the answer; draw in page = parse, decode and draw. ' +
      'Cells: columns x rows of the overview (rows in bands of at least four tokens once the tokens outnumber 1,024 bands, ' +
      'at least 512 bands). Rows read: the share of rows the overview read in its time (0.4 s at 2,048 tokens to 3.2 s at ' +
      '16,384), one row of each band first, then more of each band, evenly spread. ' +
      'Tile = the exact 1,024-token tile at the end of the file that zooming in asks for, request to drawn. ' +
      'Cursor = an attention request sent 150 ms into a heatmap request, until its answer.',
    '',
    '| tokens | windows | cells | rows read | answer (MB of JSON) | request to drawn, first (ms) | p50 (ms) | max (ms) | server p50 (ms) | draw in page p50 (ms) | tile (ms) | cursor during heatmap (ms) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.tokens} | ${r.windows} | ${r.bins} x ${r.rowBins ?? r.bins} | ${pct(r)} | ${fmt(r.bytes / 1e6, 1)} | ${fmt(r.first)} | ${fmt(r.p50)} | ${fmt(r.max)} | ` +
        `${fmt(percentile(r.runs.map((x) => x.serverMs), 0.5))} | ${fmt(percentile(r.runs.map((x) => x.drawMs), 0.5))} | ${fmt(r.tileMs)} | ` +
        `${fmt(r.cursorMs)}${r.cursorFirst ? '' : ' (heatmap already done)'} |`,
    ),
  ].join('\n');
  console.log(text);
  fs.mkdirSync(args.out, { recursive: true });
  fs.writeFileSync(path.join(args.out, 'heatmap.md'), text + '\n');
  fs.writeFileSync(path.join(args.out, 'heatmap.json'), JSON.stringify({ sizes: rows }, null, 1) + '\n');
  regenerate(args.out, 'heatmap.md', args.python);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
