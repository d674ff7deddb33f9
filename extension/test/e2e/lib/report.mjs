// Checks, their results and the run's timings; screenshots and logs in the artifacts folder.
import fs from 'node:fs';
import path from 'node:path';
import { artifacts } from './config.mjs';
import { live } from './processes.mjs';
import { log, sleep, slug, t0 } from './util.mjs';

export const results = [];
export const timings = {};

// Runs one named check: PASS with its detail line, or FAIL with the first line of its error (and a
// `fail-<name>.png` of the workbench). A check whose `needs` did not all pass is not run and fails.
export async function check(name, fn, needs = []) {
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
    if (live.page) await screenshot(live.page, `fail-${slug(name)}`).catch(() => {});
    return false;
  }
}

// Prints the timings, the failed checks and the last line, `e2e: N passed, M failed`; returns M.
export function summary() {
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  const t = Object.entries(timings).map(([k, v]) => `${k}=${v}`).join(' ');
  if (t) console.log(`e2e timings: ${t} total=${Date.now() - t0}ms`);
  for (const r of results.filter((x) => !x.ok)) console.log(`e2e failed: ${r.name}`);
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  return failed;
}

export async function screenshot(page, name) {
  fs.mkdirSync(artifacts, { recursive: true });
  await sleep(400); // let hover fade-ins and webview paints finish
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({ path: file, timeout: 15000 });
  return file;
}

// code-server's logs, the extension host and output-channel logs, and the browser console.
export async function saveLogs(run, label, page) {
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
