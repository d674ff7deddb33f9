/** The webview panels: one page skeleton (CSP with a nonce, local scripts and styles only) and how they open. */
import { randomFillSync } from 'node:crypto';
import * as vscode from 'vscode';
import { contentSecurityPolicy, escapeHtml, makeNonce } from '../core/html';

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    retainContextWhenHidden: true,
    localResourceRoots: [
      vscode.Uri.joinPath(extensionUri, 'extension', 'out', 'webview'),
      vscode.Uri.joinPath(extensionUri, 'extension', 'media'),
    ],
  };
}

export interface PageParts {
  title: string;
  /** bundle name in extension/out/webview */
  script: string;
  /** style sheets in extension/media */
  styles: string[];
  /** trusted HTML built by the caller (escape all data!) */
  body: string;
}

function pageHtml(webview: vscode.Webview, extensionUri: vscode.Uri, parts: PageParts): string {
  const nonce = makeNonce((b) => randomFillSync(b));
  const scriptUri = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'extension', 'out', 'webview', parts.script));
  const styleLinks = parts.styles
    .map((s) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'extension', 'media', s)))
    .map((uri) => `<link rel="stylesheet" href="${escapeHtml(uri.toString())}" nonce="${nonce}">`)
    .join('\n    ');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy(webview.cspSource, nonce))}">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    ${styleLinks}
    <title>${escapeHtml(parts.title)}</title>
  </head>
  <body>
    ${parts.body}
    <script nonce="${nonce}" src="${escapeHtml(scriptUri.toString())}"></script>
  </body>
</html>`;
}

/**
 * A webview panel beside the editor, showing the page ``parts`` (scripts enabled, local resources
 * only, kept alive while hidden).
 */
export function createPanel(
  viewType: string,
  title: string,
  preserveFocus: boolean,
  extensionUri: vscode.Uri,
  parts: PageParts,
): vscode.WebviewPanel {
  const panel = vscode.window.createWebviewPanel(
    viewType,
    title,
    { viewColumn: vscode.ViewColumn.Beside, preserveFocus },
    webviewOptions(extensionUri),
  );
  panel.webview.html = pageHtml(panel.webview, extensionUri, parts);
  return panel;
}
