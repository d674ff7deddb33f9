/** A table of attention differences; rows reveal their line when clicked. */
import * as vscode from 'vscode';
import { formatWeight } from '../core/buckets';
import type { LineDelta, TargetDelta } from '../core/compare';
import { escapeHtml } from '../core/html';
import { isCompareMessage, type CompareMessage } from '../core/messages';
import { tokenLabel, type TokenText } from '../core/ranges';
import { editorFor } from '../reveal';
import { Panel } from './panel';

export interface CompareReport {
  title: string;
  currentLabel: string;
  otherLabel: string;
  currentToken: TokenText;
  otherToken: TokenText;
  settingsLabel: string;
  targets: TargetDelta[];
  lines: LineDelta[];
  currentUri: vscode.Uri;
  otherUri: vscode.Uri;
  notes: string[];
}

const MAX_ROWS = 60;

function signed(delta: number): string {
  const text = formatWeight(Math.abs(delta));
  return delta > 0 ? `+${text}` : delta < 0 ? `−${text}` : text;
}

function deltaClass(delta: number): string {
  return delta > 0 ? 'up' : delta < 0 ? 'down' : '';
}

export function compareBody(r: CompareReport): string {
  const e = escapeHtml;
  const rows = r.targets
    .slice(0, MAX_ROWS)
    .map((t) => {
      const side = t.current ? 'current' : 'other';
      const line = (t.current ?? t.other)?.range.start.line ?? 0;
      const where = t.current ? `${t.current.range.start.line + 1}` : `(${r.otherLabel}) ${line + 1}`;
      return `<tr data-line="${line}" data-side="${side}" tabindex="0">
        <td class="token"><code>${e(tokenLabel(t, 48))}</code></td>
        <td class="num">${e(where)}</td>
        <td class="num">${e(formatWeight(t.otherWeight))}</td>
        <td class="num">${e(formatWeight(t.currentWeight))}</td>
        <td class="num ${deltaClass(t.delta)}">${e(signed(t.delta))}</td>
      </tr>`;
    })
    .join('\n');
  const lineRows = r.lines
    .slice(0, 20)
    .map(
      (l) => `<tr data-line="${l.line}" data-side="current" tabindex="0">
        <td class="num">${l.line + 1}</td>
        <td class="num">${l.otherLine === undefined ? '—' : l.otherLine + 1}</td>
        <td class="num">${e(formatWeight(l.other))}</td>
        <td class="num">${e(formatWeight(l.current))}</td>
        <td class="num ${deltaClass(l.delta)}">${e(signed(l.delta))}</td>
      </tr>`,
    )
    .join('\n');
  const notes = r.notes.map((n) => `<p class="note">${e(n)}</p>`).join('\n');
  return `
<h1>${e(r.title)}</h1>
<p class="summary">Query token: <code>${e(tokenLabel(r.otherToken))}</code> in <b>${e(r.otherLabel)}</b> vs
<code>${e(tokenLabel(r.currentToken))}</code> in <b>${e(r.currentLabel)}</b> · ${e(r.settingsLabel)}</p>
${notes}
<h2>Tokens</h2>
<table id="targets">
  <thead><tr><th>Token</th><th>Line</th><th>${e(r.otherLabel)}</th><th>${e(r.currentLabel)}</th><th>Change</th></tr></thead>
  <tbody>${rows || '<tr><td colspan="5">No attention on either side.</td></tr>'}</tbody>
</table>
<h2>Lines</h2>
<table id="lines">
  <thead><tr><th>Line</th><th>${e(r.otherLabel)} line</th><th>${e(r.otherLabel)}</th><th>${e(r.currentLabel)}</th><th>Change</th></tr></thead>
  <tbody>${lineRows || '<tr><td colspan="5">No line weights.</td></tr>'}</tbody>
</table>
<p class="hint">Green tints in the editor: tokens that gained attention; red: tokens that lost it. They show until this panel closes, the file is analysed again, "Atten-Scope: Toggle Heat Mode" runs in that editor, or "Atten-Scope: Clear" runs; other editors keep their own tints.</p>`;
}

const VIEW_TYPE = 'attenScope.compare';

export class ComparePanel extends Panel<CompareMessage, never> {
  /** A new comparison replaces the shown one: a report is not updated in place. */
  static show(extensionUri: vscode.Uri, report: CompareReport, log: vscode.LogOutputChannel, onClose: () => void): void {
    new ComparePanel(extensionUri, report, log, onClose);
  }

  static close(): void {
    Panel.opened(VIEW_TYPE)?.dispose();
  }

  private constructor(
    extensionUri: vscode.Uri,
    private readonly report: CompareReport,
    log: vscode.LogOutputChannel,
    private readonly onClose: () => void,
  ) {
    super(
      extensionUri,
      {
        viewType: VIEW_TYPE,
        title: `Compare: ${report.title}`,
        preserveFocus: true,
        page: { title: 'Atten-Scope comparison', script: 'compare.js', styles: ['webview.css', 'compare.css'], body: compareBody(report) },
        accepts: isCompareMessage,
        name: 'the comparison',
      },
      log,
    );
  }

  protected async onMessage(message: CompareMessage): Promise<void> {
    if (message.type !== 'revealLine') {
      return;
    }
    const uri = message.side === 'current' ? this.report.currentUri : this.report.otherUri;
    const editor = await editorFor(uri, vscode.ViewColumn.One);
    const line = Math.min(message.line, editor.document.lineCount - 1);
    const range = editor.document.lineAt(line).range;
    editor.selection = new vscode.Selection(range.start, range.start);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  protected override onDispose(): void {
    this.onClose();
  }
}
