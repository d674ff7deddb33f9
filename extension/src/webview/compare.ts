/** The comparison webview: rows are static HTML; a click reveals the row's line. */
import { host } from './vscodeApi';

const vscode = host();

document.addEventListener('click', (e) => {
  const row = (e.target as HTMLElement).closest<HTMLElement>('[data-line]');
  if (!row) {
    return;
  }
  const line = Number(row.dataset.line);
  const side = row.dataset.side === 'other' ? 'other' : 'current';
  if (Number.isSafeInteger(line) && line >= 0) {
    vscode.postMessage({ type: 'revealLine', side, line });
  }
});

vscode.postMessage({ type: 'ready' });
