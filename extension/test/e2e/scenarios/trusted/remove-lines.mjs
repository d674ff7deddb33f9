// What if these lines were removed: with the loop of sample.py selected, a message compares the
// prediction at the end of the file with and without it and states the cost; Show Effect Heat tints
// the tokens after the loop.
import { tintState, tokenRect } from '../../lib/editor.mjs';
import { SAMPLE_NAME } from '../../lib/fixtures.mjs';
import { check, screenshot } from '../../lib/report.mjs';
import { assert, sleep, waitFor } from '../../lib/util.mjs';
import { clearNotifications, focusTab, runCommand, waitNotification } from '../../lib/workbench.mjs';

export default {
  name: 'remove-lines',
  summary: 'What If These Lines Were Removed? on the loop: the prediction before and after, Show Effect Heat',
  screenshots: ['remove-lines'],
  async run(s) {
    const { P, page, editor, analysed } = s;
    await check(`${P}: "Atten-Scope: What If These Lines Were Removed?" on the for loop compares the prediction before and after, and paints the effect heat`, async () => {
      await focusTab(page, SAMPLE_NAME);
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
      // the heat stays until an edit or a new analysis of sample.py (the painting check below edits it)
      await clearNotifications(page);
      return `${note.slice(0, 240)}; ${st.tinted} tokens tinted in ${st.colours.join(', ')}`;
    }, [analysed]);
  },
};
