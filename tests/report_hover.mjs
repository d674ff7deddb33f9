// Hovers tokens of an HTML report in headless Chromium (playwright-core) and prints what the page
// shows, as JSON, for tests/test_cli.py.
// usage: node report_hover.mjs PLAYWRIGHT_CORE_DIR CHROMIUM REPORT_FILE TOKEN...
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [playwrightDir, chromiumPath, report, ...tokens] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(playwrightDir), 'package.json'));
const { chromium } = require('playwright-core');

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(pathToFileURL(report).href);
  // Where the report opened: the focus token must be inside the scrolled code view.
  const opened = await page.evaluate(() => {
    const view = document.getElementById('view').getBoundingClientRect();
    const focus = document.querySelector('#code span.focus');
    const box = focus.getBoundingClientRect();
    const gutter = document.getElementById('gutter').textContent.split('\n');
    return {
      focus: Number(focus.dataset.i),
      visible: box.top >= view.top && box.bottom <= view.bottom,
      scrollTop: document.getElementById('view').scrollTop,
      gutterFirst: gutter[0],
      gutterLast: gutter[gutter.length - 1],
      heatmapNote: document.getElementById('heatmap-note').textContent,
      legend: document.getElementById('legend-high').textContent,
    };
  });
  const hovered = [];
  for (const token of tokens) {
    const span = page.locator(`#code span[data-i="${token}"]`);
    await span.scrollIntoViewIfNeeded();
    await span.hover();
    hovered.push(
      await page.evaluate(() => ({
        focus: Number(document.querySelector('#code span.focus').dataset.i),
        shown: document.getElementById('focus-text').textContent,
        line: document.getElementById('focus-line').textContent,
        rows: [...document.querySelectorAll('#sources tbody tr')].map((tr) =>
          [...tr.querySelectorAll('td')].map((td) => td.textContent),
        ),
        empty: document.getElementById('empty').textContent,
        prediction: document.getElementById('prediction').textContent,
        surprisal: document.getElementById('surprisal').textContent,
        faithfulness: document.getElementById('faithfulness').textContent,
      })),
    );
  }
  console.log(JSON.stringify({ opened, hovered, errors }));
} finally {
  await browser.close();
}
