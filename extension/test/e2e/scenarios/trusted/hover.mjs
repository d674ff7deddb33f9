// Hover cards on sample.py, in the order of use: the token, what the model predicted after it, the
// code units it draws on, its weighted word-like sources with punctuation and whitespace folded
// into one line, and the measured faithfulness figure as one short line; markup in the file is
// shown as text, never rendered. Pin Hover Card keeps the card in a panel of its own while the
// cursor moves on, and its Copy as Markdown button puts the card, with a header, on the clipboard.
import { CMD_PIN } from '../../lib/config.mjs';
import { hoverCard, tokenRect } from '../../lib/editor.mjs';
import { recommendedView, SAMPLE_NAME, situationFigure } from '../../lib/fixtures.mjs';
import { check, screenshot, timings } from '../../lib/report.mjs';
import { assert, sleep, waitFor } from '../../lib/util.mjs';
import { pinnedFrame, pinnedState } from '../../lib/webviews.mjs';
import { closeTab, focusTab, runCommand } from '../../lib/workbench.mjs';

export default {
  name: 'hover',
  summary: 'hover cards: prediction, weighted sources, "Draws most on", faithfulness; HTML-like tokens shown as text; Pin Hover Card and Copy as Markdown',
  screenshots: ['hover', 'hover-html', 'hover-pinned'],
  async run(s) {
    const { P, page, editor, analysed } = s;
    await check(`${P}: hover card shows the token and its weighted sources`, async () => {
      const s = Date.now();
      const { card, text } = await hoverCard(page, editor, 'return head + label + str(total)', 'total');
      timings.hoverMs = Date.now() - s;
      const flat = text.replace(/\s+/g, ' ');
      assert(/total/.test(flat), `hover card does not name the token "total": "${flat.slice(0, 200)}"`);
      const rows = await card.locator('table tr').count();
      const weights = flat.match(/\b0?\.\d{2,}\b|\b\d{1,3}(\.\d+)?\s?%/g) || [];
      assert(rows >= 2 || weights.length >= 2, `hover card has no sources table or weights: "${flat.slice(0, 300)}"`);
      // It opens with what the model predicted after the token, then the code units, then the tokens it drew on.
      assert(/Predicts .+ \(\d[\d.e+-]*%\).*; actual next .+: rank \d+/.test(flat), `hover card has no prediction: "${flat.slice(0, 300)}"`);
      const order = ['Predicts', 'Draws most on', 'Drew on:', 'punctuation/whitespace token', 'vs ablation'].map((w) => flat.indexOf(w));
      assert(order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1])),
        `hover card is not prediction, "Draws most on", "Drew on:", the folded line, the figure: ${order.join(', ')} in "${flat.slice(0, 600)}"`);
      assert(/punctuation\/whitespace tokens?, \d+\.\d% in all/.test(flat), `no folded punctuation/whitespace line: "${flat.slice(0, 600)}"`);
      assert(await card.locator('a', { hasText: 'Pin hover card' }).count(), `the hover card has no "Pin hover card" link: "${flat.slice(-300)}"`);
      // code units: definitions (or blocks of lines without symbols or a grammar), identifiers, lines
      assert(/Draws most on (definitions|blocks of lines): .+? \(line \d+\) \d+\.\d%/.test(flat), `no definitions in "Draws most on": "${flat.slice(0, 600)}"`);
      assert(/identifiers: .+? ×\d+ \d+\.\d%/.test(flat) && /lines: .+? \(line \d+\) \d+\.\d%/.test(flat), `no identifiers or lines in "Draws most on": "${flat.slice(0, 600)}"`);
      // `total` is an interior token: the figure is the one measured there, or says it was not
      const view = recommendedView('embedded:smollm2-135m');
      const interior = view && situationFigure('embedded:smollm2-135m', 'interior', 'token', `${view.refinement} / ${view.aggregate}`);
      if (interior) {
        // one short line, naming the language it was measured on (sample.py is Python)
        const rho = `ρ ${interior.rho < 0 ? '-' : '+'}${Math.abs(interior.rho).toFixed(2)}`;
        const where = interior.languages.includes('python') ? 'Python, interior tokens' : 'standing in for Python; interior tokens';
        assert(flat.includes(`${rho} vs ablation (`) && flat.includes(`${where})`),
          `the hover does not state the interior-token figure ${rho} (${where}): "${flat.slice(0, 600)}"`);
      } else {
        assert(flat.includes('not measured at interior tokens'), `the hover does not say the interior figure was not measured: "${flat.slice(0, 500)}"`);
      }
      await screenshot(page, 'hover');
      return `${rows} table rows, ${weights.length} weights; "${flat.slice(0, 160)}"`;
    }, [analysed]);
    await check(`${P}: hover on HTML-like tokens shows them as text`, async () => {
      // Hover inside the markup itself: the card must show the characters, never render them.
      // [line, text to hover, hovered character within it, characters the card must show]
      const probes = [
        ['label = "<b>bold</b>" + title', '<b>', 0, 1],
        ['label = "<b>bold</b>" + title', 'bold', 1, 2],
        ['head = "<script>alert(1)</script>"', '</script>', 0, 1],
      ];
      const seen = [];
      for (const [line, word, at, minLen] of probes) {
        const { card, text: whole } = await hoverCard(page, editor, line, word, 0, at);
        // the token's own part of the card: "Draws most on" may quote the hovered line itself
        const text = whole.split('Draws most on')[0];
        const injected = await card.evaluate((el) => [...el.querySelectorAll('.rendered-markdown script, .rendered-markdown b, .rendered-markdown img, .rendered-markdown iframe')]
          .filter((e) => e.tagName !== 'B' || /bold|alert/.test(e.textContent)).map((e) => `<${e.tagName.toLowerCase()}>${e.textContent}`));
        assert(!injected.length, `hover card on "${word}" rendered markup from the file: ${injected.join(', ')}`);
        // The token under the mouse is some piece of the line around the hovered character (the
        // tokenizer decides which); the card has to show it literally, markup characters included.
        const col = line.indexOf(word) + at;
        let shown = '';
        for (let len = Math.min(8, line.length); len >= minLen && !shown; len--) {
          for (let st = Math.max(0, col - len + 1); st <= col && st + len <= line.length; st++) {
            const piece = line.slice(st, st + len);
            if (piece.trim().length >= minLen && text.includes(piece)) { shown = piece; break; }
          }
        }
        assert(shown, `hover card on "${line[col]}" of "${word}" does not show the token's characters: "${text.replace(/\s+/g, ' ').slice(0, 200)}"`);
        seen.push(`'${line[col]}' of ${word} -> shows "${shown}"`);
      }
      await screenshot(page, 'hover-html');
      return seen.join('; ');
    }, [analysed]);
    await check(`${P}: "${CMD_PIN}" keeps the card in a panel, and Copy as Markdown copies it with a header`, async () => {
      await page.mouse.move(5, 5);
      await focusTab(page, SAMPLE_NAME);
      const r = await tokenRect(editor, 'return head + label + str(total)', 'total');
      await page.mouse.click(r.cx, r.cy);
      await sleep(300);
      await runCommand(page, CMD_PIN);
      const { frame, state } = await pinnedFrame(page, 60000, (st) => st.text.includes('Draws most on'));
      const tab = (await page.locator('.tabs-container .tab', { hasText: 'Pinned:' }).first().innerText()).trim();
      assert(/^Pinned: \S*total \(line 10\)$/.test(tab), `the pinned panel's title does not name the token and its line: "${tab}"`);
      const text = state.text.replace(/\s+/g, ' ');
      assert(/Atten-Scope hover card: sample\.py, line 10 Model: \S+/.test(text), `the pinned card has no header with the file, line and model: "${text.slice(0, 300)}"`);
      assert(/Draws most on/.test(text) && /Drew on:/.test(text) && state.tables >= 1, `the pinned card misses its sections: "${text.slice(0, 600)}"`);
      assert(!/Show information flow|Pin hover card/.test(text) && !state.links.some((h) => /^(command|file):/.test(h)), `the pinned card keeps editor links: ${state.links.join(' ')}`);
      // the card stays when the cursor moves to another token
      await focusTab(page, SAMPLE_NAME);
      const other = await tokenRect(editor, 'total = 0', 'total');
      await page.mouse.click(other.cx, other.cy);
      await sleep(1500);
      const after = await pinnedState(frame);
      assert(after && after.text === state.text, 'the pinned card changed when the cursor moved');
      // Copy as Markdown; then read the clipboard back where the browser lets the page read it
      await page.context().grantPermissions(['clipboard-read', 'clipboard-write']).catch(() => {});
      await frame.locator('#copy').click({ timeout: 10000 });
      const status = await waitFor('the copy status', async () => (await pinnedState(frame))?.status, { timeout: 15000, interval: 200 });
      assert(/^Copied/.test(status), `Copy as Markdown did not copy: "${status}"`);
      await focusTab(page, SAMPLE_NAME);
      const clip = await page.evaluate(() => navigator.clipboard.readText()).catch((e) => ({ error: String(e) }));
      let read;
      if (typeof clip === 'string') {
        assert(/^### Atten-Scope hover card: `sample\.py`, line 10\n\nModel: `[^`]+`\n\n---\n\n\*\*Atten-Scope\*\* \u2014 /.test(clip),
          `the clipboard does not hold the card with its header: "${clip.slice(0, 300)}"`);
        assert(clip.includes('**Draws most on**') && /\| token \| line \| weight \|/.test(clip), `the copied card misses its sections: "${clip.slice(0, 600)}"`);
        assert(!/command:|file:/.test(clip), `the copied card keeps editor links: "${clip.slice(-300)}"`);
        read = `clipboard: ${clip.length} characters, "${clip.split('\n')[0]}"`;
      } else {
        read = `clipboard not readable here (${clip.error}); the panel says "${status}"`;
      }
      await screenshot(page, 'hover-pinned');
      await closeTab(page, 'Pinned:').catch(() => {});
      return `${tab}; ${read}`;
    }, [analysed]);
  },
};
