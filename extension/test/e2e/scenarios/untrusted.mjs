// Untrusted workspace (trust enabled, Restricted Mode): the workspace's .vscode/settings.json names an
// interpreter that leaves a marker file when run, a model that does not exist and trustRemoteCode.
// The manifest must keep these settings out of the workspace's hands, analysis and hover must work
// with the user-level interpreter and default model, and the marker must never be written.
import fs from 'node:fs';
import path from 'node:path';
import { CMD_ANALYZE } from '../lib/config.mjs';
import { hoverCard, openFile, tokenRect } from '../lib/editor.mjs';
import { SAMPLE_NAME } from '../lib/fixtures.mjs';
import { freePort, installVsix, launchBrowser, startCodeServer } from '../lib/processes.mjs';
import { endScenario, makeRun } from '../lib/profile.mjs';
import { check, screenshot } from '../lib/report.mjs';
import { assert, sleep } from '../lib/util.mjs';
import { notifications, openWorkbench, runCommand, waitAnalysisDone } from '../lib/workbench.mjs';

export default {
  name: 'untrusted',
  summary: 'Restricted Mode: the workspace cannot pick the interpreter or model; analysis still works; the workspace interpreter never runs',
  screenshots: ['untrusted'],
  async run(opts) {
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
  },
};
