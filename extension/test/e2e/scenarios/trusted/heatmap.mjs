// The heatmap of sample.py: Show Heatmap draws a triangle on the webview's canvas (read back with
// getImageData), and clicking a cell moves the editor selection.
import { CMD_HEATMAP } from '../../lib/config.mjs';
import { tokenRect } from '../../lib/editor.mjs';
import { SAMPLE_NAME } from '../../lib/fixtures.mjs';
import { check, screenshot, timings } from '../../lib/report.mjs';
import { assert, sleep, waitFor } from '../../lib/util.mjs';
import { findCanvasFrame, pickCell } from '../../lib/webviews.mjs';
import { cursorStatus, focusTab, runCommand } from '../../lib/workbench.mjs';

export default {
  name: 'heatmap',
  summary: 'Show Heatmap draws the canvas (heatmapMs); a click on a cell moves the editor selection',
  screenshots: ['heatmap', 'heatmap-click'],
  async run(s) {
    const { P, run, page, editor, analysed } = s;
    await check(`${P}: "${CMD_HEATMAP}" draws the heatmap canvas in a webview`, async () => {
      const r = await tokenRect(editor, 'total = 0', 'total');
      await page.mouse.click(r.cx, r.cy);
      await sleep(300);
      run.cursorBefore = await cursorStatus(page);
      const s = Date.now();
      await runCommand(page, CMD_HEATMAP);
      const { frame, info } = await findCanvasFrame(page, 90000);
      timings.heatmapMs = Date.now() - s;
      assert(info.nonBlank > 50 || info.nonBlank === -1, `heatmap canvas is blank (${JSON.stringify(info)})`);
      run.heatmapFrame = frame;
      await sleep(500);
      await screenshot(page, 'heatmap');
      if (info.drawMs !== undefined) timings.heatmapDrawMs = Number(info.drawMs);
      return `canvas ${info.w}x${info.h}${info.n ? ` (${info.n} tokens, drawn in ${info.drawMs} ms)` : ''}, ${info.nonBlank} non-background pixels, ${info.colours} colours (first 64), shown in ${timings.heatmapMs} ms`;
    }, [analysed]);
    await check(`${P}: clicking a heatmap cell moves the editor selection`, async () => {
      const frame = run.heatmapFrame;
      const pt = await pickCell(frame);
      assert(pt, 'no heatmap cell found to click');
      const sel0 = await editor.evaluate((ed) => [...ed.querySelectorAll('.view-overlays .selected-text, .cursors-layer .cursor')].map((e) => `${e.style.top}:${e.style.left}:${e.style.width}`).join('|'));
      await frame.locator('canvas').filter({ visible: true }).first().click({ position: pt, timeout: 10000 }).catch(async () => {
        // Fall back to the largest canvas when several are stacked.
        const handle = await frame.evaluateHandle(() => [...document.querySelectorAll('canvas')].sort((a, b) => b.width * b.height - a.width * a.height)[0]);
        await handle.asElement().click({ position: pt, timeout: 10000 });
      });
      let moved = '';
      await waitFor('the editor selection to move after the cell click', async () => {
        const st = await cursorStatus(page);
        if (st && st !== run.cursorBefore) { moved = `status bar "${run.cursorBefore}" -> "${st}"`; return true; }
        const sel = await editor.evaluate((ed) => [...ed.querySelectorAll('.view-overlays .selected-text, .cursors-layer .cursor')].map((e) => `${e.style.top}:${e.style.left}:${e.style.width}`).join('|'));
        if (sel !== sel0) { moved = `editor selection changed (${sel0 || 'none'} -> ${sel})`; return true; }
        return false;
      }, { timeout: 15000, interval: 300 });
      // Focus the text editor (its tab) to read the status bar position as a user would.
      await focusTab(page, SAMPLE_NAME);
      await sleep(300);
      const st = await cursorStatus(page);
      await screenshot(page, 'heatmap-click');
      return `${moved}; now "${st}"`;
    }, [`${P}: "${CMD_HEATMAP}" draws the heatmap canvas in a webview`]);
  },
};
