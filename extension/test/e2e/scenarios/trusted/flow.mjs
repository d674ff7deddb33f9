// The information flow to the cursor token: its graph (target node, attention edges, layers,
// legend, tooltip, layer labels that stay in view), tracing again at a higher threshold, the hover
// card's link to it, and an attention edge that opens its head's neuron view.
import { CMD_FLOW } from '../../lib/config.mjs';
import { hoverCard, tokenRect } from '../../lib/editor.mjs';
import { SAMPLE_NAME } from '../../lib/fixtures.mjs';
import { check, screenshot, timings } from '../../lib/report.mjs';
import { assert, sleep, waitFor } from '../../lib/util.mjs';
import { flowFrame, flowState } from '../../lib/webviews.mjs';
import { closeTab, focusTab, runCommand } from '../../lib/workbench.mjs';

export default {
  name: 'flow',
  summary: 'Show Information Flow: the graph (flowMs), threshold 0.2, the hover card link, an edge opens the neuron view',
  screenshots: ['flow', 'flow-threshold', 'flow-from-hover', 'flow-neuron'],
  async run(s) {
    const { P, run, page, editor, analysed } = s;
    const flowShown = `${P}: "${CMD_FLOW}" draws the routes to the cursor token: its node, attention edges, layers and tokens`;
    await check(flowShown, async () => {
      await focusTab(page, SAMPLE_NAME);
      const r = await tokenRect(editor, 'return head + label + str(total)', 'total');
      await page.mouse.click(r.cx, r.cy);
      await sleep(300);
      const s = Date.now();
      await runCommand(page, CMD_FLOW);
      const { frame, state } = await flowFrame(page, 120000);
      timings.flowMs = Date.now() - s;
      run.flowFrame = frame;
      assert(/^resid:\d+:\d+$/.test(state.target) && state.hasTarget, `the graph has no node for the target ${state.target}`);
      assert(/total/.test(state.targetLabel), `the target's column is not the cursor token "total": "${state.targetLabel}"`);
      const attention = state.edges.filter((e) => e.kind === 'attention');
      assert(attention.length >= 1, `no attention edge among ${state.edges.length} edges`);
      assert(state.placed, 'an edge has an endpoint that is not drawn');
      assert(state.layers[0] === 'emb' && state.layers.length > 2, `no layer numbers up the side: ${JSON.stringify(state.layers)}`);
      assert(state.legend.length === 3, `the legend has ${state.legend.length} entries`);
      // hovering the target node names its token, layer and stage
      await frame.locator(`.node[data-id="${state.target}"]`).hover({ timeout: 10000 });
      const tip = await waitFor('the node tooltip', async () => (await flowState(frame))?.tooltip, { timeout: 5000, interval: 100 });
      assert(/total/.test(tip) && /layer \d+/.test(tip) && /residual stream/.test(tip), `the target node's tooltip: "${tip}"`);
      // scrolled sideways (the panel narrowed so that it must scroll), the layers stay named at the left edge
      const axis = await frame.evaluate(async () => {
        const scroller = document.getElementById('scroller');
        scroller.style.width = '320px';
        scroller.scrollLeft = scroller.scrollWidth;
        await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
        const box = scroller.getBoundingClientRect();
        const label = document.querySelector('.layer-label').getBoundingClientRect();
        const result = { scrolled: scroller.scrollLeft, labelLeft: label.left - box.left, labelRight: label.right - box.left };
        scroller.style.width = '';
        scroller.scrollLeft = 0;
        return result;
      });
      assert(axis.scrolled > 0 && axis.labelLeft >= 0 && axis.labelRight <= 80,
        `the layer labels scroll out of view: ${JSON.stringify(axis)}`);
      await screenshot(page, 'flow');
      return `${state.nodes} nodes, ${state.edges.length} edges (${attention.length} attention), ${timings.flowMs} ms; tokens ${state.labels.join(' ')}; tooltip "${tip}"; ${state.status}`;
    }, [analysed]);
    await check(`${P}: the information flow traces again with a higher threshold`, async () => {
      const frame = run.flowFrame;
      const before = await flowState(frame);
      await frame.locator('#threshold').fill('0.2');
      await frame.locator('#apply').click();
      const { state } = await flowFrame(page, 120000, (st) => /threshold 0\.2\b/.test(st.status));
      assert(state.hasTarget, 'the target node is gone');
      assert(state.nodes <= before.nodes, `a higher threshold drew more nodes: ${before.nodes} -> ${state.nodes}`);
      await screenshot(page, 'flow-threshold');
      return `${before.nodes} -> ${state.nodes} nodes; ${state.status}`;
    }, [flowShown]);
    await check(`${P}: the hover card's "Show information flow" link moves the view to the hovered token`, async () => {
      await focusTab(page, SAMPLE_NAME);
      const { card } = await hoverCard(page, editor, 'total += len(item)', 'item');
      const link = card.locator('a', { hasText: 'Show information flow' }).first();
      await link.waitFor({ state: 'visible', timeout: 10000 });
      await link.click({ timeout: 10000 });
      const { state } = await flowFrame(page, 120000, (st) => /item/.test(st.targetLabel) && st.hasTarget);
      await screenshot(page, 'flow-from-hover');
      run.flowFrame = (await flowFrame(page, 10000, (st) => /item/.test(st.targetLabel))).frame;
      return `${state.nodes} nodes to "${state.targetLabel}"; ${state.status}`;
    }, [flowShown]);
    await check(`${P}: a click on an attention edge of the information flow opens its head's neuron view`, async () => {
      let frame = run.flowFrame;
      if ((await frame.locator('.edge.attention[data-head]').count()) === 0) {
        // the higher threshold of the check before may leave only the residual stream
        await frame.locator('#threshold').fill('0.04');
        await frame.locator('#apply').click();
        frame = (await flowFrame(page, 120000, (st) => /threshold 0\.04\b/.test(st.status))).frame;
      }
      const edge = frame.locator('.edge.attention[data-head]').last(); // drawn strongest last
      await edge.waitFor({ state: 'attached', timeout: 10000 });
      const info = await edge.evaluate((e) => ({ head: e.dataset.head, target: e.dataset.target }));
      assert(info.head !== undefined, 'no attention edge names a head');
      const layer = Number(info.target.split(':')[1]) - 1; // the model view's numbering
      await edge.dispatchEvent('click');
      const status = await waitFor('the neuron view of the edge\'s head', async () => {
        for (const f of page.frames()) {
          if (f === page.mainFrame()) continue;
          const st = await f.evaluate(() => document.body.dataset.ready === 'true' && document.querySelector('#parts') ? document.querySelector('#status')?.textContent ?? '' : null).catch(() => null);
          if (st && st.includes(`layer ${layer}, head ${info.head}`)) return st;
        }
        return false;
      }, { timeout: 30000, interval: 500 });
      await screenshot(page, 'flow-neuron');
      return status;
    }, [flowShown]);
    await closeTab(page, 'Neuron View').catch(() => {});
    await closeTab(page, 'Information Flow').catch(() => {});
  },
};
