// The neuron view: one head's attention logit at the cursor token split into its parts (rotary
// pairs with their wavelengths) with the arithmetic from logit to weight.
import { tokenRect } from '../../lib/editor.mjs';
import { check, screenshot } from '../../lib/report.mjs';
import { assert, sleep, waitFor } from '../../lib/util.mjs';
import { closeTab, runCommand } from '../../lib/workbench.mjs';

export default {
  name: 'neuron',
  summary: 'Show Neuron View on L20 H3 splits the logit at the cursor token into its parts',
  screenshots: ['neuron-view'],
  async run(s) {
    const { P, page, editor, analysed } = s;
    await check(`${P}: "Atten-Scope: Show Neuron View" splits one head's logit into its parts`, async () => {
      const r = await tokenRect(editor, 'return head + label + str(total)', 'total');
      await page.mouse.click(r.cx, r.cy);
      await sleep(300);
      await runCommand(page, 'Atten-Scope: Show Neuron View');
      const input = page.locator('.quick-input-widget .quick-input-box input');
      await input.waitFor({ state: 'visible', timeout: 15000 });
      await input.fill('L20 H3');
      await page.keyboard.press('Enter');
      const found = await waitFor('a neuron view webview with the logit in parts', async () => {
        for (const f of page.frames()) {
          if (f === page.mainFrame()) continue;
          const state = await f.evaluate(() => {
            if (document.body.dataset.ready !== 'true' || !document.querySelector('#parts')) return null;
            return {
              lines: [...document.querySelectorAll('#lines li')].map((li) => li.textContent),
              parts: [...document.querySelectorAll('#parts tbody tr.part')].map((tr) => [...tr.cells].map((c) => c.textContent)),
              status: document.querySelector('#status')?.textContent ?? '',
              token: document.querySelector('#token')?.textContent ?? '',
              source: document.querySelector('#source')?.textContent ?? '',
            };
          }).catch(() => null);
          if (state) return state;
        }
        return false;
      }, { timeout: 30000, interval: 500 });
      await screenshot(page, 'neuron-view');
      assert(/layer 20, head 3/.test(found.status), `the neuron view names another head: "${found.status}"`);
      assert(/total/.test(found.token), `the neuron view's query is not the cursor token: "${found.token}"`);
      assert(found.parts.length >= 10, `the neuron view lists ${found.parts.length} parts`);
      assert(found.parts.some((row) => /^dims \d+ & \d+$/.test(row[0]) && /tokens$/.test(row[4])), 'no rotary pair with its wavelength');
      assert(/^logit = scale × Σ q·k = /.test(found.lines[0] ?? '') && /weight = exp\(logit − lse\)/.test(found.lines[1] ?? ''), `the arithmetic is missing: ${JSON.stringify(found.lines)}`);
      await closeTab(page, 'Neuron View').catch(() => {});
      return `${found.token} -> ${found.source}: ${found.lines[0]}; ${found.lines[1]}; ${found.parts.length} parts, first ${found.parts[0].join(' | ')}`;
    }, [analysed]);
  },
};
