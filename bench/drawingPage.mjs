// What the two heatmap benchmarks share: headless Chromium with the webview's drawing code loaded
// into a blank page, the percentile their tables use, and the hand-off to bench/report.py.

import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(benchDir);
// The flags that work on these machines (no GPU, no network, no first-run or update work).
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function loadPlaywright() {
  for (const anchor of [path.join(benchDir, 'package.json'), path.join(root, '.e2e', 'npm', 'package.json'), path.join(root, 'package.json')]) {
    try {
      return createRequire(anchor)('playwright-core');
    } catch {
      // try the next install
    }
  }
  throw new Error('playwright-core not found: run `npm ci --prefix bench`');
}

/**
 * Headless Chromium at `executable` with a 1,000 x 1,000 blank page (every request aborted) that
 * holds extension/out/webview/heatmapDraw.js: `{ browser, page }`.
 */
export async function openDrawingPage(executable) {
  const bundle = path.join(root, 'extension', 'out', 'webview', 'heatmapDraw.js');
  if (!fs.existsSync(bundle)) throw new Error('extension/out/webview/heatmapDraw.js is missing: run `npm run compile`');
  const { chromium } = loadPlaywright();
  const browser = await chromium.launch({ executablePath: executable, headless: true, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 1000 } });
    await page.route('**/*', (route) => route.abort());
    await page.setContent('<!doctype html><html><body style="margin:0"></body></html>');
    await page.addScriptTag({ content: fs.readFileSync(bundle, 'utf8') });
    return { browser, page };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

/** The q-th quantile (0..1) with linear interpolation, as numpy's percentile. */
export function percentile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** The Python that runs the server and report.py: ATTEN_SCOPE_PYTHON, else the checkout's .venv, else python3. */
export function benchPython() {
  const venv = path.join(root, '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
  return process.env.ATTEN_SCOPE_PYTHON || (fs.existsSync(venv) ? venv : 'python3');
}

/** Regenerates RESULTS.md in `outDir` (assembled in one place, bench/report.py) after `section` was written. */
export function regenerate(outDir, section, python) {
  try {
    execFileSync(python, [path.join(benchDir, 'report.py'), '--out', outDir], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (error) {
    console.error(`${section} written; RESULTS.md not regenerated (run python bench/report.py): ${error.message}`);
  }
}
