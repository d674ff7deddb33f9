// Complete Here and Explain at the end of sample.py: the ghost text in the editor (Escape removes
// it), the Completion panel's tokens with probabilities, entropy and alternatives and the lines
// that drove it; a click on a token tints what it read; a branch from an alternative (its tokens
// marked forced); Explain with removals (a progress notification, then the removals' LDS, the
// instant method's LDS on them and the cost); a click on a line selects it and Regenerate without
// these lines shows the diff; Insert puts the completion in the file, which is analysed again, and
// a hover on an inserted token answers. The insertion is undone, then Which Code Does This
// Prediction Need? at the end of the file shows the predicted token and its removals in the panel.
import { hoverCard, tintState } from '../../lib/editor.mjs';
import { SAMPLE, SAMPLE_NAME } from '../../lib/fixtures.mjs';
import { check, screenshot } from '../../lib/report.mjs';
import { assert, sleep, waitFor } from '../../lib/util.mjs';
import { completionFrame, completionState } from '../../lib/webviews.mjs';
import { clearNotifications, focusTab, runCommand, waitAnalysisDone, waitNotification } from '../../lib/workbench.mjs';

const CMD = 'Atten-Scope: Complete Here and Explain';
const PREDICTION_CMD = 'Atten-Scope: Which Code Does This Prediction Need?';

// The panel's prediction mode: the predicted token and its probability.
async function predictionState(frame) {
  return frame.evaluate(() => {
    const root = document.getElementById('prediction');
    return root && !root.hidden
      ? { token: document.getElementById('prediction-token').textContent, probability: document.getElementById('prediction-probability').textContent, after: document.getElementById('prediction-after').textContent }
      : null;
  });
}

// The editor's ghost text: the content of the ::after pseudo-elements that decorations put on the
// lines on screen (VS Code draws an `after` decoration's text with CSS, not as text in the DOM).
async function ghostText(editor) {
  return editor.evaluate((ed) => [...ed.querySelectorAll('.view-lines span')]
    .map((e) => getComputedStyle(e, '::after').content)
    .filter((c) => c && c !== 'none' && c !== 'normal' && c !== '""')
    .map((c) => { try { return JSON.parse(c); } catch { return c; } })
    .join(''));
}

async function lines(editor) {
  return editor.evaluate((ed) => [...ed.querySelectorAll('.view-lines .view-line')].map((l) => l.textContent.replace(/\u00a0/g, ' ')));
}

// Clicks a button of the panel's top bar. A tab's hover (its path, shown while the mouse rests on
// a tab above the panel) can cover those buttons: the mouse is moved off the tabs first and the
// hover given time to go.
async function clickPanelButton(page, button) {
  await page.mouse.move(20, 700);
  await sleep(600);
  await button.click({ timeout: 30000 });
}

export default {
  name: 'completion',
  summary: 'Complete Here and Explain: ghost text, tokens and alternatives, a branch, explain with removals, regenerate without lines (diff), insert, hover on the insertion; Which Code Does This Prediction Need?',
  screenshots: ['completion', 'completion-token', 'completion-explain', 'completion-regenerate', 'completion-inserted', 'completion-prediction'],
  async run(s) {
    const { P, page, editor, analysed } = s;
    const c = { frame: undefined, state: undefined };
    const opened = `${P}: "${CMD}" at the end of ${SAMPLE_NAME} shows ghost text and the Completion panel`;
    await check(opened, async () => {
      await focusTab(page, SAMPLE_NAME);
      await editor.click({ position: { x: 200, y: 40 } });
      await page.keyboard.press('Control+End');
      await clearNotifications(page);
      await runCommand(page, CMD);
      c.frame = (await completionFrame(page, 180000, (st) => st.chips.length > 0)).frame;
      c.state = await completionState(c.frame);
      const ghost = await waitFor('the ghost text', async () => (await ghostText(editor)) || false, { timeout: 10000, interval: 300 });
      const first = c.state.text.split('\n').find((l) => l.trim()) ?? '';
      assert(ghost.includes(first.trim().slice(0, 8)), `the ghost text "${ghost.slice(0, 80)}" does not show the completion "${first.slice(0, 80)}"`);
      await screenshot(page, 'completion');
      await page.keyboard.press('Escape');
      await waitFor('Escape to remove the ghost text', async () => !(await ghostText(editor)), { timeout: 5000, interval: 200 });
      return `${c.state.chips.length} tokens: ${JSON.stringify(c.state.text.slice(0, 80))}; ${c.state.status}`;
    }, [analysed]);

    await check(`${P}: the Completion panel lists tokens with probability, entropy and alternatives, and the lines and units that drove it`, async () => {
      const st = c.state;
      assert(st.chips.every((t) => /%$/.test(t.prob) && /bits/.test(t.entropy)), `a token lacks its probability or entropy: ${JSON.stringify(st.chips.slice(0, 3))}`);
      assert(st.chips.some((t) => t.alternatives >= 2), 'no token lists alternatives');
      assert(/tokens, stopped/.test(st.status) && /\d+\.\d s; \d+ tokens generated/.test(st.status), `the caption does not say how it stopped and what it cost: "${st.status}"`);
      const inst = st.instant;
      assert(/What drove it/.test(inst.heading) && /method: attention/.test(inst.meta) && /LDS/.test(inst.meta) && /nats/.test(inst.meta), `the attribution lacks its method, LDS or total: "${inst.meta}"`);
      assert(inst.rows >= 2 && /line \d+/.test(inst.text) && /[+-]\d+\.\d+ nats/.test(inst.text), `no scored lines or units: "${inst.text.slice(0, 300)}"`);
      const tints = await tintState(editor);
      assert(tints.gutter > 0 || tints.tinted > 0, 'the lines that drove the completion are not tinted in the editor');
      return `${inst.rows} lines and units listed, ${inst.tinted} tinted; ${inst.meta}; editor: ${tints.tinted} tinted, ${tints.gutter} gutter icons`;
    }, [opened]);

    await check(`${P}: a click on a generated token tints the context it read`, async () => {
      const before = await tintState(editor);
      const step = Math.min(2, c.state.chips.length - 1);
      await c.frame.locator('button.token').nth(step).click();
      const { state } = await completionFrame(page, 60000, (st) => /reads most/.test(st.attention));
      assert(state.chips[step].selected, 'the clicked token is not marked');
      const after = await tintState(editor);
      assert(after.sig !== before.sig, 'the editor tints did not change');
      await screenshot(page, 'completion-token');
      return `${state.attention.slice(0, 200)}; ${state.chips.filter((t) => t.read).length} completion tokens tinted in the panel`;
    }, [opened]);

    await check(`${P}: an alternative branches: the completion is made again from it, its tokens marked forced`, async () => {
      const st = await completionState(c.frame);
      const step = st.chips.findIndex((t, i) => i >= 1 && t.branchable >= 2) >= 0 ? st.chips.findIndex((t, i) => i >= 1 && t.branchable >= 2) : st.chips.findIndex((t) => t.branchable >= 2);
      assert(step >= 0, 'no token offers a branch');
      await c.frame.locator('#tokens .chip').nth(step).locator('button.alt').nth(1).click();
      const { state } = await completionFrame(page, 180000, (x) => x.chips.some((t) => t.forced) && x.chips.length > 0);
      const forced = state.chips.filter((t) => t.forced).length;
      assert(forced === step + 1, `${forced} tokens marked forced after branching at step ${step}`);
      assert(/forced \(a branch\)/.test(state.status), `the caption does not say it is a branch: "${state.status}"`);
      c.state = state;
      return `branched at step ${step}: ${forced} forced; ${JSON.stringify(state.text.slice(0, 80))}`;
    }, [opened]);

    const explained = `${P}: Explain with removals shows progress, then the removals' attribution, the instant method's LDS on them and the cost`;
    await check(explained, async () => {
      await clearNotifications(page);
      await clickPanelButton(page, c.frame.locator('#explain'));
      await waitNotification(page, /explaining with removals/i, 30000).catch(() => { /* a fast answer may end the notification first */ });
      const { state } = await completionFrame(page, 300000, (x) => x.removals && /Explained with removals/.test(x.removals.heading));
      const r = state.removals;
      assert(/method: removals/.test(r.meta) && /LDS/.test(r.meta), `the removals lack their method or LDS: "${r.meta}"`);
      assert(/The instant method on the same removals: LDS/.test(r.text), `the instant method's LDS on the removals is missing: "${r.text.slice(0, 300)}"`);
      assert(/Cost: \d+ removals, [\d,]+ tokens through the model, \d+\.\d s/.test(r.text), `the cost is missing: "${r.text.slice(0, 400)}"`);
      assert(r.rows >= 2, 'the removals list no lines or units');
      await screenshot(page, 'completion-explain');
      return `${r.meta}; ${(/The instant method[^.]*\./.exec(r.text) || [''])[0]} ${(/Cost: [^.]*\.\d s/.exec(r.text) || [''])[0]}`;
    }, [opened]);

    await check(`${P}: a click on a line selects it, and Regenerate without these lines shows the diff`, async () => {
      const row = c.frame.locator('#instant tr[data-first]').first();
      const first = Number(await row.getAttribute('data-first'));
      await row.click();
      await sleep(500);
      await clickPanelButton(page, c.frame.locator('#regenerate'));
      const { state } = await completionFrame(page, 180000, (x) => !!x.regenerated);
      assert(state.regenerated.reason.includes(`Without the selected line ${first + 1}`), `the panel does not say which lines went: "${state.regenerated.reason}"`);
      assert(state.regenerated.parts >= 1, 'the diff is empty');
      await screenshot(page, 'completion-regenerate');
      c.state = state;
      return `${state.regenerated.reason}; diff ${state.regenerated.ops.join(' ')}`;
    }, [opened]);

    const inserted = `${P}: Insert puts the completion in the file`;
    await check(inserted, async () => {
      const before = await lines(editor);
      await clickPanelButton(page, c.frame.locator('#insert'));
      const want = c.state.text.split('\n').map((l) => l.trim()).filter((l) => l.length >= 3);
      await waitFor('the inserted text on screen', async () => {
        const now = await lines(editor);
        return now.join('\n') !== before.join('\n') && (!want.length || now.some((l) => l.includes(want[0])));
      }, { timeout: 10000, interval: 300 });
      assert(!(await ghostText(editor)), 'the ghost text stayed after Insert');
      await screenshot(page, 'completion-inserted');
      return `inserted ${JSON.stringify(c.state.text.slice(0, 80))}`;
    }, [opened]);

    await check(`${P}: the file is analysed again and a hover on an inserted token answers`, async () => {
      await waitAnalysisDone(page, 120000);
      const known = new Set(SAMPLE.split('\n').map((l) => l.trim()));
      const fresh = (await lines(editor)).filter((l) => l.trim() && !known.has(l.trim()));
      let probe;
      for (const line of fresh) {
        const word = (/[A-Za-z_][A-Za-z0-9_]{2,}/.exec(line) || [])[0];
        if (word) { probe = { line: line.trim(), word }; break; }
      }
      assert(probe, `no inserted word to hover on: ${JSON.stringify(fresh.slice(0, 4))}`);
      const { text } = await hoverCard(page, editor, probe.line, probe.word);
      const flat = text.replace(/\s+/g, ' ');
      assert(/Predicts|Drew on|Draws most on/.test(flat), `the hover on the inserted "${probe.word}" is not the attention card: "${flat.slice(0, 200)}"`);
      return `"${probe.word}" on "${probe.line.slice(0, 60)}": ${flat.slice(0, 120)}`;
    }, [inserted]);

    // later features read the sample as it was
    await focusTab(page, SAMPLE_NAME);
    await editor.click({ position: { x: 200, y: 40 } }).catch(() => {});
    await page.keyboard.press('Control+Z');
    await sleep(300);

    await check(`${P}: "${PREDICTION_CMD}" at the end of ${SAMPLE_NAME} shows progress, then the predicted token, the removals' lines with their LDS, the instant method's LDS on them and the cost`, async () => {
      await waitAnalysisDone(page, 120000);
      await page.keyboard.press('Control+End');
      await clearNotifications(page);
      await runCommand(page, PREDICTION_CMD);
      await waitNotification(page, /explaining the prediction/i, 60000).catch(() => { /* a fast answer may end the notification first */ });
      const { frame, state } = await completionFrame(page, 300000, (x) => x.removals && /Which code this prediction needs/.test(x.removals.heading));
      const r = state.removals;
      assert(/method: removals/.test(r.meta) && /LDS -?\d\.\d\d/.test(r.meta), `the removals lack their method or LDS: "${r.meta}"`);
      assert(r.rows >= 1 && /line \d+/.test(r.text) && /[+-]\d+\.\d+ nats/.test(r.text), `the removals list no scored line: "${r.text.slice(0, 300)}"`);
      assert(/The instant method on the same removals: LDS/.test(r.text), `the instant method's LDS on the removals is missing: "${r.text.slice(0, 300)}"`);
      assert(/Cost: \d+ removals, [\d,]+ tokens through the model, \d+\.\d s/.test(r.text), `the cost is missing: "${r.text.slice(0, 400)}"`);
      assert(/method: attention/.test(state.instant.meta), `the instant method is missing: "${state.instant.meta}"`);
      const predicted = await predictionState(frame);
      assert(predicted && predicted.token && /%$|not known/.test(predicted.probability), `the predicted token or its probability is missing: ${JSON.stringify(predicted)}`);
      const tints = await tintState(editor);
      assert(tints.gutter > 0 || tints.tinted > 0, 'the lines the prediction needs are not tinted in the editor');
      await screenshot(page, 'completion-prediction');
      return `predicts ${JSON.stringify(predicted.token)} (${predicted.probability}); ${r.meta}; ${r.rows} lines and units; editor: ${tints.tinted} tinted, ${tints.gutter} gutter icons`;
    }, [analysed]);

    // later features read the cursor where the earlier ones left it: an interior token, not the file's last
    await focusTab(page, SAMPLE_NAME);
    await editor.click({ position: { x: 200, y: 40 } }).catch(() => {});
  },
};
