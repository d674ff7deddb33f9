// One painting mode per editor: with a Compare panel open on sample.py (its buffer against the saved
// file), another editor (review.py) still gets tints and gutter heat, and the status bar names the
// mode of the active editor (compare on sample.py, not on review.py). Then, on sample.py, Show
// Effect Heat followed by Toggle Heat Mode shows the surprise heat: surprise tints on most tokens
// and the gutter, the status bar says surprise and no longer effect heat, and the hover explains the
// surprise colour, not the effect. Toggling again returns to the attention; the sample is reverted.
import { CMD_ANALYZE, CMD_HEAT_MODE } from '../../lib/config.mjs';
import { hoverCard, openFile, tintState, tokenRect } from '../../lib/editor.mjs';
import { REVIEW_NAME, SAMPLE_NAME } from '../../lib/fixtures.mjs';
import { check, screenshot } from '../../lib/report.mjs';
import { assert, sleep, waitFor } from '../../lib/util.mjs';
import { clearNotifications, closeTab, extensionStatus, focusTab, runCommand, waitAnalysisDone, waitNotification } from '../../lib/workbench.mjs';

const CMD_COMPARE = 'Atten-Scope: Compare With...';
const COMPARE_TAB = 'Compare: ';

// The status bar item itself (`model · view ...`), not the passing messages beside it.
async function statusText(page) {
  return (await extensionStatus(page)).map((it) => it.text).filter((t) => t.includes('·')).join(' | ');
}

export default {
  name: 'painting',
  summary: 'one painting mode per editor: another editor paints while a Compare panel is open; Toggle Heat Mode after Show Effect Heat shows the surprise heat',
  screenshots: ['painting-compare', 'painting-effect-surprise'],
  async run(s) {
    const { P, page, editor, analysed } = s;
    const compared = `${P}: with a Compare panel open on ${SAMPLE_NAME}, another editor still paints tints and gutter heat`;
    await check(compared, async () => {
      await focusTab(page, SAMPLE_NAME);
      await page.mouse.move(5, 5);
      await page.keyboard.press('Escape');
      // The panels of the earlier features narrow the editor: close them, keeping the sample's group.
      await runCommand(page, 'View: Close Editors in Other Groups');
      await focusTab(page, SAMPLE_NAME);
      // an unsaved line under the docstring, so that the buffer differs from the saved file
      const doc = await tokenRect(editor, 'end-to-end sample', 'Scope');
      await page.mouse.click(doc.cx, doc.cy);
      await page.keyboard.press('End');
      await page.keyboard.press('Enter');
      await page.keyboard.type('LIMIT = 3');
      await waitFor(`the unsaved line in ${SAMPLE_NAME}`, async () => /LIMIT\s=\s3/.test(await editor.locator('.view-lines').innerText()), { timeout: 10000, interval: 300 });
      const at = await tokenRect(editor, 'return head + label + str(total)', 'total');
      await page.mouse.click(at.cx, at.cy);
      await clearNotifications(page);
      await runCommand(page, CMD_COMPARE);
      const saved = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'Saved version on disk' }).first();
      await saved.waitFor({ state: 'visible', timeout: 15000 });
      await saved.click();
      const tab = page.locator('.tabs-container .tab', { hasText: COMPARE_TAB }).first();
      await tab.waitFor({ state: 'visible', timeout: 60000 });
      await focusTab(page, SAMPLE_NAME);
      const onSample = await waitFor('the status bar to say compare on the compared file', async () => {
        const text = await statusText(page);
        return /compare/.test(text) ? text : false;
      }, { timeout: 15000, interval: 300 });

      const reviewEditor = await openFile(page, REVIEW_NAME, /def\s+mean/);
      const first = await tokenRect(reviewEditor, 'return total / len(values)', 'total');
      await page.mouse.click(first.cx, first.cy);
      await runCommand(page, CMD_ANALYZE);
      await waitAnalysisDone(page, 240000);
      const r = await tokenRect(reviewEditor, 'return total / len(values)', 'len');
      await page.mouse.click(r.cx, r.cy);
      const st = await waitFor(`tints and gutter heat on ${REVIEW_NAME}`, async () => {
        const now = await tintState(reviewEditor);
        return now.tinted > 0 && now.gutter > 0 ? now : false;
      }, { timeout: 30000, interval: 300 });
      assert(await page.locator('.tabs-container .tab', { hasText: COMPARE_TAB }).count(), 'the Compare panel closed');
      const onReview = await statusText(page);
      assert(!/compare/.test(onReview), `the status bar says compare on ${REVIEW_NAME}, which shows the attention: "${onReview}"`);
      await page.mouse.move(5, 5);
      await screenshot(page, 'painting-compare');

      await closeTab(page, REVIEW_NAME).catch(() => {});
      await closeTab(page, COMPARE_TAB).catch(() => {});
      // later checks read the sample as it was saved
      await focusTab(page, SAMPLE_NAME);
      await runCommand(page, 'File: Revert File');
      await waitFor(`${SAMPLE_NAME} reverted`, async () => !/LIMIT\s=\s3/.test(await editor.locator('.view-lines').innerText()), { timeout: 10000, interval: 300 });
      await waitAnalysisDone(page, 120000);
      return `${REVIEW_NAME}: ${st.tinted} tints, ${st.gutter} gutter icons with the Compare panel open; status on ${SAMPLE_NAME} "${onSample}", on ${REVIEW_NAME} "${onReview}"`;
    }, [analysed]);

    await check(`${P}: after Show Effect Heat, "${CMD_HEAT_MODE}" shows the surprise heat and the status bar says so`, async () => {
      await focusTab(page, SAMPLE_NAME);
      const r = await tokenRect(editor, 'for item in items:', 'for');
      await clearNotifications(page);
      await page.mouse.click(r.cx, r.cy);
      await page.keyboard.press('Shift+ArrowDown');
      await sleep(300);
      await runCommand(page, 'Atten-Scope: What If These Lines Were Removed?', { keepSelection: true });
      await waitNotification(page, /Without lines 8-9[^]*Recomputed/, 120000);
      const before = await tintState(editor);
      const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'Without lines 8-9' }).first();
      await toast.locator('.monaco-button', { hasText: 'Show Effect Heat' }).first().click({ timeout: 10000 });
      let effect = before;
      // The effect heat of these same lines may still show from an earlier feature: its tints then
      // do not change, and the status bar is what says the effect heat is on.
      await waitFor('the effect heat to paint', async () => {
        effect = await tintState(editor);
        return effect.tinted > 0 && (effect.sig !== before.sig || /effect heat/.test(await statusText(page)));
      }, { timeout: 15000, interval: 300 });
      const withEffect = await waitFor('the status bar to say effect heat', async () => {
        const text = await statusText(page);
        return /effect heat/.test(text) ? text : false;
      }, { timeout: 10000, interval: 300 });
      await clearNotifications(page);

      await runCommand(page, CMD_HEAT_MODE);
      let surprise = effect;
      await waitFor('surprise tints on most tokens and the gutter', async () => {
        surprise = await tintState(editor);
        return surprise.tinted >= 30 && surprise.gutter > 0 && surprise.sig !== effect.sig;
      }, { timeout: 30000, interval: 500 });
      const withSurprise = await statusText(page);
      assert(/surprise/.test(withSurprise) && !/effect heat/.test(withSurprise), `the status bar does not say surprise alone: "${withSurprise}"`);
      const { text } = await hoverCard(page, editor, 'return head + label + str(total)', 'label');
      const flat = text.replace(/\s+/g, ' ');
      assert(/surprisal \d+\.\d bits: the model gave the actual token/.test(flat), `the hover does not explain the surprise colour: "${flat.slice(0, 300)}"`);
      assert(!/effect heat/i.test(flat), `the hover still explains the effect heat: "${flat.slice(0, 300)}"`);
      await page.mouse.move(5, 5);
      await page.keyboard.press('Escape');
      await screenshot(page, 'painting-effect-surprise');

      // back to the attention for the checks that follow
      await runCommand(page, CMD_HEAT_MODE);
      const back = await tokenRect(editor, 'total += len(item)', 'item');
      await page.mouse.click(back.cx, back.cy);
      let attention = surprise;
      await waitFor('attention tints again', async () => {
        attention = await tintState(editor);
        return attention.tinted > 0 && attention.sig !== surprise.sig;
      }, { timeout: 30000, interval: 500 });
      const after = await statusText(page);
      assert(!/surprise|effect heat/.test(after), `the status bar still names another mode: "${after}"`);
      return `effect heat ${effect.tinted} tints ("${withEffect}"), surprise ${surprise.tinted} tints and ${surprise.gutter} gutter icons ("${withSurprise}"), attention ${attention.tinted} tints again`;
    }, [analysed]);
  },
};
