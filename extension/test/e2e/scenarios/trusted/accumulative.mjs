// Accumulative attention (ALTI rollout) on the cursor token: its accumulated sources are tinted and a
// message names them with their lines and weights and the view's measured figure.
import { tintState, tokenRect } from '../../lib/editor.mjs';
import { recommendedView, SAMPLE_NAME } from '../../lib/fixtures.mjs';
import { check, screenshot } from '../../lib/report.mjs';
import { assert, sleep } from '../../lib/util.mjs';
import { clearNotifications, focusTab, runCommand, waitNotification } from '../../lib/workbench.mjs';

export default {
  name: 'accumulative',
  summary: 'Show Accumulative Attention (ALTI rollout) tints the sources and states the figure',
  screenshots: ['accumulative'],
  async run(s) {
    const { P, page, editor, analysed } = s;
    await check(`${P}: "Atten-Scope: Show Accumulative Attention (ALTI rollout)" tints the cursor token's accumulated sources and states their measured faithfulness`, async () => {
      await focusTab(page, SAMPLE_NAME);
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
  },
};
