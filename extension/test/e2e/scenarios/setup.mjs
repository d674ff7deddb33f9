// Set-up as a new user meets it: no attenScope.pythonPath, no Python extension, and the only python3
// on PATH is a bare interpreter without the server package. Analyze File says so and offers Set Up;
// its Open Settings opens the Remote tab; Set Up Atten-Scope builds the managed environment (up to 20
// minutes); then analysis and hover work from it, and Restart Server logs no error.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CMD_ANALYZE, CMD_SETUP } from '../lib/config.mjs';
import { hoverCard, openFile, tokenRect } from '../lib/editor.mjs';
import { SAMPLE_NAME } from '../lib/fixtures.mjs';
import { freePort, installVsix, launchBrowser, startCodeServer } from '../lib/processes.mjs';
import { endScenario, findFiles, makeSetupRun, managedEnvs } from '../lib/profile.mjs';
import { check, screenshot, timings } from '../lib/report.mjs';
import { assert, log, waitFor } from '../lib/util.mjs';
import { clearNotifications, closeTab, focusTab, notifications, openWorkbench, runCommand, waitAnalysisDone, waitNotification } from '../lib/workbench.mjs';

export default {
  name: 'setup',
  summary: 'a new user: not installed -> Set Up offered, Open Settings on the Remote tab, Set Up Atten-Scope (setupMs), analysis from the new environment, Restart Server',
  screenshots: ['setup-missing', 'setup-open-settings', 'setup-done', 'setup-hover'],
  async run(opts) {
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
        await focusTab(page, SAMPLE_NAME);
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
  },
};
