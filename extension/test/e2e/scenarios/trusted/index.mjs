// Trusted workspace (`security.workspace.trust.enabled: false`, a git repository): one code-server
// session that installs the .vsix, opens sample.py and analyses it, then runs the feature checks
// below in this order, all of them or those picked by name (`--only hover,flow`).
import path from 'node:path';
import { CMD_ANALYZE } from '../../lib/config.mjs';
import { tokenRect, openFile } from '../../lib/editor.mjs';
import { SAMPLE_NAME } from '../../lib/fixtures.mjs';
import { freePort, installVsix, launchBrowser, startCodeServer } from '../../lib/processes.mjs';
import { endScenario, makeRun } from '../../lib/profile.mjs';
import { check, timings } from '../../lib/report.mjs';
import { assert } from '../../lib/util.mjs';
import { openWorkbench, runCommand, waitAnalysisDone } from '../../lib/workbench.mjs';
import accumulative from './accumulative.mjs';
import completion from './completion.mjs';
import contextFiles from './context-files.mjs';
import flow from './flow.mjs';
import heatmap from './heatmap.mjs';
import hover from './hover.mjs';
import longFile from './long-file.mjs';
import model from './model.mjs';
import neuron from './neuron.mjs';
import painting from './painting.mjs';
import removeLines from './remove-lines.mjs';
import restore from './restore.mjs';
import review from './review.mjs';
import tints from './tints.mjs';
import units from './units.mjs';
import walkthrough from './walkthrough.mjs';

// The order matters where a feature leaves state behind: restore follows the long file's analysis
// (and restarts the server, then analyses sample.py again); the model switch comes last.
export const features = [
  hover, tints, heatmap, neuron, flow, accumulative, removeLines, painting, review, longFile, restore, units, contextFiles, completion, walkthrough, model,
];

export default {
  name: 'trusted',
  summary: 'trusted workspace: install the .vsix, start code-server, open sample.py, Analyze File; then every feature check below',
  screenshots: [],
  // `only`: the names of the features to run (all when empty).
  async run(opts, only = []) {
    const P = 'trusted';
    const run = await makeRun(P, opts, true);
    const s = { P, run, opts, page: undefined, editor: undefined, analysed: `${P}: "${CMD_ANALYZE}" runs and finishes` };
    let cs;
    try {
      await check(`${P}: install the .vsix into code-server`, async () => {
        const t = Date.now();
        run.extDir = await installVsix(run.env, run.dirs, opts.vsix);
        timings.installExtensionMs = Date.now() - t;
        return path.basename(run.extDir);
      });
      await check(`${P}: code-server starts and answers /healthz`, async () => {
        cs = await startCodeServer(run.env, run.dirs, await freePort());
        return cs.url;
      }, [`${P}: install the .vsix into code-server`]);
      await check(`${P}: workbench loads the folder in Chromium`, async () => {
        const t = Date.now();
        const ctx = await launchBrowser(run.env);
        s.page = await openWorkbench(ctx, cs.url, run.dirs.workspace);
        timings.workbenchMs = Date.now() - t;
        const restricted = await s.page.locator('.part.statusbar', { hasText: 'Restricted Mode' }).count();
        assert(!restricted, 'workbench is in Restricted Mode although workspace trust is disabled');
        return `${timings.workbenchMs} ms`;
      }, [`${P}: code-server starts and answers /healthz`]);
      const base = `${P}: workbench loads the folder in Chromium`;
      await check(`${P}: open ${SAMPLE_NAME} in an editor`, async () => { s.editor = await openFile(s.page, SAMPLE_NAME); }, [base]);
      const opened = `${P}: open ${SAMPLE_NAME} in an editor`;
      await check(s.analysed, async () => {
        const { page, editor } = s;
        const r = await tokenRect(editor, 'total = 0', 'total');
        await page.mouse.click(r.cx, r.cy);
        const t = Date.now();
        await runCommand(page, CMD_ANALYZE);
        const state = await waitAnalysisDone(page, 240000);
        timings.firstAnalysisMs = Date.now() - t;
        return `${timings.firstAnalysisMs} ms; status ${state}`;
      }, [opened]);
      for (const feature of features) {
        if (!only.length || only.includes(feature.name)) await feature.run(s);
      }
    } finally {
      await endScenario(run, P, s.page, cs);
    }
  },
};
