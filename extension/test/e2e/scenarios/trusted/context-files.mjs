// Context files: Analyze With Context Files... on main.py, helpers.py ticked in the multi-select
// quick pick, analyses main.py read after helpers.py (the extension's log says "with 1 context
// file (helpers.py)"); the hover on the call of parse_header names `helpers.py:N` among "other
// files" as a link, and a click on it opens helpers.py at line N.
import { activeTab, hoverCard, openFile, tokenRect, unitRows } from '../../lib/editor.mjs';
import { CALLER_NAME, HELPERS_DEFINITION_LINE, HELPERS_NAME, SAMPLE_NAME } from '../../lib/fixtures.mjs';
import { extensionLog } from '../../lib/profile.mjs';
import { check, screenshot, timings } from '../../lib/report.mjs';
import { assert, sleep, waitFor } from '../../lib/util.mjs';
import { closeTab, cursorStatus, focusTab, runCommand, waitAnalysisDone } from '../../lib/workbench.mjs';

const CMD_CONTEXT = 'Atten-Scope: Analyze With Context Files...';
const CALL = 'key, value = parse_header(line)';

// Whether a row of the quick pick has its checkbox ticked.
async function ticked(row) {
  return row.evaluate((el) => {
    const box = el.querySelector('input[type="checkbox"]');
    if (box) return box.checked;
    const toggle = el.querySelector('.monaco-custom-toggle, .quick-input-list-checkbox');
    if (toggle) return toggle.classList.contains('checked') || toggle.getAttribute('aria-checked') === 'true';
    return el.getAttribute('aria-checked') === 'true';
  });
}

export default {
  name: 'context-files',
  summary: 'Analyze With Context Files... with helpers.py ticked: the hover on the call names `helpers.py:N` as a link (contextAnalysisMs), which opens helpers.py at that line',
  screenshots: ['context-files', 'context-files-open'],
  async run(s) {
    const { P, run, page, analysed } = s;
    let link;
    const hovered = `${P}: Analyze With Context Files... reads ${HELPERS_NAME} first, and the hover on the call names it as a link`;
    await check(hovered, async () => {
      const editor = await openFile(page, CALLER_NAME, /parse_header\(line\)/);
      const r = await tokenRect(editor, CALL, 'parse_header');
      await page.mouse.click(r.cx, r.cy);
      const { at } = extensionLog(run);
      await runCommand(page, CMD_CONTEXT);
      const widget = page.locator('.quick-input-widget');
      await widget.locator('.quick-input-title', { hasText: `files the model reads before ${CALLER_NAME}` }).waitFor({ state: 'visible', timeout: 30000 });
      await widget.locator('.quick-input-box input').fill(HELPERS_NAME);
      const row = widget.locator('.monaco-list-row').filter({ has: page.locator('.label-name', { hasText: /^\s*helpers\.py\s*$/ }) }).first();
      await row.waitFor({ state: 'visible', timeout: 15000 });
      // a click on the row ticks it in a multi-select; else its checkbox is clicked
      await row.click();
      if (!(await ticked(row))) await row.locator('input[type="checkbox"], .monaco-custom-toggle, .quick-input-list-checkbox').first().click();
      await waitFor(`${HELPERS_NAME} ticked`, () => ticked(row), { timeout: 5000 });
      const picked = await widget.locator('.monaco-list-row').evaluateAll((rows) => rows.map((el) => el.innerText.replace(/\s+/g, ' ').trim()));
      const ok = widget.locator('.quick-input-action .monaco-button', { hasText: /^\s*OK\s*$/ }).first();
      const t = Date.now();
      if (await ok.isVisible().catch(() => false)) await ok.click();
      else await page.keyboard.press('Enter');
      await waitAnalysisDone(page, 240000);
      timings.contextAnalysisMs = Date.now() - t;
      const line = await waitFor(`"Analysed ${CALLER_NAME}" in the extension's log`, async () => extensionLog(run, at).text.split('\n').find((l) => l.includes(`Analysed ${CALLER_NAME} `)) || false, { timeout: 30000, interval: 250 });
      assert(/with 1 context file \(helpers\.py\)/.test(line), `the log does not say ${CALLER_NAME} was read after ${HELPERS_NAME}: "${line.trim()}" (picker rows: ${picked.join(' / ')})`);
      const { card, text } = await hoverCard(page, editor, CALL, 'parse_header', 0, 7); // `_header` of the call
      const flat = text.replace(/\s+/g, ' ');
      const other = (await unitRows(card))['other files'];
      assert(other, `"Draws most on" has no other files: "${flat.slice(0, 500)}"`);
      const named = other.links.find((l) => /^helpers\.py:\d+$/.test(l.text));
      assert(named, `no link named helpers.py:N among the other files: "${other.text}"`);
      link = { line: Number(named.text.split(':')[1]), href: named.href };
      await screenshot(page, 'context-files');
      run.contextCard = card;
      return `analysed in ${timings.contextAnalysisMs} ms; ${line.replace(/^.*?Analysed/, 'Analysed').trim()}; "${other.text}"` +
        `${link.line === HELPERS_DEFINITION_LINE ? '' : ` (the heaviest line is not the definition, line ${HELPERS_DEFINITION_LINE})`}`;
    }, [analysed]);
    await check(`${P}: a click on the hover's ${HELPERS_NAME}:N link opens ${HELPERS_NAME} at that line`, async () => {
      const a = run.contextCard.locator('a', { hasText: `${HELPERS_NAME}:${link.line}` }).first();
      await a.waitFor({ state: 'visible', timeout: 10000 });
      await a.click({ timeout: 10000 });
      await activeTab(page, HELPERS_NAME).waitFor({ timeout: 30000 });
      await page.locator('.editor-instance .monaco-editor .view-line', { hasText: /def\s+parse_header/ }).first().waitFor({ timeout: 15000 });
      const where = await waitFor(`the cursor on line ${link.line}`, async () => {
        const st = await cursorStatus(page);
        return new RegExp(`Ln ${link.line}\\b`).test(st) ? st : false;
      }, { timeout: 10000 });
      await page.mouse.move(5, 5);
      await sleep(300);
      await screenshot(page, 'context-files-open');
      return `active editor ${HELPERS_NAME}, ${where}; link ${link.href}`;
    }, [hovered]);
    await closeTab(page, HELPERS_NAME).catch(() => {});
    await closeTab(page, CALLER_NAME).catch(() => {});
    await focusTab(page, SAMPLE_NAME);
  },
};
