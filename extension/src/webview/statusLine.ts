/** The status line every webview shows: progress, a failure, or the caption of the data on screen. */
import { isProgressMessage, type ErrorMessage, type LoadingMessage } from '../core/viewMessages';
import { host } from './vscodeApi';

/** Loading or failed: the text, and a body class the page's CSS dims or marks the view with. */
function showProgress(statusText: HTMLElement, message: LoadingMessage | ErrorMessage): void {
  statusText.textContent = message.type === 'loading' ? message.text : message.message;
  document.body.classList.toggle('loading', message.type === 'loading');
  document.body.classList.toggle('failed', message.type === 'error');
}

/** Data arrived: clear the loading and failed states and caption it. */
export function showCaption(statusText: HTMLElement, caption: string): void {
  document.body.classList.remove('loading', 'failed');
  statusText.textContent = caption;
}

/**
 * Listens to the extension: loading and error messages go to the status line, a data message
 * that `isData` accepts to `show` (anything else is ignored: the page trusts no shape). Then
 * tells the extension that the page is ready.
 */
export function listen<D extends { type: 'data' }>(
  statusText: HTMLElement,
  isData: (message: Record<string, unknown>) => boolean,
  show: (data: D) => void,
): void {
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    const message = event.data;
    if (isProgressMessage(message)) {
      showProgress(statusText, message);
    } else if (typeof message === 'object' && message !== null) {
      const m = message as Record<string, unknown>;
      if (m.type === 'data' && isData(m)) {
        show(m as unknown as D);
      }
    }
  });
  host().postMessage({ type: 'ready' });
}
