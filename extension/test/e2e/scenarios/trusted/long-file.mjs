// A file over 8,000 tokens (the interpreter's own uuid.py, copied in as long_uuid.py): it is
// analysed in windows; a cursor move gets its tints in under 1 s while its heatmap computes; the
// heatmap draws pooled cells with axes, a log-scale legend and tooltips, and zooms in to exact tiles;
// after an edit the tints stay, the rest is dimmed, and Re-analyse is one click. The long file and
// the heatmap close at the end.
import { CMD_ANALYZE, CMD_FLOW, CMD_HEATMAP } from '../../lib/config.mjs';
import { clickAndTimeTints, hoverCard, openFile, pyEditor, tintState, tokenRect } from '../../lib/editor.mjs';
import { LONG_MARKER, LONG_NAME } from '../../lib/fixtures.mjs';
import { check, screenshot, timings } from '../../lib/report.mjs';
import { assert, sleep, waitFor } from '../../lib/util.mjs';
import { findCanvasFrame, flowFrame, heatmapFrame, heatmapState, heatmapTooltip, pickCell } from '../../lib/webviews.mjs';
import { clearNotifications, closeTab, extensionStatus, focusTab, runCommand, waitAnalysisDone, waitNotification } from '../../lib/workbench.mjs';

export default {
  name: 'long-file',
  summary: 'uuid.py (8,531 tokens): analysis, tints while the heatmap computes (cursorDuringHeatmapMs), the pooled heatmap and its zoom, edit + Re-analyse, information flow and accumulative attention at its end (deepFlowMs, deepAccumulativeMs)',
  screenshots: ['heatmap-long', 'heatmap-long-zoomed', 'after-edit', 'after-reanalyse', 'flow-deep', 'accumulative-deep'],
  async run(s) {
    const { P, run, opts, page, analysed } = s;
    let longEditor;
    const longAnalysed = `${P}: a file over 8,000 tokens (${LONG_NAME}) is analysed`;
    await check(longAnalysed, async () => {
      assert(opts.longSource, 'the interpreter under test has no uuid.py in its standard library');
      longEditor = await openFile(page, LONG_NAME, LONG_MARKER);
      const r = await tokenRect(longEditor, 'Note that uuid1() may compromise privacy', 'privacy');
      await page.mouse.click(r.cx, r.cy);
      const s = Date.now();
      await runCommand(page, CMD_ANALYZE);
      const state = await waitAnalysisDone(page, 600000);
      timings.longAnalysisMs = Date.now() - s;
      return `${timings.longAnalysisMs} ms; status ${state}`;
    }, [analysed]);
    const longComputing = `${P}: while the heatmap of the long file computes, a cursor move gets its tints in under 1 s`;
    await check(longComputing, async () => {
      await sleep(1500); // the tints of the token under the cursor settle
      await runCommand(page, CMD_HEATMAP);
      run.longHeatmapStart = Date.now();
      const frame = await heatmapFrame(page, 60000);
      await waitFor('the heatmap to start computing', async () => (await heatmapState(frame)).loading, { timeout: 60000, interval: 50 });
      const target = await tokenRect(longEditor, 'uuid.uuid3(uuid.NAMESPACE_DNS', 'NAMESPACE_DNS');
      const ms = await clickAndTimeTints(page, longEditor, target, 30000);
      const computing = (await heatmapState(frame)).loading;
      timings.cursorDuringHeatmapMs = ms;
      run.longFrame = frame;
      assert(computing, `the heatmap was drawn before the tints changed (${ms} ms): nothing was measured while it computed`);
      assert(ms < 1000, `the tints took ${ms} ms while the heatmap computed`);
      return `cursor move -> tints ${ms} ms, the heatmap still computing`;
    }, [longAnalysed]);
    await check(`${P}: the heatmap of the long file draws with line-number axes, a log-scale legend and real weights; zooming in gives exact tiles`, async () => {
      const frame = run.longFrame || await heatmapFrame(page, 60000);
      const state = await waitFor('the long file\'s heatmap on the canvas', async () => {
        const st = await heatmapState(frame);
        return !st.loading && st.n > 8000 ? st : false;
      }, { timeout: 240000, interval: 250 });
      timings.longHeatmapMs = Date.now() - run.longHeatmapStart;
      const { info } = await findCanvasFrame(page, 30000);
      await screenshot(page, 'heatmap-long');
      assert(state.bins === 1024, `the overview has ${state.bins} cells a side, not 1,024`);
      assert(info.nonBlank > 1000, `the long file's heatmap is blank (${JSON.stringify(info)})`);
      assert(state.leftTicks.length >= 3 && state.topTicks.length >= 3 && state.leftTicks.every((t) => /^\d+$/.test(t)), `no line-number axes: ${JSON.stringify([state.leftTicks, state.topTicks])}`);
      assert(state.legendTicks.length >= 2 && /log scale/.test(state.legend), `no log-scale legend: ${JSON.stringify([state.legendTicks, state.legend])}`);
      const pt = await pickCell(frame, 4);
      assert(pt, 'no heatmap cell found to hover');
      const pooledTip = await heatmapTooltip(frame, pt);
      const weight = /strongest pair ([\d.e+-]+)%/.exec(pooledTip);
      assert(weight && Number(weight[1]) > 0 && /\d+:\d+/.test(pooledTip), `the tooltip gives no lines and weight: "${pooledTip}"`);
      // Zoom in around the hovered cell until a tile of single token pairs is on screen.
      for (let i = 0; i < 6; i++) {
        await page.mouse.wheel(0, -500);
        await sleep(150);
      }
      await waitFor('an exact tile of the zoomed-in range', async () => (await heatmapState(frame)).detail === 'exact', { timeout: 120000, interval: 250 });
      await sleep(300);
      const cell = await pickCell(frame, 4); // a pair with a weight: the pooled cell's maximum may sit elsewhere in its block
      assert(cell, 'no heatmap cell found to hover in the zoomed-in tile');
      const exactTip = await heatmapTooltip(frame, cell);
      await screenshot(page, 'heatmap-long-zoomed');
      assert(/attends to, with weight [\d.e+-]+%/.test(exactTip) && /#\d+ at \d+:\d+/.test(exactTip), `the zoomed-in tooltip does not name a token pair and its weight: "${exactTip}"`);
      return `${state.n} tokens in ${state.bins} x ${state.bins} cells, drawn ${timings.longHeatmapMs} ms after the command; ` +
        `axes ${state.leftTicks.slice(0, 3).join(', ')}...; legend ${state.legendTicks.join(' ')}; tooltip "${pooledTip.replace(/\s+/g, ' ')}"; zoomed "${exactTip.replace(/\s+/g, ' ')}"`;
    }, [longComputing]);
    await check(`${P}: after typing a line in the long file, tints and hovers above the edit still work, the rest is dimmed, and Re-analyse is one click`, async () => {
      await focusTab(page, LONG_NAME);
      // near the end of the file, so that the re-analysis recomputes only the last lines
      const ABOVE = 'return UUID(bytes=os.urandom(16), version=4)';
      const EDITED = 'return UUID(bytes=hash[:16], version=5)';
      const BELOW = "NAMESPACE_DNS = UUID('6ba7b810";
      await page.keyboard.press('Control+End');
      // the editor is found by a line on screen: the one the earlier checks used scrolled away
      const endEditor = pyEditor(page, /NAMESPACE_DNS\s+=\s+UUID/);
      await waitFor('the end of the file on screen', async () => (await endEditor.count()) > 0, { timeout: 15000 });
      longEditor = endEditor;
      const above = await tokenRect(longEditor, ABOVE, 'urandom');
      await page.mouse.click(above.cx, above.cy);
      await sleep(1500);
      const painted = await tintState(longEditor);
      assert(painted.tinted > 0, 'no tints before the edit');
      const at = await tokenRect(longEditor, EDITED, 'version');
      await page.mouse.click(at.x + at.w + 2, at.cy);
      await page.keyboard.press('End');
      await page.keyboard.press('Enter');
      await page.keyboard.type('# reviewed by hand', { delay: 20 });
      await sleep(2500); // longer than the re-analysis idle time: a file over 2,048 tokens is not re-analysed on its own
      const kept = await tintState(longEditor);
      assert(kept.tinted > 0, `the tints vanished after the edit (${kept.count} decorated ranges)`);
      const dimmed = () => longEditor.evaluate((ed, { ABOVE, BELOW }) => {
        const lines = [...ed.querySelectorAll('.view-lines .view-line')];
        const dim = (line) => !!line && [...line.querySelectorAll('span')].some((s) => Number(getComputedStyle(s).opacity) < 0.9);
        const find = (text) => lines.find((l) => l.textContent.replace(/\u00a0/g, ' ').includes(text));
        return { above: dim(find(ABOVE)), below: dim(find(BELOW)) };
      }, { ABOVE, BELOW });
      const marks = await waitFor('the edited part of the file to be dimmed', async () => {
        const d = await dimmed();
        return d.below ? d : false;
      }, { timeout: 15000, interval: 250 });
      assert(!marks.above, 'the unchanged part above the edit is dimmed too');
      let items = await extensionStatus(page);
      assert(items.some((it) => /Re-analyse/.test(it.text)), `no Re-analyse item in the status bar: ${JSON.stringify(items.map((it) => it.text))}`);
      assert(!items.some((it) => it.spinning), 'an analysis started on its own after the edit of a large file');
      const { text: fresh } = await hoverCard(page, longEditor, ABOVE, 'urandom');
      assert(/Drew on:/.test(fresh) && /\d+\.\d%/.test(fresh), `no card with weights above the edit: "${fresh.slice(0, 200)}"`);
      const { text: staleCard } = await hoverCard(page, longEditor, BELOW, 'NAMESPACE_DNS');
      assert(/changed after the analysis/.test(staleCard), `the card below the edit does not say it is stale: "${staleCard.slice(0, 200)}"`);
      await page.mouse.move(5, 5);
      await page.keyboard.press('Escape');
      await screenshot(page, 'after-edit');
      const s = Date.now();
      await page.locator('.part.statusbar .statusbar-item', { hasText: 'Re-analyse' }).first().click();
      await waitFor('the Re-analyse item to go once the file is analysed again', async () => {
        items = await extensionStatus(page);
        return !items.some((it) => /Re-analyse/.test(it.text)) && !items.some((it) => it.spinning);
      }, { timeout: 300000, interval: 500 });
      timings.reanalyseAfterEditMs = Date.now() - s;
      await waitFor('the dimming to go', async () => !(await dimmed()).below, { timeout: 15000, interval: 250 });
      const { text: after } = await hoverCard(page, longEditor, BELOW, 'NAMESPACE_DNS');
      assert(/Drew on:/.test(after), `no card below the edit after the re-analysis: "${after.slice(0, 200)}"`);
      await screenshot(page, 'after-reanalyse');
      // saved, so that closing the tab asks nothing
      const typed = await tokenRect(longEditor, '# reviewed by hand', 'reviewed');
      await page.mouse.click(typed.cx, typed.cy);
      await page.keyboard.press('Control+s');
      await sleep(500);
      return `tints kept (${kept.tinted} ranges), edited part dimmed, card above "${fresh.replace(/\s+/g, ' ').slice(0, 80)}", below "${staleCard.replace(/\s+/g, ' ').slice(0, 80)}"; Re-analyse took ${timings.reanalyseAfterEditMs} ms`;
    }, [longAnalysed]);
    await check(`${P}: information flow and accumulative attention on a token thousands of tokens into the long file, timed from the command to the drawn view`, async () => {
      await focusTab(page, LONG_NAME);
      await page.keyboard.press('Control+End');
      const deep = pyEditor(page, /NAMESPACE_URL\s+=\s+UUID/);
      await waitFor('the end of the file on screen', async () => (await deep.count()) > 0, { timeout: 15000 });
      const r = await tokenRect(deep, "NAMESPACE_URL = UUID('6ba7b811", 'NAMESPACE_URL');
      await page.mouse.click(r.cx, r.cy);
      await sleep(800);
      let began = Date.now();
      await runCommand(page, CMD_FLOW);
      // the panel may still show an earlier graph of sample.py: wait for the long file's
      const { state } = await flowFrame(page, 300000, (st) => st.hasTarget && st.status.startsWith(LONG_NAME));
      timings.deepFlowMs = Date.now() - began;
      const recomputed = /(\d+) tokens run through the model/.exec(state.status);
      assert(state.edges.some((e) => e.kind === 'attention'), `no attention edge in the deep token's graph: ${state.status}`);
      assert(recomputed && Number(recomputed[1]) > 2000, `the graph did not run over thousands of tokens of context: "${state.status}"`);
      await screenshot(page, 'flow-deep');
      await closeTab(page, 'Information Flow').catch(() => {});
      await focusTab(page, LONG_NAME);
      await page.mouse.click(r.cx, r.cy);
      await sleep(800);
      await clearNotifications(page);
      began = Date.now();
      await runCommand(page, 'Atten-Scope: Show Accumulative Attention (ALTI rollout)');
      const { text: note } = await waitNotification(page, /Accumulative attention \(ALTI rollout/, 900000);
      timings.deepAccumulativeMs = Date.now() - began;
      const st = await tintState(deep);
      const over = /ran the model over (\d+) tokens/.exec(note);
      const line = /routes to .+ \(line (\d+)\)/.exec(state.status)?.[1];
      assert(line && new RegExp(`of .+ \\(line ${line}\\)`).test(note) && st.tinted > 0, `no accumulated sources for the deep token of line ${line}: "${note}" (${st.tinted} tints)`);
      assert(over && Number(over[1]) > 2000, `the rollout did not cover thousands of tokens of context: "${note}"`);
      await screenshot(page, 'accumulative-deep');
      await clearNotifications(page);
      await page.mouse.click(r.cx, r.cy + 40); // the cursor moves on: the tints return to the chosen view
      return `flow ${timings.deepFlowMs} ms (${state.nodes} nodes; ${state.status}); accumulative ${timings.deepAccumulativeMs} ms: "${note.slice(0, 160)}"`;
    }, [longAnalysed]);
    // The long file and its heatmap close, so a later model switch does not analyse it again.
    await closeTab(page, 'Heatmap').catch(() => {});
    await closeTab(page, LONG_NAME).catch(() => {});
  },
};
