// Tints and gutter heat on sample.py: a cursor move repaints the tints (timed in the page), the
// status bar states the view's measured faithfulness, the gutter shows line heat, and the heat mode
// toggles to surprisal and back.
import { clickAndTimeTints, hoverCard, tintState, tokenRect } from '../../lib/editor.mjs';
import { CMD_HEAT_MODE } from '../../lib/config.mjs';
import { check, screenshot, timings } from '../../lib/report.mjs';
import { assert, sleep, waitFor } from '../../lib/util.mjs';
import { extensionStatus, runCommand } from '../../lib/workbench.mjs';

export default {
  name: 'tints',
  summary: 'cursor move -> tints (cursorToTintsMs), faithfulness in the status bar, gutter heat, surprise heat mode and back',
  screenshots: ['tints', 'surprise'],
  async run(s) {
    const { P, run, page, editor, analysed } = s;
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
  },
};
