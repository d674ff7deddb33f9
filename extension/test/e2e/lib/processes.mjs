// What this run starts and must stop: code-server process groups, the browser, temporary folders;
// code-server itself (install a .vsix, start, wait for /healthz) and headless Chromium.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { CHROMIUM, CHROMIUM_ARGS, cache, codeServerEntry, node24 } from './config.mjs';
import { assert, log, sleep, waitFor } from './util.mjs';

const children = new Set(); // process-group leaders we spawned
export const tempDirs = [];
// The browser of the running scenario and its workbench page (a failed check screenshots it).
export const live = { browser: null, page: null };

export function killGroup(child, signal) {
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

export async function closeBrowser() {
  if (live.browser) { await Promise.race([live.browser.close().catch(() => {}), sleep(10000)]); live.browser = null; }
  live.page = null;
}

let cleanedUp = false;
export async function cleanup(keepTemp) {
  if (cleanedUp) return;
  cleanedUp = true;
  await closeBrowser();
  for (const c of children) killGroup(c, 'SIGTERM');
  await sleep(1500);
  for (const c of children) killGroup(c, 'SIGKILL');
  if (sweepStragglers('SIGTERM')) { await sleep(1000); sweepStragglers('SIGKILL'); }
  if (!keepTemp) for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true, maxRetries: 3 });
  else for (const d of tempDirs) log(`kept ${d}`);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

export function tail(file, n = 5) {
  try { return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-n).join(' | '); } catch { return '(no log)'; }
}

// ------------------------------------------------------------------------------------ code-server
export async function installVsix(env, dirs, vsix) {
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

export async function startCodeServer(env, dirs, port) {
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

export async function stopCodeServer(cs) {
  if (cs) { killGroup(cs.child, 'SIGTERM'); await sleep(1000); killGroup(cs.child, 'SIGKILL'); }
}

// ------------------------------------------------------------------------------------ browser
export async function launchBrowser(env) {
  const require = createRequire(path.join(cache, 'npm/package.json'));
  const { chromium } = require('playwright-core');
  // Signals are handled here (cleanup of code-server too), not by playwright.
  live.browser = await chromium.launch({
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, env, timeout: 60000,
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
  });
  return live.browser.newContext({ viewport: { width: 1600, height: 1000 }, deviceScaleFactor: 1 });
}
