// The text editor: opening a file, finding a word on screen, hover cards, and the tint and gutter
// decorations the extension paints.
import { assert, sleep, waitFor } from './util.mjs';

export async function openFile(page, name, marker = /def\s+render/) {
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
  await row.waitFor({ timeout: 30000 });
  await row.click();
  await activeTab(page, name).waitFor({ timeout: 30000 });
  const editor = pyEditor(page, marker);
  await editor.locator('.view-lines .view-line').first().waitFor({ timeout: 30000 });
  await waitFor('file text on screen', async () => marker.test(await editor.locator('.view-lines').innerText()), { timeout: 30000 });
  return editor;
}

// The active tab of the editor of file `name` in any group: its text starts with the name, so a
// panel titled after the file ("Heatmap: long_uuid.py") in another group does not count.
export function activeTab(page, name) {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return page.locator('.tabs-container .tab.active', { hasText: new RegExp(`^\\s*${escaped}`) }).first();
}

// The text editor that shows a file with `marker` on screen (not a webview, not the output panel).
export function pyEditor(page, marker = /def\s+render/) {
  return page.locator('.editor-instance .monaco-editor', { has: page.locator('.view-lines') })
    .filter({ has: page.locator('.view-line', { hasText: marker }) }).first();
}

// Screen rectangle of `word` (the nth match) on the editor line that contains `lineText`.
export async function tokenRect(editor, lineText, word, nth = 0) {
  const rect = await editor.evaluate((ed, { lineText, word, nth }) => {
    const norm = (s) => s.replace(/\u00a0/g, ' ');
    const line = [...ed.querySelectorAll('.view-lines .view-line')].find((l) => norm(l.textContent).includes(lineText));
    if (!line) return null;
    const text = norm(line.textContent);
    let at = -1;
    for (let k = 0, from = 0; k <= nth; k++) { at = text.indexOf(word, from); if (at < 0) return null; from = at + 1; }
    const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    let pos = 0; let started = false; let node;
    while ((node = walker.nextNode())) {
      const len = node.textContent.length;
      if (!started && at < pos + len) { range.setStart(node, at - pos); started = true; }
      if (started && at + word.length <= pos + len) { range.setEnd(node, at + word.length - pos); break; }
      pos += len;
    }
    const r = range.getBoundingClientRect();
    return { x: r.left, y: r.top, w: r.width, h: r.height };
  }, { lineText, word, nth });
  assert(rect && rect.w > 0, `"${word}" not found on screen in line "${lineText}"`);
  return { ...rect, cx: rect.x + rect.w / 2, cy: rect.y + rect.h / 2 };
}

// Hovers `word` (the nth match on the line holding `lineText`; with `charAt`, one character of it)
// until a hover card with text shows; returns the card and its text.
export async function hoverCard(page, editor, lineText, word, nth = 0, charAt = -1) {
  const card = page.locator('.monaco-hover:not(.hidden)').filter({ has: page.locator('.rendered-markdown, .hover-contents') }).last();
  let text = '';
  await waitFor(`a hover card on "${word}"`, async () => {
    await page.mouse.move(5, 5);
    await page.keyboard.press('Escape');
    await sleep(200);
    const r = await tokenRect(editor, lineText, word, nth);
    // The middle of the word, or of one of its characters.
    const x = charAt >= 0 ? r.x + (charAt + 0.5) * (r.w / word.length) : r.cx;
    await page.mouse.move(x - 1, r.cy);
    await page.mouse.move(x, r.cy);
    try {
      await card.waitFor({ state: 'visible', timeout: 4000 });
    } catch { return false; }
    text = (await card.innerText()).trim();
    return text.length > 0 && !/^loading/i.test(text);
  }, { timeout: 60000, interval: 500 });
  return { card, text };
}

// Tint decorations: elements with a generated decoration class (ced-...) in the editor's
// content overlays and text spans. Returns a signature (class + position) for change detection.
export async function tintState(editor) {
  return editor.evaluate((ed) => {
    const els = [...ed.querySelectorAll('.view-overlays [class*="ced-"], .view-lines [class*="ced-"]')];
    const painted = els.filter((el) => {
      const cs = getComputedStyle(el);
      const bg = cs.backgroundColor;
      return (bg && bg !== 'transparent' && !/rgba\([^)]*,\s*0\)$/.test(bg)) || cs.outlineStyle !== 'none' || cs.borderStyle !== 'none';
    });
    const sig = painted.map((el) => `${[...el.classList].filter((c) => c.startsWith('ced-')).join('.')}@${el.closest('[style*="top"]')?.style.top || ''}:${el.style.left || ''}:${el.style.width || ''}`).sort();
    const tinted = painted.filter((el) => { const bg = getComputedStyle(el).backgroundColor; return bg && bg !== 'transparent' && !/rgba\([^)]*,\s*0\)$/.test(bg); });
    const colours = [...new Set(tinted.map((el) => getComputedStyle(el).backgroundColor))];
    // Gutter heat: decoration elements in the line-number margin (icons are background images).
    const gutter = [...ed.querySelectorAll('.margin [class*="ced-"], .glyph-margin-widgets [class*="ced-"]')]
      .filter((el) => { const cs = getComputedStyle(el); return cs.backgroundImage && cs.backgroundImage !== 'none'; }).length;
    return { count: painted.length, tinted: tinted.length, sig: sig.join('|'), colours, gutter };
  });
}

// Moves the cursor with a click and measures, inside the page, the time from the mousedown to
// the first change of the painted tint decorations.
export async function clickAndTimeTints(page, editor, rect, timeout = 30000) {
  await editor.evaluate((ed) => {
    const sigOf = () => [...ed.querySelectorAll('.view-overlays [class*="ced-"], .view-lines [class*="ced-"]')]
      .map((el) => `${el.className}@${el.closest('[style*="top"]')?.style.top || ''}:${el.style.left || ''}:${el.style.width || ''}`).sort().join('|');
    const state = { before: sigOf(), t0: 0, t1: 0 };
    window.__e2eTints = state;
    window.addEventListener('mousedown', () => { if (!state.t0) state.t0 = performance.now(); }, { capture: true, once: true });
    const obs = new MutationObserver(() => {
      if (!state.t0 || state.t1) return;
      if (sigOf() !== state.before) { state.t1 = performance.now(); obs.disconnect(); }
    });
    obs.observe(ed, { subtree: true, childList: true, attributes: true, attributeFilter: ['class', 'style'] });
    state.stop = () => obs.disconnect();
  });
  await page.mouse.click(rect.cx, rect.cy);
  const handle = await page.waitForFunction(() => window.__e2eTints && window.__e2eTints.t1 > 0 && window.__e2eTints.t1 - window.__e2eTints.t0, null, { timeout, polling: 50 })
    .catch(async (e) => { await page.evaluate(() => window.__e2eTints?.stop?.()); throw new Error(`tints did not change within ${timeout} ms after moving the cursor`); });
  return Math.round(await handle.jsonValue());
}


// The "Draws most on" rows of a hover card by their heading (`definitions`, `blocks of lines`,
// `lines`, `identifiers`, `other files`): each row's text, the code spans it names and its links.
export async function unitRows(card) {
  return card.evaluate((el) => Object.fromEntries([...el.querySelectorAll('li')].map((li) => {
    const text = li.innerText.replace(/\s+/g, ' ').trim();
    const head = /^([^:]+):/.exec(text)?.[1] ?? text;
    return [head, {
      text,
      codes: [...li.querySelectorAll('code')].map((c) => c.textContent),
      links: [...li.querySelectorAll('a')].map((a) => ({ text: a.textContent, href: a.getAttribute('href') || a.dataset.href || '' })),
    }];
  })));
}
