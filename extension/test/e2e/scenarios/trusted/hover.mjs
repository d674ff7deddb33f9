// Hover cards on sample.py, in the order of use: the token, what the model predicted after it, the
// code units it draws on, its weighted word-like sources with punctuation and whitespace folded
// into one line, and the measured faithfulness figure as one short line; markup in the file is
// shown as text, never rendered.
import { hoverCard } from '../../lib/editor.mjs';
import { recommendedView, situationFigure } from '../../lib/fixtures.mjs';
import { check, screenshot, timings } from '../../lib/report.mjs';
import { assert } from '../../lib/util.mjs';

export default {
  name: 'hover',
  summary: 'hover cards: prediction, weighted sources, "Draws most on", faithfulness; HTML-like tokens shown as text',
  screenshots: ['hover', 'hover-html'],
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
  },
};
