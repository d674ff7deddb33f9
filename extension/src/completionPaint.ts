/**
 * What "Complete Here and Explain" paints in the editor: the completion as faded ghost text after
 * the cursor, and the lines that drove it (the attention tints' colour scale for lines that raised
 * its probability, a blue bar for lines that lowered it).
 */
import * as vscode from 'vscode';
import { BUCKET_COUNT } from './core/buckets';
import { previewText, scoreTints } from './core/completion';
import type { AttributionLine } from './core/protocolViews';
import { COMPLETION_PREVIEW_CONTEXT } from './constants';

export class CompletionPaint implements vscode.Disposable {
  private readonly ghostType = vscode.window.createTextEditorDecorationType({
    after: { color: new vscode.ThemeColor('editorGhostText.foreground'), fontStyle: 'italic' },
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  /** gutter heat and overview ruler of a line that raised the completion's probability */
  private readonly raisedTypes: vscode.TextEditorDecorationType[];
  /** its whole-line tint, left off while a token's sources are tinted (the same colours) */
  private readonly raisedFillTypes: vscode.TextEditorDecorationType[];
  private readonly loweredTypes: vscode.TextEditorDecorationType[];
  /** the editors painted, so a clear reaches them even when hidden since */
  private readonly painted = new Set<vscode.TextEditor>();

  constructor(extensionUri: vscode.Uri) {
    this.raisedFillTypes = Array.from({ length: BUCKET_COUNT }, (_, b) =>
      vscode.window.createTextEditorDecorationType({ isWholeLine: true, backgroundColor: new vscode.ThemeColor(`attenScope.weight${b + 1}`) }),
    );
    this.raisedTypes = Array.from({ length: BUCKET_COUNT }, (_, b) =>
      vscode.window.createTextEditorDecorationType({
        isWholeLine: true,
        gutterIconPath: vscode.Uri.joinPath(extensionUri, 'extension', 'media', 'gutter', `heat${b + 1}.svg`),
        gutterIconSize: 'contain',
        overviewRulerColor: new vscode.ThemeColor(`attenScope.weight${b + 1}`),
        overviewRulerLane: vscode.OverviewRulerLane.Right,
      }),
    );
    // a line that lowered the completion's probability: a bar as thick as its bucket, never the warm scale
    this.loweredTypes = Array.from({ length: BUCKET_COUNT }, (_, b) =>
      vscode.window.createTextEditorDecorationType({
        isWholeLine: true,
        borderWidth: `0 0 0 ${b + 2}px`,
        borderStyle: 'solid',
        borderColor: new vscode.ThemeColor('attenScope.cursorTokenBorder'),
        overviewRulerColor: new vscode.ThemeColor('attenScope.cursorTokenBorder'),
        overviewRulerLane: vscode.OverviewRulerLane.Left,
      }),
    );
  }

  /** Shows `text` as ghost text at `position` and sets the context key that lets Escape dismiss it. */
  showPreview(editor: vscode.TextEditor, position: vscode.Position, text: string): void {
    const range = new vscode.Range(position, position);
    editor.setDecorations(this.ghostType, [{ range, renderOptions: { after: { contentText: previewText(text) } } }]);
    this.painted.add(editor);
    void vscode.commands.executeCommand('setContext', COMPLETION_PREVIEW_CONTEXT, true);
  }

  /**
   * Tints the scored lines (1-based, as the attribution gives them) in `editor`; `fill`: the whole
   * line too, not only the gutter and the bar.
   */
  paintLines(editor: vscode.TextEditor, lines: readonly AttributionLine[], fill = true): void {
    const tints = scoreTints(lines.map((l) => l.score));
    const raised: vscode.Range[][] = Array.from({ length: BUCKET_COUNT }, () => []);
    const lowered: vscode.Range[][] = Array.from({ length: BUCKET_COUNT }, () => []);
    lines.forEach((l, i) => {
      const tint = tints[i];
      const line = l.line - 1;
      if (tint && line < editor.document.lineCount) {
        (tint.sign === 'pos' ? raised : lowered)[tint.bucket].push(new vscode.Range(line, 0, line, 0));
      }
    });
    raised.forEach((ranges, b) => {
      editor.setDecorations(this.raisedTypes[b], ranges);
      editor.setDecorations(this.raisedFillTypes[b], fill ? ranges : []);
    });
    lowered.forEach((ranges, b) => editor.setDecorations(this.loweredTypes[b], ranges));
    this.painted.add(editor);
  }

  /** Removes the ghost text (the line tints stay: the panel still explains them). */
  clearPreview(): void {
    for (const editor of this.painted) {
      editor.setDecorations(this.ghostType, []);
    }
    void vscode.commands.executeCommand('setContext', COMPLETION_PREVIEW_CONTEXT, false);
  }

  /** Removes everything this painted. */
  clearAll(): void {
    this.clearPreview();
    for (const editor of this.painted) {
      for (const type of [...this.raisedTypes, ...this.raisedFillTypes, ...this.loweredTypes]) {
        editor.setDecorations(type, []);
      }
    }
    this.painted.clear();
  }

  dispose(): void {
    for (const type of [this.ghostType, ...this.raisedTypes, ...this.raisedFillTypes, ...this.loweredTypes]) {
      type.dispose();
    }
  }
}
