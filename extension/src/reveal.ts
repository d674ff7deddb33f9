/** Bringing tokens into view in an editor. */
import * as vscode from 'vscode';
import type { TokenRef } from './core/protocol';
import { toVsRange, type Painter } from './decorations';

/** The visible editor of `uri`, or a newly shown one (in `column` when given). */
export async function editorFor(uri: vscode.Uri, column?: vscode.ViewColumn): Promise<vscode.TextEditor> {
  const visible = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === uri.toString());
  if (visible) {
    return vscode.window.showTextDocument(visible.document, { viewColumn: visible.viewColumn, preserveFocus: false });
  }
  const document = await vscode.workspace.openTextDocument(uri);
  return vscode.window.showTextDocument(document, { viewColumn: column ?? vscode.ViewColumn.One, preserveFocus: false });
}

/**
 * Selects `select` with the cursor at its start (so the cursor's token is that token), and
 * scrolls so that `also` is visible too when both fit.
 */
export function selectToken(editor: vscode.TextEditor, select: vscode.Range, also?: vscode.Range): void {
  editor.selection = new vscode.Selection(select.end, select.start);
  const span = also ? select.union(also) : select;
  const visibleLines = editor.visibleRanges.reduce((n, r) => n + (r.end.line - r.start.line + 1), 0) || 30;
  if (span.end.line - span.start.line < visibleLines - 2) {
    editor.revealRange(span, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  } else {
    editor.revealRange(select, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }
}

/**
 * Shows `token` of the document `uri` in its editor (the first column when none shows it) and
 * flashes it; a token of a context file read before the document (its `uri` set) in that file.
 */
export async function showToken(uri: vscode.Uri, token: TokenRef, painter: Painter): Promise<void> {
  const editor = await editorFor(token.uri ? vscode.Uri.parse(token.uri) : uri, vscode.ViewColumn.One);
  const range = toVsRange(editor.document, token.range);
  if (range) {
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    painter.flash(editor, range);
  }
}
