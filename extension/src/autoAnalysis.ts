/**
 * Analysis without a command: documents shown while attenScope.autoAnalyze is on, analysed
 * documents again after an edit (small ones by default), and every analysed document again with
 * a new model.
 */
import * as vscode from 'vscode';
import type { AnalysisStore } from './analyses';
import type { Analyzer } from './analyze';
import { REANALYZE_IDLE_MS, REANALYZE_MAX_TOKENS } from './constants';
import { Debouncer } from './core/async';
import { modelChanged } from './core/settings';
import type { Painter } from './decorations';
import type { SettingsService } from './settings';

/** Documents analysed automatically: real files and untitled buffers of a sane size. */
function canAutoAnalyze(document: vscode.TextDocument): boolean {
  return (
    (document.uri.scheme === 'file' || document.uri.scheme === 'untitled') &&
    document.getText().length < 2_000_000 &&
    !['log', 'Log', 'binary'].includes(document.languageId)
  );
}

export class AutoAnalysis implements vscode.Disposable {
  private readonly reanalyze = new Map<string, Debouncer>();
  /** analysed with a model that is no longer in use */
  private readonly stale = new Set<string>();
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly settings: SettingsService,
    private readonly store: AnalysisStore,
    private readonly analyzer: Analyzer,
    private readonly painter: Painter,
  ) {
    this.disposables = [
      vscode.window.onDidChangeActiveTextEditor((editor) => editor && this.autoAnalyze(editor.document)),
      vscode.workspace.onDidSaveTextDocument((document) => this.autoAnalyze(document)),
      vscode.workspace.onDidChangeTextDocument((e) => this.onEdit(e)),
      vscode.workspace.onDidCloseTextDocument((document) => {
        const key = document.uri.toString();
        this.reanalyze.get(key)?.dispose();
        this.reanalyze.delete(key);
        store.delete(document.uri);
      }),
      settings.onDidChange(({ before, after }) => {
        if (!before.autoAnalyze && after.autoAnalyze) {
          vscode.window.visibleTextEditors.forEach((e) => this.autoAnalyze(e.document));
        }
        if (modelChanged(before, after)) {
          this.changeModel();
        }
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => editor && this.reanalyzeIfStale(editor.document)),
    ];
  }

  /** Analyses the visible documents when attenScope.autoAnalyze is on. */
  start(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      this.autoAnalyze(editor.document);
    }
  }

  private autoAnalyze(document: vscode.TextDocument): void {
    if (this.settings.effective.autoAnalyze && canAutoAnalyze(document) && !this.analyzer.isAnalyzing(document.uri)) {
      if (this.store.current(document)) {
        return;
      }
      void this.analyzer.analyze(document, { interactive: false });
    }
  }

  /**
   * Decided from measurement: a small file follows edits (about a second per re-analysis on two
   * cores), a large one keeps its attention above the edit and offers Re-analyse (StaleMarker).
   */
  private followsEdits(tokens: number): boolean {
    const s = this.settings.effective;
    return s.autoAnalyze || (s.reanalyzeAfterEdit && tokens <= REANALYZE_MAX_TOKENS);
  }

  private onEdit(e: vscode.TextDocumentChangeEvent): void {
    const entry = this.store.get(e.document.uri);
    if (e.contentChanges.length === 0 || !entry || !this.followsEdits(entry.result.tokens)) {
      return;
    }
    const key = e.document.uri.toString();
    let debouncer = this.reanalyze.get(key);
    if (!debouncer) {
      debouncer = new Debouncer(REANALYZE_IDLE_MS);
      this.reanalyze.set(key, debouncer);
    }
    debouncer.schedule(() => this.reanalyzeAfterEdit(e.document));
  }

  private reanalyzeAfterEdit(document: vscode.TextDocument): void {
    const entry = this.store.get(document.uri);
    if (entry && this.followsEdits(entry.result.tokens) && this.store.isOutdated(document) && !this.analyzer.isAnalyzing(document.uri) && !document.isClosed) {
      void this.analyzer.analyze(document, { interactive: false });
    }
  }

  /**
   * The server dropped its analyses with the old model: the analysed documents are analysed again
   * with the new one, the visible ones now and the others when they are shown.
   */
  private changeModel(): void {
    for (const uri of this.store.uris()) {
      this.stale.add(uri);
    }
    this.store.clear();
    this.painter.clearAll();
    vscode.window.visibleTextEditors.forEach((e) => this.reanalyzeIfStale(e.document));
  }

  private reanalyzeIfStale(document: vscode.TextDocument): void {
    if (this.stale.delete(document.uri.toString())) {
      void this.analyzer.analyze(document, { interactive: false });
    }
  }

  dispose(): void {
    vscode.Disposable.from(...this.disposables).dispose();
    this.reanalyze.forEach((d) => d.dispose());
  }
}
