/** The model view webview: a layers x heads grid for the cursor token. */
import { formatWeight } from '../core/buckets';
import { cssColor } from '../core/colormap';
import { tokenLabel } from '../core/ranges';
import type { ModelViewCell, ModelViewDataMessage } from '../core/viewMessages';
import { listen, showCaption } from './statusLine';
import { byId, host } from './vscodeApi';

// this page's own elements: alike in shape to the other pages' lookups, not in what they find
const vscode = host();
const grid = byId<HTMLDivElement>('grid');
const statusText = byId<HTMLSpanElement>('status');
const metricWeight = byId<HTMLInputElement>('metric-weight');
const metricEntropy = byId<HTMLInputElement>('metric-entropy');
const resetButton = byId<HTMLButtonElement>('reset');

let payload: ModelViewDataMessage | undefined;

function selected(sel: 'all' | number[], value: number): boolean {
  return sel !== 'all' && sel.includes(value);
}

function cellIntensity(cell: ModelViewCell, metric: 'weight' | 'entropy', maxEntropy: number): number {
  if (metric === 'weight') {
    return Number.isFinite(cell.weight) ? Math.min(1, Math.max(0, cell.weight)) : 0;
  }
  // low entropy = focused head = hot
  if (!Number.isFinite(cell.entropy) || maxEntropy <= 0) {
    return 0;
  }
  return 1 - Math.min(1, Math.max(0, cell.entropy / maxEntropy));
}

function render(): void {
  const p = payload;
  if (!p) {
    return;
  }
  const metric = metricEntropy.checked ? 'entropy' : 'weight';
  const byKey = new Map<string, ModelViewCell>();
  let maxEntropy = 0;
  for (const c of p.cells) {
    byKey.set(`${c.layer}:${c.head}`, c);
    if (Number.isFinite(c.entropy)) {
      maxEntropy = Math.max(maxEntropy, c.entropy);
    }
  }
  const layers = Math.max(0, Math.min(p.layers, 1024));
  const heads = Math.max(0, Math.min(p.heads, 1024));
  grid.style.gridTemplateColumns = `auto repeat(${heads}, minmax(3.2em, 1fr))`;
  const children: HTMLElement[] = [document.createElement('div')];
  for (let h = 0; h < heads; h++) {
    const label = document.createElement('div');
    label.className = 'axis head-label';
    label.textContent = `H${h}`;
    children.push(label);
  }
  for (let l = 0; l < layers; l++) {
    const label = document.createElement('div');
    label.className = 'axis layer-label';
    label.textContent = `L${l}`;
    children.push(label);
    for (let h = 0; h < heads; h++) {
      const c = byKey.get(`${l}:${h}`);
      const cell = document.createElement('button');
      cell.className = 'cell';
      cell.dataset.layer = String(l);
      cell.dataset.head = String(h);
      if (selected(p.selected.layers, l) && selected(p.selected.heads, h)) {
        cell.classList.add('selected');
      }
      if (c) {
        const t = cellIntensity(c, metric, maxEntropy);
        cell.style.backgroundColor = cssColor(t);
        cell.style.color = t > 0.55 ? '#000' : '#fff';
        const text = c.top ? tokenLabel(c.top, 8) : '';
        cell.textContent = text;
        cell.title = `layer ${l}, head ${h}\ntop: ${c.top ? tokenLabel(c.top, 60) : 'none'} (${formatWeight(c.weight)})\nentropy: ${Number.isFinite(c.entropy) ? c.entropy.toFixed(2) : 'n/a'}\nshift-click: how the query and key make this weight (neuron view)`;
      } else {
        cell.disabled = true;
      }
      children.push(cell);
    }
  }
  grid.replaceChildren(...children);
}

grid.addEventListener('click', (e) => {
  const target = (e.target as HTMLElement).closest<HTMLElement>('.cell');
  if (!target || !payload) {
    return;
  }
  const layer = Number(target.dataset.layer);
  const head = Number(target.dataset.head);
  if (!Number.isInteger(layer) || !Number.isInteger(head)) {
    return;
  }
  const top = payload.cells.find((x) => x.layer === layer && x.head === head)?.top;
  if (e.shiftKey && top) {
    vscode.postMessage({ type: 'neuronView', layer, head, source: top.index });
  } else {
    vscode.postMessage({ type: 'selectHead', layer, head });
  }
});

grid.addEventListener('dblclick', (e) => {
  const target = (e.target as HTMLElement).closest<HTMLElement>('.cell');
  if (!target || !payload) {
    return;
  }
  const c = payload.cells.find((x) => x.layer === Number(target.dataset.layer) && x.head === Number(target.dataset.head));
  if (c?.top) {
    vscode.postMessage({ type: 'revealToken', index: c.top.index });
  }
});

metricWeight.addEventListener('change', render);
metricEntropy.addEventListener('change', render);
resetButton.addEventListener('click', () => vscode.postMessage({ type: 'resetHeads' }));

listen<ModelViewDataMessage>(
  statusText,
  (m) => Array.isArray(m.cells) && typeof m.layers === 'number' && typeof m.heads === 'number',
  (message) => {
    payload = message;
    showCaption(
      statusText,
      `${message.title} · ${tokenLabel(message.token)}${message.token.line >= 0 ? ` (line ${message.token.line + 1})` : ''} · ${message.refinement} · ${message.direction} · click a head to show only it, double-click to reveal its top token, shift-click for its neuron view`,
    );
    render();
    document.body.dataset.ready = 'true';
  },
);
