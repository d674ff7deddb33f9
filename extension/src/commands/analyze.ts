/** Analyze File: the active document, and in a diff editor the other side too. */
import * as vscode from 'vscode';
import { pickContextFiles } from '../contextFiles';
import { otherSide } from '../core/diff';
import { withEditor, type CommandFactory } from './context';

/** The other side of the diff editor showing `uri` in the active tab (a review's original or changed file). */
function diffPartner(uri: vscode.Uri): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (!(input instanceof vscode.TabInputTextDiff)) {
    return undefined;
  }
  return otherSide(input, uri);
}

/** Analyses the active document; in a diff editor both sides, so that a review shows heat on either side. */
export const analyzeFile: CommandFactory = ({ analyzer, updateNote }) =>
  withEditor(async (editor) => {
    const done = await analyzer.analyze(editor.document, { interactive: true });
    const other = done ? diffPartner(editor.document.uri) : undefined;
    if (other) {
      await analyzer.analyze(await vscode.workspace.openTextDocument(other), { interactive: true });
    }
    updateNote();
  });

/**
 * Analyze With Context Files...: chooses the files the model reads before the active document
 * (workspace files, or its local imports), then analyses it with them; every later analysis of the
 * document (after an edit too) reads them again, until the files are chosen anew.
 */
export const analyzeWithContext: CommandFactory = ({ analyzer, updateNote }) =>
  withEditor(async (editor) => {
    const chosen = await pickContextFiles(editor.document, analyzer.context.get(editor.document));
    if (chosen === undefined) {
      return;
    }
    analyzer.context.set(editor.document, chosen);
    await analyzer.analyze(editor.document, { interactive: true });
    updateNote();
  });
