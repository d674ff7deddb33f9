/**
 * After an edit: dims the part of each visible document edited since its analysis (the part
 * before it still shows its attention, exactly) and offers the re-analysis in the status bar.
 */
import * as vscode from 'vscode';
import type { AnalysisStore } from './analyses';
import { Commands } from './constants';
import { unchangedBefore } from './core/staleness';

/** Where the part of `document` that still shows its attention ends: "line 3" or "line 3, column 9". */
export function keptBefore(document: vscode.TextDocument, from: vscode.Position): string {
  const rest = from.line < document.lineCount ? document.lineAt(from.line).text.slice(from.character) : '';
  return unchangedBefore(from, rest);
}

export class StaleMarker implements vscode.Disposable {
  private readonly dimType = vscode.window.createTextEditorDecorationType({
    opacity: '0.55',
    overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.modifiedForeground'),
    overviewRulerLane: vscode.OverviewRulerLane.Left,
  });
  private readonly item = vscode.window.createStatusBarItem('attenScope.reanalyse', vscode.StatusBarAlignment.Right, 99);
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly store: AnalysisStore,
    private readonly isAnalyzing: (uri: vscode.Uri) => boolean,
  ) {
    this.item.name = 'Atten-Scope: Re-analyse';
    this.item.command = Commands.analyzeFile;
    this.disposables.push(
      this.dimType,
      this.item,
      store.onDidChange(() => this.refresh()),
      store.onDidChangeStale(() => this.refresh()),
      vscode.window.onDidChangeActiveTextEditor(() => this.refresh()),
      vscode.window.onDidChangeVisibleTextEditors(() => this.refresh()),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0 && store.get(e.document.uri)) {
          this.refresh();
        }
      }),
    );
    this.refresh();
  }

  /** Repaints the marks and the status-bar item from the store. */
  refresh(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const from = this.store.stale(editor.document);
      const doc = editor.document;
      const end = doc.lineAt(doc.lineCount - 1).range.end;
      editor.setDecorations(this.dimType, from?.isBefore(end) ? [new vscode.Range(from, end)] : []);
    }
    const document = vscode.window.activeTextEditor?.document;
    if (!document || !this.store.isOutdated(document) || this.isAnalyzing(document.uri)) {
      this.item.hide();
      return;
    }
    const from = this.store.stale(document);
    this.item.text = '$(refresh) Re-analyse';
    const tooltip = new vscode.MarkdownString(undefined, true);
    tooltip.isTrusted = false;
    tooltip.appendMarkdown('**Atten-Scope**: the file changed since it was analysed.\n\n');
    tooltip.appendText(
      from
        ? `Tints and hovers still work before ${keptBefore(document, from)}: the model's state there is unchanged. The dimmed part needs a new analysis.`
        : 'Tints and hovers still work above the first edit: the model\'s state there is unchanged.',
    );
    tooltip.appendMarkdown('\n\nClick to analyse the file again (only the tokens from the first edit on are recomputed).');
    this.item.tooltip = tooltip;
    this.item.accessibilityInformation = { label: 'Atten-Scope: the file changed since it was analysed. Re-analyse.' };
    this.item.show();
  }

  dispose(): void {
    vscode.Disposable.from(...this.disposables).dispose();
  }
}
