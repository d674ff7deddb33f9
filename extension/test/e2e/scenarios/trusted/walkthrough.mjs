// The first-run walkthrough (Welcome: Open Walkthrough... -> Get Started with Atten-Scope): each
// step after Set Up shows its page with the screenshot the .vsix carries, loaded and decoded; the
// extension's details page shows its README with no broken image.
import { check, screenshot } from '../../lib/report.mjs';
import { assert, sleep, waitFor } from '../../lib/util.mjs';
import { runCommand } from '../../lib/workbench.mjs';

const WALKTHROUGH = 'Get Started with Atten-Scope';
// Each step's title in the list and the heading of its page.
const STEPS = [
  ['Analyse a file', /^Analyse a file/],
  ['Hover a token', /^Hover a token/],
  ['Complete Here and Explain', /^Complete here, and see why/],
  ['Show the heatmap', /^The heatmap/],
];

// The images of every frame whose document has a heading matching `heading`.
async function imagesUnder(page, heading) {
  for (const f of page.frames()) {
    if (f === page.mainFrame()) continue;
    const found = await f.evaluate((source) => {
      const want = new RegExp(source);
      if (![...document.querySelectorAll('h1, h2')].some((h) => want.test((h.textContent || '').trim()))) return null;
      return [...document.images].map((i) => ({ alt: i.alt, src: (i.currentSrc || i.src).slice(0, 160), width: i.naturalWidth, done: i.complete }));
    }, heading.source).catch(() => null);
    if (found) return found;
  }
  return false;
}

export default {
  name: 'walkthrough',
  summary: 'the first-run walkthrough: the steps Analyse, Hover, Complete Here and Explain and Heatmap each show their screenshot, decoded; the details page has no broken image',
  screenshots: ['walkthrough-hover', 'walkthrough-heatmap'],
  async run(s) {
    const { P, page, analysed } = s;
    await check(`${P}: the walkthrough's steps show their screenshots`, async () => {
      await runCommand(page, 'Welcome: Open Walkthrough...');
      const pick = page.locator('.quick-input-widget .monaco-list-row', { hasText: WALKTHROUGH }).first();
      await pick.waitFor({ state: 'visible', timeout: 20000 });
      await pick.click();
      const shown = [];
      for (const [title, heading] of STEPS) {
        const step = page.locator('.getting-started-step', { hasText: title }).first();
        await step.waitFor({ state: 'visible', timeout: 20000 });
        await step.click();
        const images = await waitFor(`the "${title}" page with its screenshot decoded`, async () => {
          const found = await imagesUnder(page, heading);
          return found && found.length && found.every((i) => i.done) ? found : false;
        }, { timeout: 30000, interval: 250 });
        const broken = images.filter((i) => !i.width);
        assert(!broken.length, `"${title}": images that did not load: ${broken.map((i) => `${i.alt} <${i.src}>`).join('; ')}`);
        shown.push(`${title}: ${images.map((i) => `${i.width}px`).join(', ')}`);
        if (/Hover|heatmap/.test(title)) await screenshot(page, `walkthrough-${/Hover/.test(title) ? 'hover' : 'heatmap'}`);
      }
      await runCommand(page, 'View: Close Editor').catch(() => {});
      return shown.join('; ');
    }, [analysed]);

    await check(`${P}: the details page shows the README with no broken image`, async () => {
      await runCommand(page, 'Extensions: Show Installed Extensions');
      const entry = page.locator('.extensions-viewlet .monaco-list-row', { hasText: 'Atten-Scope' }).first();
      await entry.waitFor({ state: 'visible', timeout: 30000 });
      await entry.click();
      const images = await waitFor('the README of the details page', () => imagesUnder(page, /^\s*Atten-Scope\s*$/), { timeout: 30000, interval: 250 });
      await sleep(300);
      const broken = images.filter((i) => !i.width);
      assert(!broken.length, `broken images on the details page: ${broken.map((i) => `${i.alt} <${i.src}>`).join('; ')}`);
      await runCommand(page, 'View: Close Editor').catch(() => {});
      await runCommand(page, 'View: Show Explorer').catch(() => {});
      return `${images.length} images`;
    }, [analysed]);
  },
};
