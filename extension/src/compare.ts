/** Compare With...: the saved file against the editor buffer, or two selections. */
import * as vscode from 'vscode';
import type { AnalysisStore } from './analyses';
import type { Analyzer } from './analyze';
import type { ServerClient } from './client';
import { COMPARE_TIMEOUT_MS, COMPARE_TOP_K } from './constants';
import { errorMessage } from './core/async';
import { diffLines, diffTargets, mapLines, positionKey, splitLines, textOccurrenceKeys, type TargetDelta } from './core/compare';
import { viewLabel } from './core/format';
import type { AttentionResult } from './core/protocol';
import { failureOf, Requests } from './core/requests';
import { positionBefore } from './core/ranges';
import { attentionParams } from './cursor';
import { toVsRange, type Painter } from './decorations';
import type { Painting } from './painting';
import { ComparePanel, type CompareReport } from './panels/comparePanel';
import { SavedContentProvider } from './savedContent';
import type { SettingsService } from './settings';

export interface CompareDeps {
  extensionUri: vscode.Uri;
  server: ServerClient;
  store: AnalysisStore;
  analyzer: Analyzer;
  settings: SettingsService;
  painter: Painter;
  painting: Painting;
  log: vscode.LogOutputChannel;
}

interface Mark {
  uri: vscode.Uri;
  selection: vscode.Selection;
  label: string;
}

/** Changes smaller than this (absolute weight) are not tinted. */
const MIN_DELTA = 0.002;

export class Comparer {
  private mark: Mark | undefined;

  constructor(private readonly deps: CompareDeps) {}

  markSelection(editor: vscode.TextEditor): void {
    const sel = editor.selection;
    const name = vscode.workspace.asRelativePath(editor.document.uri, false);
    const label = `${name}:${sel.start.line + 1}:${sel.start.character + 1}${sel.isEmpty ? '' : `-${sel.end.line + 1}:${sel.end.character + 1}`}`;
    this.mark = { uri: editor.document.uri, selection: sel, label };
    void vscode.window.showInformationMessage(`Atten-Scope: marked ${label} for comparison.`);
  }

  async pick(editor: vscode.TextEditor): Promise<void> {
    type Item = vscode.QuickPickItem & { id: 'saved' | 'mark' | 'marked' };
    const items: Item[] = [
      {
        id: 'saved',
        label: '$(file) Saved version on disk',
        description: editor.document.isDirty ? 'unsaved changes in the editor' : 'the editor matches the file',
        detail: "Attention of the cursor token in the editor buffer vs the file's saved content.",
      },
    ];
    if (this.mark) {
      items.push({
        id: 'marked',
        label: '$(selection) Marked selection',
        description: this.mark.label,
        detail: 'Attention of the last token of the current selection vs that of the marked selection.',
      });
    }
    items.push({
      id: 'mark',
      label: '$(pin) Mark the current selection',
      detail: 'Remember this selection; choose "Marked selection" later from another place or file.',
    });
    const choice = await vscode.window.showQuickPick(items, { title: 'Atten-Scope: Compare With...', placeHolder: 'What to compare with' });
    switch (choice?.id) {
      case 'saved':
        await this.withSaved(editor);
        break;
      case 'marked':
        await this.withMark(editor);
        break;
      case 'mark':
        this.markSelection(editor);
        break;
    }
  }

  private async ensureAnalysed(document: vscode.TextDocument): Promise<boolean> {
    if (this.deps.store.current(document)) {
      return true;
    }
    const result = await this.deps.analyzer.analyze(document, { interactive: true });
    return result?.version === document.version;
  }

  private attention(document: vscode.TextDocument, position: vscode.Position, token: vscode.CancellationToken): Promise<AttentionResult> {
    const params = attentionParams(document.uri, position, this.deps.settings.effective, COMPARE_TOP_K);
    return this.deps.server.request(Requests.attention, params, token, { timeoutMs: COMPARE_TIMEOUT_MS });
  }

  /** Editor buffer vs the saved file. */
  async withSaved(editor: vscode.TextEditor): Promise<void> {
    const current = editor.document;
    if (current.uri.scheme !== 'file') {
      void vscode.window.showWarningMessage('Atten-Scope: only files saved on disk can be compared with their saved version.');
      return;
    }
    let saved: vscode.TextDocument;
    try {
      saved = await vscode.workspace.openTextDocument(SavedContentProvider.uriFor(current.uri));
    } catch (error) {
      void vscode.window.showErrorMessage(`Atten-Scope: cannot read the saved file: ${errorMessage(error)}`);
      return;
    }
    const currentLines = splitLines(current.getText());
    const savedLines = splitLines(saved.getText());
    const lineMap = mapLines(currentLines, savedLines);
    const cursor = editor.selection.active;
    const savedLine = lineMap[cursor.line];
    if (savedLine === undefined) {
      void vscode.window.showWarningMessage(
        "Atten-Scope: the cursor's line changed since the last save. Put the cursor on a line that exists in both versions.",
      );
      return;
    }
    if (current.getText() === saved.getText()) {
      void vscode.window.showInformationMessage('Atten-Scope: the editor matches the saved file; there is nothing to compare.');
      return;
    }
    const notes: string[] = [];
    const savedPosition = new vscode.Position(savedLine, Math.min(cursor.character, savedLines[savedLine]?.length ?? 0));
    await this.run(editor, {
      title: vscode.workspace.asRelativePath(current.uri, false),
      currentLabel: 'editor',
      otherLabel: 'saved',
      other: saved,
      currentPosition: cursor,
      otherPosition: savedPosition,
      keys: () => {
        const mapLine = (line: number) => lineMap[line];
        return [(t) => positionKey(t, mapLine), (t) => positionKey(t)] as const;
      },
      sameDocument: false,
      notes,
    });
  }

  /** The last token of the current selection vs the last token of the marked one. */
  async withMark(editor: vscode.TextEditor): Promise<void> {
    const mark = this.mark;
    if (!mark) {
      return;
    }
    let other: vscode.TextDocument;
    try {
      other = await vscode.workspace.openTextDocument(mark.uri);
    } catch (error) {
      void vscode.window.showErrorMessage(`Atten-Scope: cannot open the marked document: ${errorMessage(error)}`);
      return;
    }
    const lastTokenPosition = (doc: vscode.TextDocument, sel: vscode.Selection): vscode.Position => {
      if (sel.isEmpty) {
        return sel.active;
      }
      const lines = splitLines(doc.getText());
      const p = positionBefore({ line: sel.end.line, character: sel.end.character }, lines);
      return doc.validatePosition(new vscode.Position(p.line, p.character));
    };
    const same = other.uri.toString() === editor.document.uri.toString();
    await this.run(editor, {
      title: same ? vscode.workspace.asRelativePath(editor.document.uri, false) : 'two selections',
      currentLabel: 'selection',
      otherLabel: 'marked',
      other,
      currentPosition: lastTokenPosition(editor.document, editor.selection),
      otherPosition: lastTokenPosition(other, mark.selection),
      keys: (cur, oth) => {
        if (same) {
          return [(t) => `#${t.index}`, (t) => `#${t.index}`] as const;
        }
        const a = textOccurrenceKeys(cur);
        const b = textOccurrenceKeys(oth);
        return [(t) => a.get(t), (t) => b.get(t)] as const;
      },
      sameDocument: same,
      notes: same ? [] : ['The selections are in different documents: tokens are matched by their text.'],
    });
  }

  private async run(
    editor: vscode.TextEditor,
    spec: {
      title: string;
      currentLabel: string;
      otherLabel: string;
      other: vscode.TextDocument;
      currentPosition: vscode.Position;
      otherPosition: vscode.Position;
      keys: (
        current: AttentionResult['targets'],
        other: AttentionResult['targets'],
      ) => readonly [(t: AttentionResult['targets'][number]) => string | undefined, (t: AttentionResult['targets'][number]) => string | undefined];
      sameDocument: boolean;
      notes: string[];
    },
  ): Promise<void> {
    const current = editor.document;
    if (!(await this.ensureAnalysed(current)) || !(await this.ensureAnalysed(spec.other))) {
      return;
    }
    const outcome = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Atten-Scope: comparing…', cancellable: true },
      async (_progress, token) => {
        try {
          const [a, b] = await Promise.all([
            this.attention(current, spec.currentPosition, token),
            this.attention(spec.other, spec.otherPosition, token),
          ]);
          return { a, b };
        } catch (error) {
          if (failureOf(error) === 'notAnalysed') {
            // the server dropped an analysis (restart, cache eviction): the next try analyses again
            this.deps.store.delete(current.uri);
            this.deps.store.delete(spec.other.uri);
          }
          if (!token.isCancellationRequested) {
            void vscode.window.showErrorMessage(`Atten-Scope: comparison failed: ${errorMessage(error)}`);
          }
          return undefined;
        }
      },
    );
    if (outcome?.a.version !== current.version) {
      return;
    }
    const { a, b } = outcome;
    const [keyA, keyB] = spec.keys(a.targets, b.targets);
    const targets = diffTargets(a.targets, b.targets, keyA, keyB);
    const mapLine = spec.sameDocument ? (l: number) => l : this.lineMapper(current, spec.other);
    const lines = diffLines(a.lines, b.lines, mapLine);
    const settings = this.deps.settings.effective;
    const report: CompareReport = {
      title: spec.title,
      currentLabel: spec.currentLabel,
      otherLabel: spec.otherLabel,
      currentToken: a.token ?? { text: '' },
      otherToken: b.token ?? { text: '' },
      settingsLabel: viewLabel(settings),
      targets,
      lines,
      currentUri: current.uri,
      otherUri: spec.other.uri,
      notes: spec.notes,
    };
    // the tints show while the panel is open; the comparison it replaces closes first, ending its own
    ComparePanel.show(this.deps.extensionUri, report, this.deps.log, () => tints.leave());
    const tints = this.deps.painting.enter(current, 'compare', { paint: (e) => this.paint(e, targets, spec.sameDocument) });
  }

  private lineMapper(current: vscode.TextDocument, other: vscode.TextDocument): (line: number) => number | undefined {
    const map = mapLines(splitLines(current.getText()), splitLines(other.getText()));
    return (line) => map[line];
  }

  private paint(editor: vscode.TextEditor, deltas: TargetDelta[], sameDocument: boolean): void {
    const doc = editor.document;
    const up: vscode.Range[] = [];
    const down: vscode.Range[] = [];
    for (const d of deltas) {
      if (Math.abs(d.delta) < MIN_DELTA) {
        continue;
      }
      const target = d.current ?? (sameDocument ? d.other : undefined);
      const range = target && toVsRange(doc, target.range);
      if (range && !range.isEmpty) {
        (d.delta > 0 ? up : down).push(range);
      }
    }
    this.deps.painter.paintCompare(editor, up, down);
  }

  clear(): void {
    ComparePanel.close();
  }
}
