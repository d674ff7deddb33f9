/**
 * A pinned hover card: the card as Markdown for a review, rendered in a panel of its own that
 * keeps it while the cursor moves on (one panel per pin), with a Copy as Markdown button.
 */
import * as vscode from 'vscode';
import { errorMessage } from '../core/async';
import { isCopyCardMessage, type ToPinnedCard } from '../core/hoverCard';
import { escapeHtml } from '../core/html';
import { createPanel } from './html';

const VIEW_TYPE = 'attenScope.pinnedHoverCard';

/** HTML of `markdown` as the editor's Markdown preview renders it; the text itself where that is not there. */
async function rendered(markdown: string, log: vscode.LogOutputChannel): Promise<string> {
  try {
    const html = await vscode.commands.executeCommand<unknown>('markdown.api.render', markdown);
    if (typeof html === 'string' && html.trim()) {
      return html;
    }
  } catch (error) {
    log.info(`Pin Hover Card: the Markdown renderer is not there (${errorMessage(error)}); showing the text.`);
  }
  return `<pre class="plain">${escapeHtml(markdown)}</pre>`;
}

/**
 * Opens a panel beside the editor titled `title` that shows `markdown` (the card exported for a
 * review: built from the server's card, whose data sits in code spans, and a header whose names
 * are code spans; the page's policy runs no script but its own).
 */
export async function showPinnedCard(extensionUri: vscode.Uri, log: vscode.LogOutputChannel, title: string, markdown: string): Promise<void> {
  const body = `
<div id="toolbar">
  <button id="copy" title="Copy the card as Markdown, with a header naming the file, the line and the model">Copy as Markdown</button>
  <span id="status" role="status"></span>
</div>
<article id="card">${await rendered(markdown, log)}</article>`;
  const panel = createPanel(VIEW_TYPE, title, true, extensionUri, {
    title,
    script: 'pinnedCard.js',
    styles: ['webview.css', 'pinnedCard.css'],
    body,
  });
  panel.iconPath = vscode.Uri.joinPath(extensionUri, 'extension', 'media', 'icon.png');
  const post = (message: ToPinnedCard): void => void panel.webview.postMessage(message);
  const messages = panel.webview.onDidReceiveMessage(async (raw: unknown) => {
    if (!isCopyCardMessage(raw)) {
      log.warn('Ignored a malformed message from a pinned hover card.');
      return;
    }
    try {
      await vscode.env.clipboard.writeText(markdown);
      post({ type: 'copied' });
    } catch (error) {
      log.warn(`Pin Hover Card: copying failed: ${errorMessage(error)}`);
      post({ type: 'copyFailed', message: errorMessage(error) });
    }
  });
  panel.onDidDispose(() => {
    messages.dispose();
  });
}
