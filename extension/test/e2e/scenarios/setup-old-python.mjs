// Set-up with a Python that is too old: the only python3 is a stand-in that answers as Python 3.8.10.
// Set Up must name the version found, the version needed and what to do, and create no environment.
import fs from 'node:fs';
import { CMD_SETUP } from '../lib/config.mjs';
import { openFile } from '../lib/editor.mjs';
import { SAMPLE_NAME } from '../lib/fixtures.mjs';
import { freePort, installVsix, launchBrowser, startCodeServer } from '../lib/processes.mjs';
import { endScenario, makeSetupRun, managedEnvs } from '../lib/profile.mjs';
import { check, screenshot } from '../lib/report.mjs';
import { assert } from '../lib/util.mjs';
import { openWorkbench, runCommand, waitNotification } from '../lib/workbench.mjs';

export default {
  name: 'setup-old-python',
  summary: 'Set Up with only a Python 3.8 on PATH: an error naming the versions and what to do; no environment',
  screenshots: ['setup-old-python'],
  async run(opts) {
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
  },
};
