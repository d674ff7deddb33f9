// Times the webview heatmap drawing code in headless Chromium (spec section 10: 2,048 tokens <= 150 ms).
//
// Loads the bundle extension/out/webview/heatmapDraw.js (build it with `npm run compile`) into a blank
// page (page.setContent + addScriptTag, no network) and calls window.drawHeatmap(canvas, result) with
// the protocol's overview answer for n tokens: min(n, 1,024) bins a side, uint16 log codes in base64.
// Each timed draw uses a fresh canvas, so it includes base64 decoding, the colour scale, the
// one-pixel-per-cell bitmap and the scaled drawImage; a 1-pixel getImageData afterwards forces the
// canvas to flush. A redraw of the cached bitmap (zoom/pan) is timed separately. The server's side
// of a heatmap, and the whole way from request to drawn canvas, is bench/heatmap.mjs.
//
// Usage: node bench/render.mjs [--sizes 512,2048,4096,16384] [--repeats 15] [--out bench/results]
//        [--chromium /usr/bin/chromium]
// playwright-core is resolved from bench/node_modules (`npm ci --prefix bench`) or the e2e test install.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { benchPython, openDrawingPage, percentile, regenerate } from './drawingPage.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const args = { sizes: [512, 2048, 4096, 16384], repeats: 15, out: path.join(benchDir, 'results'), chromium: '/usr/bin/chromium' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--sizes') args.sizes = value.split(',').map(Number);
    else if (flag === '--repeats') args.repeats = Number(value);
    else if (flag === '--out') args.out = path.resolve(value);
    else if (flag === '--chromium') args.chromium = value;
    else if (flag === '--quick') {
      args.sizes = [256];
      args.repeats = 3;
      continue;
    } else throw new Error(`unknown option ${flag}`);
    i++;
  }
  return args;
}

/**
 * A deterministic overview answer for n tokens that looks like attention: a diagonal band, a strong
 * first column, noise; cells above the diagonal carry no weight (code 0).
 */
export function overviewAnswer(n, maxBins = 1024) {
  const bins = Math.min(n, maxBins);
  const edges = Array.from({ length: bins + 1 }, (_, b) => Math.floor((b * n) / bins));
  const codes = new Uint16Array(bins * bins);
  let seed = 12345;
  for (let i = 0; i < bins; i++) {
    for (let j = 0; j <= i; j++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const noise = (seed >>> 16) / 65536;
      const band = Math.max(0, 1 - (i - j) / 40);
      codes[i * bins + j] = 1 + Math.min(65534, Math.round(65534 * (j === 0 ? 1 : 0.2 + 0.6 * band + 0.2 * noise)));
    }
  }
  const token = (index) => ({ index, text: 'x', range: { start: { line: index >> 3, character: 0 }, end: { line: index >> 3, character: 1 } } });
  const axis = { start: 0, end: n, edges, first: edges.slice(0, -1).map(token), ...(bins < n ? { last: edges.slice(1).map((e) => token(e - 1)) } : {}) };
  return {
    version: 1, tokens: n, rows: axis, columns: axis, pooling: 'max', exact: bins === n, rowsRead: n, rowsTotal: n,
    encoding: 'log16', compression: 'deflate', low: 1e-7, high: 0.9, data: deflateSync(Buffer.from(codes.buffer), { level: 1 }).toString('base64'),
  };
}

function chromiumVersion(executable) {
  try {
    return execFileSync(executable, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split(' ').slice(0, 2).join(' ');
  } catch {
    return 'Chromium (version unknown)';
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { browser, page } = await openDrawingPage(args.chromium);
  const rows = [];
  try {
    for (const n of args.sizes) {
      const answer = overviewAnswer(n);
      const stats = await page.evaluate(
        async ({ answer, repeats }) => {
          const draw = async (canvas) => {
            const t0 = performance.now();
            const s = await window.drawHeatmap(canvas, answer);
            canvas.getContext('2d').getImageData(0, 0, 1, 1);
            return { total: performance.now() - t0, render: s.renderMs };
          };
          const make = () => {
            const canvas = document.createElement('canvas');
            canvas.width = 800;
            canvas.height = 800;
            document.body.replaceChildren(canvas);
            return canvas;
          };
          await draw(make()); // warm-up (JIT)
          const first = [];
          const render = [];
          for (let r = 0; r < repeats; r++) {
            const s = await draw(make());
            first.push(s.total);
            render.push(s.render);
          }
          const canvas = make();
          await draw(canvas);
          const redraw = [];
          for (let r = 0; r < repeats; r++) {
            const t0 = performance.now();
            await window.drawHeatmap(canvas, answer, { view: { zoom: 1 + r / 10, panX: -r, panY: -r } });
            canvas.getContext('2d').getImageData(0, 0, 1, 1);
            redraw.push(performance.now() - t0);
          }
          return { first, render, redraw };
        },
        { answer, repeats: args.repeats },
      );
      const row = {
        n,
        bins: answer.rows.edges.length - 1,
        bytes: Buffer.from(answer.data, 'base64').length,
        p50: percentile(stats.first, 0.5),
        p95: percentile(stats.first, 0.95),
        render: percentile(stats.render, 0.5),
        redraw: percentile(stats.redraw, 0.5),
      };
      console.error(`n=${n}: first draw p50 ${row.p50.toFixed(1)} ms, p95 ${row.p95.toFixed(1)} ms`);
      rows.push(row);
    }
  } finally {
    await browser.close();
  }
  const fmt = (x) => x.toFixed(1);
  const text = [
    '## Heatmap drawing in headless Chromium (target: 2,048 tokens <= 150 ms)',
    '',
    `Machine: date ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} CPU cores, Node ${process.version}, ` +
      `${chromiumVersion(args.chromium)} (headless, --disable-gpu: software canvas). ${args.repeats} draws per size.`,
    '',
    'First draw = `drawHeatmap` on a fresh canvas from the overview answer of the protocol (min(n, 1,024) ' +
      'max-pooled cells a side; base64 decode, inflate, log colour scale, one-pixel-per-cell bitmap, scaled draw, flush). ' +
      'Redraw = zoom/pan of the cached bitmap.',
    '',
    '| tokens | cells a side | payload (KB) | first draw p50 (ms) | first draw p95 (ms) | bitmap render p50 (ms) | redraw p50 (ms) |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.n} | ${r.bins} | ${fmt(r.bytes / 1024)} | ${fmt(r.p50)} | ${fmt(r.p95)} | ${fmt(r.render)} | ${fmt(r.redraw)} |`),
  ].join('\n');
  console.log(text);
  fs.mkdirSync(args.out, { recursive: true });
  fs.writeFileSync(path.join(args.out, 'render.md'), text + '\n');
  fs.writeFileSync(path.join(args.out, 'render.json'), JSON.stringify({ sizes: rows }, null, 1) + '\n');
  regenerate(args.out, 'render.md', benchPython());
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
