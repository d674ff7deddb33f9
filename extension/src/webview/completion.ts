/**
 * The Completion page: draws the view model the extension computed (core/completionView.ts) with
 * DOM nodes and text only (no markup from data), and sends back the clicks.
 */
import type { AttributionView, CompletionDataMessage, ScoredView } from '../core/completionView';
import { listen, showCaption } from './statusLine';
import { byId, host } from './vscodeApi';

const vscode = host();
/** whether the removals were on the page before this data: a new explanation is scrolled into view */
let explainShown = false;
/** the same for a regeneration's diff */
let diffShown = false;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function bar(fraction: number): HTMLElement {
  const outer = el('span', 'bar');
  const inner = el('span', 'fill');
  inner.style.width = `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
  outer.append(inner);
  return outer;
}

function drawTokens(data: CompletionDataMessage): void {
  const root = byId('tokens');
  root.replaceChildren();
  data.tokens.forEach((t, step) => {
    const chip = el('div', 'chip');
    chip.setAttribute('role', 'listitem');
    chip.classList.toggle('forced', t.forced);
    chip.classList.toggle('selected', t.selected);
    if (t.tint !== undefined) {
      chip.classList.add(`read${t.tint + 1}`);
    }
    const head = el('button', 'token');
    head.dataset.step = String(step);
    head.title = `${t.forced ? 'forced (a branch); ' : ''}probability ${t.probability}, entropy ${t.entropy}: click for the context it reads`;
    head.append(el('span', 'label', t.label), bar(t.bar), el('span', 'prob', t.probability));
    chip.append(head, el('div', 'entropy', `H ${t.entropy}`));
    const alts = el('ol', 'alternatives');
    t.alternatives.forEach((a, k) => {
      const item = el('li');
      const button = el('button', 'alt');
      button.dataset.step = String(step);
      button.dataset.alternative = String(k);
      button.disabled = !t.branchable;
      button.title = t.branchable ? 'Branch: complete again from this alternative' : 'No branch here: the ids of the tokens before it are unknown';
      button.append(el('span', 'label', a.text), bar(a.bar), el('span', 'prob', a.probability));
      item.append(button);
      alts.append(item);
    });
    chip.append(alts);
    root.append(chip);
  });
  const attention = byId('attention');
  attention.textContent = data.attention ?? '';
}

function scoredList(title: string, items: ScoredView[]): HTMLElement {
  const box = el('div', 'scored');
  box.append(el('h3', undefined, title));
  if (!items.length) {
    box.append(el('p', 'hint', 'none'));
    return box;
  }
  const table = el('table');
  for (const item of items) {
    const row = el('tr');
    row.dataset.first = String(item.first);
    row.dataset.last = String(item.last);
    row.tabIndex = 0;
    row.title = 'Reveal in the editor';
    const swatch = el('td', `swatch${item.tint ? ` ${item.tint.sign}${item.tint.bucket + 1}` : ''}`);
    row.append(swatch, el('td', 'what', item.label), el('td', `num ${item.score.startsWith('-') ? 'neg' : 'pos'}`, item.score));
    table.append(row);
  }
  box.append(table);
  return box;
}

function drawAttribution(root: HTMLElement, heading: string, a: AttributionView, extra: string[]): void {
  root.replaceChildren(el('h2', undefined, heading));
  const meta = el('p', 'meta');
  meta.append(el('span', 'method', `method: ${a.method}`), el('span', 'lds', a.lds), el('span', 'total', a.total));
  root.append(meta);
  if (a.label) {
    root.append(el('p', 'hint', a.label));
  }
  for (const line of extra) {
    root.append(el('p', 'hint', line));
  }
  const lists = el('div', 'lists');
  lists.append(scoredList('Lines', a.lines), scoredList('Units', a.units));
  root.append(lists);
}

function draw(data: CompletionDataMessage): void {
  showCaption(byId('status'), data.caption);
  document.body.dataset.ready = 'true';
  const note = byId('note');
  note.hidden = !data.note;
  note.textContent = data.note ?? '';
  byId('text').textContent = data.text;
  drawTokens(data);
  const predicted = data.prediction;
  byId('prediction').hidden = !predicted;
  byId('completion').hidden = predicted !== undefined;
  for (const id of ['insert', 'explain', 'regenerate']) {
    byId(id).hidden = predicted !== undefined;
  }
  if (predicted) {
    byId('prediction-token').textContent = predicted.label;
    byId('prediction-probability').textContent = predicted.probability;
    byId('prediction-after').textContent = predicted.after;
  }
  const what = predicted ? 'predicted token' : 'completion';
  drawAttribution(byId('instant'), predicted ? 'The instant method' : 'What drove it', data.instant, [
    `Score: the estimated drop of the ${what}\u2019s log-probability without the line (nats). Warm lines raised it, blue ones lowered it.`,
  ]);
  const removals = byId('removals');
  // the prediction's answer is the removals: they come first there, after the instant method for a completion
  if (predicted) {
    byId('instant').before(removals);
  } else {
    byId('instant').after(removals);
  }
  if (data.explain) {
    drawAttribution(removals, predicted ? 'Which code this prediction needs: removals' : 'Explained with removals', data.explain.removals, [
      data.explain.instantLds,
      `Cost: ${data.explain.cost}.`,
    ]);
    if (!explainShown && !predicted) {
      removals.scrollIntoView({ block: 'start' });
    }
  } else {
    removals.replaceChildren();
  }
  explainShown = data.explain !== undefined;
  byId<HTMLButtonElement>('explain').disabled = data.explaining;
  byId('explain').textContent = data.explaining ? 'Explaining…' : 'Explain with removals';
  const regen = byId('regenerated');
  regen.hidden = !data.regenerate;
  byId('original').hidden = !data.regenerate;
  if (data.regenerate) {
    byId('regenerate-reason').textContent = `${data.regenerate.reason}${data.regenerate.same ? ': the same completion.' : ': struck through what went, marked what came.'}`;
    const pre = byId('diff');
    pre.replaceChildren(...data.regenerate.diff.map((p) => el(p.op === 'same' ? 'span' : p.op === 'removed' ? 'del' : 'ins', p.op, p.text)));
    if (!diffShown) {
      regen.scrollIntoView({ block: 'start' });
    }
  }
  diffShown = data.regenerate !== undefined;
}

document.addEventListener('click', (e) => {
  const target = e.target as HTMLElement;
  const alt = target.closest<HTMLButtonElement>('button.alt');
  if (alt && !alt.disabled) {
    vscode.postMessage({ type: 'branch', step: Number(alt.dataset.step), alternative: Number(alt.dataset.alternative) });
    return;
  }
  const token = target.closest<HTMLElement>('button.token');
  if (token) {
    vscode.postMessage({ type: 'selectToken', step: Number(token.dataset.step) });
    return;
  }
  const row = target.closest<HTMLElement>('tr[data-first]');
  if (row) {
    vscode.postMessage({ type: 'revealLines', first: Number(row.dataset.first), last: Number(row.dataset.last) });
    return;
  }
  const button = target.closest<HTMLButtonElement>('#toolbar button');
  if (button && !button.disabled) {
    vscode.postMessage({ type: button.id });
  }
});

listen<CompletionDataMessage>(byId('status'), (m) => Array.isArray(m.tokens) && typeof m.caption === 'string', draw);
