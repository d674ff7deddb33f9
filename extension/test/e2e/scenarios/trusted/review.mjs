// Review in the diff editor: Git: Open Changes on review.py, Analyze File analyses both sides (the
// original is the read-only git: document), both sides get tints and gutter heat, the original has
// hover cards.
import { CMD_ANALYZE } from '../../lib/config.mjs';
import { hoverCard, openFile, tintState, tokenRect } from '../../lib/editor.mjs';
import { REVIEW_NAME } from '../../lib/fixtures.mjs';
import { check, screenshot } from '../../lib/report.mjs';
import { assert, sleep, waitFor } from '../../lib/util.mjs';
import { closeTab, runCommand, waitAnalysisDone } from '../../lib/workbench.mjs';

export default {
  name: 'review',
  summary: 'Git: Open Changes side by side: both sides analysed, tinted, with gutter heat and hover cards',
  screenshots: ['diff-review'],
  async run(s) {
    const { P, page, analysed } = s;
    await check(`${P}: in the diff editor of a git change, Analyze File analyses both sides and the gutter heat shows on both`, async () => {
      const reviewEditor = await openFile(page, REVIEW_NAME, /def\s+mean/);
      // room for both sides: the panels beside the editor close
      await runCommand(page, 'View: Close Editors in Other Groups').catch(() => {});
      const first = await tokenRect(reviewEditor, 'def mean(values):', 'mean');
      await page.mouse.click(first.cx, first.cy);
      // the git extension finds the repository a moment after the window opens
      await waitFor('Git: Open Changes for review.py', async () => {
        try {
          await runCommand(page, 'Git: Open Changes');
          return true;
        } catch (error) {
          if (!/not in the command palette/.test(String(error))) throw error;
          await sleep(1000);
          return false;
        }
      }, { timeout: 60000, interval: 500 });
      const diff = page.locator('.monaco-diff-editor').first();
      await diff.waitFor({ state: 'visible', timeout: 60000 });
      const original = diff.locator('.editor.original').first();
      const modified = diff.locator('.editor.modified').first();
      await waitFor('both sides of the diff on screen', async () => {
        const [before, after] = [await original.innerText(), await modified.innerText()];
        return /total\s+=\s+sum/.test(before) && !/return\s+0\.0/.test(before) && /return\s+0\.0/.test(after);
      }, { timeout: 30000 });
      const r = await tokenRect(modified, 'return total / len(values)', 'total');
      await page.mouse.click(r.cx, r.cy);
      await runCommand(page, CMD_ANALYZE);
      await waitAnalysisDone(page, 240000);
      await sleep(1000);
      await waitAnalysisDone(page, 240000); // the second side follows the first
      const heat = async (side, lineText, word) => {
        const at = await tokenRect(side, lineText, word);
        await page.mouse.click(at.cx, at.cy);
        return waitFor(`gutter heat on the ${side === original ? 'original' : 'changed'} side`, async () => {
          const st = await tintState(side);
          return st.gutter > 0 && st.tinted > 0 ? st : false;
        }, { timeout: 30000, interval: 250 });
      };
      const right = await heat(modified, 'return total / len(values)', 'len');
      const left = await heat(original, 'return total / len(values)', 'len');
      const { text } = await hoverCard(page, original, 'total = sum(values)', 'sum');
      assert(/Drew on:/.test(text), `no hover card on the read-only original side: "${text.slice(0, 200)}"`);
      const still = await tintState(modified);
      assert(still.gutter > 0, 'the changed side lost its gutter heat when the original side was painted');
      await page.mouse.move(5, 5);
      await screenshot(page, 'diff-review');
      await closeTab(page, REVIEW_NAME).catch(() => {});
      await closeTab(page, REVIEW_NAME).catch(() => {});
      return `changed side ${right.gutter} gutter lines, ${right.tinted} tints; original (git:) side ${left.gutter} gutter lines, ${left.tinted} tints; hover "${text.replace(/\s+/g, ' ').slice(0, 80)}"`;
    }, [analysed]);
  },
};
