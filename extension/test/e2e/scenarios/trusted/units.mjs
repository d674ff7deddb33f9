// Code units from the built-in parser where no language server gives the documents symbols: the
// hover's "Draws most on" names definitions as they read up to their name (`def render` in
// sample.py; `static inline int nearest(...)` in a C header, which VS Code reads as C++;
// `function largestArea` in a JavaScript file), never a block of lines named by its first line
// (each definition of the C and JavaScript files opens below a comment). The breadcrumbs show
// whether the editor has document symbols: none for Python and C; for JavaScript, code-server's
// built-in TypeScript extension gives some, whose labels read the same.
import { CMD_ANALYZE } from '../../lib/config.mjs';
import { hoverCard, openFile, tokenRect, unitRows } from '../../lib/editor.mjs';
import { SAMPLE_NAME, UNITS_C_NAME, UNITS_JS_NAME } from '../../lib/fixtures.mjs';
import { check, screenshot, timings } from '../../lib/report.mjs';
import { assert } from '../../lib/util.mjs';
import { closeTab, focusTab, runCommand, waitAnalysisDone } from '../../lib/workbench.mjs';

// The definitions the card's "Draws most on" names; fails where it names blocks of lines instead.
async function definitions(card, flat) {
  const rows = await unitRows(card);
  assert(!rows['blocks of lines'], `"Draws most on" names blocks of lines, not definitions: "${rows['blocks of lines']?.text}"`);
  assert(rows.definitions, `"Draws most on" has no definitions: "${flat.slice(0, 400)}"`);
  return rows.definitions;
}

// The symbols the breadcrumbs of the active editor show at the cursor: a language server's
// document symbols (none where the documents have none).
async function breadcrumbSymbols(page) {
  return page.locator('.editor-group-container.active .breadcrumbs-control .monaco-breadcrumb-item')
    .evaluateAll((items) => items.filter((el) => el.querySelector('[class*="codicon-symbol-"]')).map((el) => el.textContent.trim()));
}

// The language VS Code gave the active editor (the status bar's language mode).
async function languageMode(page) {
  return (await page.locator('.part.statusbar [id="status.editor.mode"]').innerText().catch(() => '')).trim();
}

export default {
  name: 'units',
  summary: 'code units from the built-in parser without a language server: "Draws most on" names `def render`, `static inline int nearest(...)` (C header), `function largestArea` (JavaScript)',
  screenshots: ['units-python', 'units-c', 'units-js'],
  async run(s) {
    const { P, page, analysed } = s;
    await check(`${P}: on ${SAMPLE_NAME}, "Draws most on" names the definitions the parser found (def render), not a line's text`, async () => {
      await focusTab(page, SAMPLE_NAME);
      const { card, text } = await hoverCard(page, s.editor, 'return head + label + str(total)', 'total');
      const flat = text.replace(/\s+/g, ' ');
      const defs = await definitions(card, flat);
      const symbols = await breadcrumbSymbols(page);
      await screenshot(page, 'units-python');
      assert(!symbols.length, `the editor has document symbols for ${SAMPLE_NAME} (${symbols.join(' > ')}): the parser is not what names the definitions`);
      assert(defs.codes.includes('def render'), `the definitions are not named "def render": ${JSON.stringify(defs.codes)}`);
      assert(!defs.codes.some((c) => /[:(]/.test(c)), `a definition is named by its line's text: ${JSON.stringify(defs.codes)}`);
      return `definitions from the parser (no document symbols); ${defs.text}`;
    }, [analysed]);
    // [file, a line on screen to find its editor by, the line and word to hover, the label wanted,
    // the screenshot, the timing, whether the editor may have document symbols]. code-server's
    // built-in TypeScript extension gives JavaScript files symbols (they read the same: the line
    // up to the name); Python and C have none.
    const files = [
      [UNITS_C_NAME, /static\s+inline\s+int\s+nearest/, 'int d = distance2(points[i], origin);', 'distance2', /^(static inline )?int (nearest|distance2)\(\.\.\.\)$/, 'units-c', 'unitsAnalysisCMs', false],
      [UNITS_JS_NAME, /function\s+largestArea/, 'const area = circleArea(shape.radius);', 'circleArea', /^function (largestArea|circleArea)$/, 'units-js', 'unitsAnalysisJsMs', true],
    ];
    for (const [name, marker, line, word, wanted, shot, timing, mayHaveSymbols] of files) {
      await check(`${P}: in ${name}, Analyze File, then the hover on a call inside a function names its definitions as they read (${wanted.source})`, async () => {
        const editor = await openFile(page, name, marker);
        const r = await tokenRect(editor, line, word);
        await page.mouse.click(r.cx, r.cy);
        const t = Date.now();
        await runCommand(page, CMD_ANALYZE);
        await waitAnalysisDone(page, 240000);
        timings[timing] = Date.now() - t;
        const language = await languageMode(page);
        const { card, text } = await hoverCard(page, editor, line, word);
        const flat = text.replace(/\s+/g, ' ');
        const defs = await definitions(card, flat);
        const symbols = await breadcrumbSymbols(page);
        await screenshot(page, shot);
        await page.mouse.move(5, 5);
        await page.keyboard.press('Escape');
        assert(defs.codes.some((c) => wanted.test(c)), `no definition named like ${wanted}: ${JSON.stringify(defs.codes)}`);
        assert(!defs.codes.some((c) => /^(\/\*|\/\/)/.test(c)), `a definition is named by a comment: ${JSON.stringify(defs.codes)}`);
        assert(mayHaveSymbols || !symbols.length, `the editor has document symbols for ${name} (${symbols.join(' > ')}): the parser is not what names the definitions`);
        const source = symbols.length ? `the editor's symbols (breadcrumbs: ${symbols.join(' > ')})` : 'the parser (no document symbols)';
        return `language ${language || '?'}; analysed in ${timings[timing]} ms; definitions from ${source}; ${defs.text}`;
      }, [analysed]);
    }
    await closeTab(page, UNITS_C_NAME).catch(() => {});
    await closeTab(page, UNITS_JS_NAME).catch(() => {});
    await focusTab(page, SAMPLE_NAME);
  },
};
