/** The status line every webview shows: progress, a failure, or the caption of the data on screen. */
import type { ErrorMessage, LoadingMessage } from '../core/viewMessages';

/** Loading or failed: the text, and a body class the page's CSS dims or marks the view with. */
export function showProgress(statusText: HTMLElement, message: LoadingMessage | ErrorMessage): void {
  statusText.textContent = message.type === 'loading' ? message.text : message.message;
  document.body.classList.toggle('loading', message.type === 'loading');
  document.body.classList.toggle('failed', message.type === 'error');
}

/** Data arrived: clear the loading and failed states and caption it. */
export function showCaption(statusText: HTMLElement, caption: string): void {
  document.body.classList.remove('loading', 'failed');
  statusText.textContent = caption;
}
