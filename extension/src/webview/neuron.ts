/** The neuron view webview: one head's logit for one (query, source) pair, in parts. */
import type { NeuronDataMessage } from '../core/viewMessages';
import { listen, showCaption } from './statusLine';
import { byId, host } from './vscodeApi';

const vscode = host();
const statusText = byId<HTMLSpanElement>('status');
const tokenButton = byId<HTMLButtonElement>('token');
const sourceButton = byId<HTMLButtonElement>('source');
const lines = byId<HTMLUListElement>('lines');
const body = byId<HTMLTableElement>('parts').tBodies[0];

function numbers(values: number[]): string {
  return values.map((v) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a')).join(', ');
}

function cell(text: string, className?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) {
    td.className = className;
  }
  return td;
}

function bar(contribution: number, max: number): HTMLTableCellElement {
  const td = cell('', 'share');
  const fill = document.createElement('span');
  fill.className = contribution >= 0 ? 'bar positive' : 'bar negative';
  fill.style.width = `${Math.min(100, (100 * Math.abs(contribution)) / max).toFixed(1)}%`;
  const value = document.createElement('span');
  value.className = 'value';
  value.textContent = `${contribution >= 0 ? '+' : ''}${contribution.toFixed(3)}`;
  td.append(fill, value);
  return td;
}

function show(message: NeuronDataMessage): void {
  const { view } = message;
  tokenButton.textContent = `${message.token.label} (line ${message.token.line + 1})`;
  sourceButton.textContent = `${message.source.label} (line ${message.source.line + 1})`;
  lines.replaceChildren(
    ...view.lines.map((text) => {
      const li = document.createElement('li');
      li.textContent = text;
      return li;
    }),
  );
  const rows = view.parts.map((part) => {
    const tr = document.createElement('tr');
    tr.className = 'part';
    tr.append(
      cell(part.label),
      cell(numbers(part.query)),
      cell(numbers(part.key)),
      bar(part.contribution, view.scaleMax),
      cell(part.wavelength === undefined ? '' : `${part.wavelength < 1000 ? part.wavelength.toFixed(1) : part.wavelength.toExponential(1)} tokens`),
    );
    return tr;
  });
  if (view.rest.count > 0) {
    const tr = document.createElement('tr');
    tr.className = 'rest';
    tr.append(cell(`${view.rest.count} more parts`), cell(''), cell(''), bar(view.rest.contribution, view.scaleMax), cell(''));
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  showCaption(statusText, `${message.title} · layer ${message.layer}, head ${message.head} (key/value head ${message.kvHead})`);
  document.body.dataset.ready = 'true';
}

tokenButton.addEventListener('click', () => vscode.postMessage({ type: 'revealEnd', end: 'token' }));
sourceButton.addEventListener('click', () => vscode.postMessage({ type: 'revealEnd', end: 'source' }));

listen<NeuronDataMessage>(
  statusText,
  (m) => typeof m.layer === 'number' && typeof m.head === 'number' && typeof m.view === 'object' && m.view !== null,
  show,
);
