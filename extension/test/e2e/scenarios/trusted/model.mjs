// Choose Model switches to Gemma 3 270M: the file is analysed again, and the status bar and the
// hover name Gemma 3 and state its own most faithful view and figure. Last, as it changes the model.
import { hoverCard } from '../../lib/editor.mjs';
import { recommendedView, SAMPLE_NAME, situationFigure } from '../../lib/fixtures.mjs';
import { check, screenshot } from '../../lib/report.mjs';
import { assert, waitFor } from '../../lib/util.mjs';
import { extensionStatus, focusTab, runCommand, waitAnalysisDone } from '../../lib/workbench.mjs';

export default {
  name: 'model',
  summary: 'Choose Model -> Gemma 3 270M: status bar and hover follow, with the figure measured on Gemma 3',
  screenshots: ['model-gemma'],
  async run(s) {
    const { P, page, editor, analysed } = s;
    await check(`${P}: "Atten-Scope: Choose Model" switches to Gemma 3: the status bar and the hover follow`, async () => {
      await focusTab(page, SAMPLE_NAME);
      await runCommand(page, 'Atten-Scope: Choose Model');
      const pick = async (text) => {
        // Match the row's label, not its description ("auto" describes itself with "the CPU").
        const row = page.locator('.quick-input-widget .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: text }) }).first();
        try {
          await row.waitFor({ state: 'visible', timeout: 15000 });
        } catch {
          const rows = await page.locator('.quick-input-widget .monaco-list-row').allInnerTexts().catch(() => []);
          await screenshot(page, 'choose-model-failed');
          throw new Error(`no quick pick row ${text} (rows: ${rows.map((r) => r.replace(/\s+/g, ' ')).join(' / ') || 'none'})`);
        }
        await row.click();
      };
      await pick('Gemma 3 270M');
      await pick(/^\s*cpu\b/);
      // The server loads Gemma (converting its GGUF once) and the open file is analysed again.
      let state = '';
      await waitFor('the status bar to name Gemma 3', async () => {
        state = (await extensionStatus(page)).map((x) => x.text).join(' ');
        return /gemma3-270m/.test(state);
      }, { timeout: 60000, interval: 500 });
      state = await waitAnalysisDone(page, 420000);
      const { text } = await hoverCard(page, editor, 'return head + label + str(total)', 'total');
      const flat = text.replace(/\s+/g, ' ');
      assert(/gemma3-270m/.test(flat), `the hover does not name Gemma 3: "${flat.slice(0, 300)}"`);
      const measured = recommendedView('embedded:gemma3-270m');
      if (measured) {
        // Gemma 3 has its own table: the view it starts on and the figure shown are Gemma's, not SmolLM2's;
        // `total` is an interior token, so the figure is Gemma's interior one where it was measured
        const interior = situationFigure('embedded:gemma3-270m', 'interior', 'token', `${measured.refinement} / ${measured.aggregate}`);
        const shown = interior ? interior.rho : measured.rho;
        const rho = `ρ ${shown < 0 ? '-' : '+'}${Math.abs(shown).toFixed(2)}`;
        // the figure comes with the cursor's first answer, which on Gemma 3 also reads its large LM head
        state = await waitFor('the status bar to show Gemma 3\'s figure', async () => {
          const now = (await extensionStatus(page)).map((s) => `[${s.text} | ${s.label}]`).join(' ');
          return now.includes(rho) ? now : false;
        }, { timeout: 30000, interval: 500 }).catch(() => state);
        assert(state.includes(`${measured.refinement} · ${measured.aggregate}`) && state.includes(rho),
          `the status bar does not show Gemma 3's most faithful view ${measured.refinement} / ${measured.aggregate} (${rho}): "${state}"`);
        assert(flat.includes(`${rho} vs ablation (`), `the hover does not state Gemma 3's figure ${rho}: "${flat.slice(0, 400)}"`);
      } else {
        assert(/not measured/.test(flat), `the hover claims a faithfulness figure measured on another model: "${flat.slice(0, 300)}"`);
      }
      await screenshot(page, 'model-gemma');
      return `status ${state}; hover "${flat.slice(0, 120)}"`;
    }, [analysed]);
  },
};
