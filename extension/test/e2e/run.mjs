#!/usr/bin/env node
// End-to-end test of the Atten-Scope extension in a real VS Code (code-server), driven by headless
// Chromium through playwright-core. Run extension/test/e2e/setup.sh once first.
//
// Usage: node extension/test/e2e/run.mjs [--vsix FILE] [--python FILE] [--base-python FILE]
//                                         [--only NAME,...] [--list] [--keep-temp]
// Env:   ATTEN_SCOPE_PYTHON       Python interpreter with atten_scope installed (default <repo>/.venv/bin/python)
//        ATTEN_SCOPE_BASE_PYTHON  a Python >= 3.10 without atten_scope for the set-up scenario
//                                 (default: the interpreter the one above was created from)
//        ATTEN_SCOPE_VSIX         the .vsix to test (default: newest atten-scope-*.vsix at the repo root)
//        ATTEN_SCOPE_E2E_ONLY     like --only (the option wins)
//        ATTEN_SCOPE_E2E_CACHE    where setup.sh installed code-server etc. (default <repo>/.e2e)
//        ATTEN_SCOPE_E2E_ARTIFACTS  screenshots and logs (default <repo>/.e2e-artifacts)
//        ATTEN_SCOPE_E2E_TIMEOUT_S  hard limit for the whole run (default 1800)
//        ATTEN_SCOPE_E2E_COLD_MODEL=1  do not share the converted-model cache between runs
// --only picks scenarios (trusted, untrusted, setup, setup-old-python) or single features of the
// trusted scenario (hover, flow, ...: they run in its session after its Analyze File); --list
// prints them all. The last line printed is always `e2e: N passed, M failed`; the exit status is 0
// only when nothing failed.
//
// The runner only parses options, checks prerequisites, runs the scenarios in scenarios/ and
// cleans up; the shared harness (code-server, browser, workbench, editor, webviews) is in lib/.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, artifacts, cache, codeServerEntry, node24, repo } from './lib/config.mjs';
import { cleanup } from './lib/processes.mjs';
import { check, results, summary } from './lib/report.mjs';
import { assert, log } from './lib/util.mjs';
import { describe, plan } from './scenarios/index.mjs';

function help() {
  const header = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1)
    .filter((l, i, all) => all.slice(0, i + 1).every((x) => x.startsWith('//')))
    .map((l) => l.replace(/^\/\/ ?/, ''));
  return `${header.join('\n')}\n\nScenarios and features:\n${describe()}`;
}

function parseArgs(argv) {
  const o = { vsix: process.env.ATTEN_SCOPE_VSIX || '', python: process.env.ATTEN_SCOPE_PYTHON || '', basePython: process.env.ATTEN_SCOPE_BASE_PYTHON || '', only: process.env.ATTEN_SCOPE_E2E_ONLY || '', keepTemp: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--vsix') o.vsix = val();
    else if (a === '--python') o.python = val();
    else if (a === '--base-python') o.basePython = val();
    else if (a === '--only') o.only = val();
    else if (a === '--keep-temp') o.keepTemp = true;
    else if (a === '--list') { console.log(describe()); process.exit(0); }
    else if (a === '-h' || a === '--help') { console.log(help()); process.exit(0); }
    else throw new Error(`unknown argument ${a}`);
  }
  o.plan = plan(o.only.split(',').map((x) => x.trim()).filter(Boolean));
  return o;
}

function newestVsix() {
  const c = fs.readdirSync(repo).filter((f) => /^atten-scope-.*\.vsix$/.test(f))
    .map((f) => ({ f: path.join(repo, f), t: fs.statSync(path.join(repo, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  return c.length ? c[0].f : '';
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

  for (const { scenario, only } of opts.plan) await scenario.run(opts, only);
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
