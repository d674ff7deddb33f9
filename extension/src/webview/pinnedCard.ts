/** The pinned hover card's page: its Copy as Markdown button and what the extension says of the copy. */
import { isToPinnedCard } from '../core/hoverCard';
import { byId, host } from './vscodeApi';

const vscode = host();
const statusText = byId<HTMLSpanElement>('status');
const copyButton = byId<HTMLButtonElement>('copy');

copyButton.addEventListener('click', () => {
  statusText.textContent = '';
  document.body.classList.remove('failed');
  vscode.postMessage({ type: 'copy' });
});

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const message = event.data;
  if (!isToPinnedCard(message)) {
    return;
  }
  document.body.classList.toggle('failed', message.type === 'copyFailed');
  statusText.textContent = message.type === 'copied' ? 'Copied as Markdown.' : `Not copied: ${message.message}`;
});
