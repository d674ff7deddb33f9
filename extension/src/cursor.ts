/**
 * Follows the cursor: asks for the attention of the token under it and paints the answer; in the
 * surprise heat mode, paints every token's surprisal instead (asked once per document version).
 * It paints only a document that shows the heat: an overlay (painting.ts) is its owner's to paint.
 */
import * as vscode from 'vscode';
import type { AnalysisStore } from './analyses';
import type { ServerClient } from './client';
import { CURSOR_DEBOUNCE_MS } from './constants';
import { Debouncer, errorMessage, isStale, LatestOnly } from './core/async';
import type { AttentionParams, AttentionResult, Position } from './core/protocol';
import { isHeat } from './core/painting';
import { failureOf, Requests, staleDataOf } from './core/requests';
import type { Settings } from './core/settings';
import { surpriseTokens, type SurpriseToken } from './core/surprise';
import type { Painter } from './decorations';
import type { Painting } from './painting';
import type { SettingsService } from './settings';

export interface ShownAttention {
  uri: vscode.Uri;
  version: number;
  position: vscode.Position;
  result: AttentionResult;
  /** the settings the answer was asked with */
  settings: Settings;
}

export function toVsPosition(position: Position): vscode.Position {
  return new vscode.Position(position.line, position.character);
}

export function attentionParams(uri: vscode.Uri, position: vscode.Position, s: Settings, topK = s.topK): AttentionParams {
  return {
    textDocument: { uri: uri.toString() },
    position: { line: position.line, character: position.character },
    direction: s.direction,
    refinement: s.refinement,
    aggregate: s.aggregate,
    layers: s.layers,
    heads: s.heads,
    dropSink: s.dropSink,
    topK,
  };
}

/** Where the tracker is asking about: the active editor's cursor in an analysed document. */
export interface CursorTarget {
  uri: vscode.Uri;
  position: vscode.Position;
}

export class CursorTracker implements vscode.Disposable {
  private readonly debouncer = new Debouncer(CURSOR_DEBOUNCE_MS);
  private readonly latest = new LatestOnly(() => new vscode.CancellationTokenSource());
  private readonly disposables: vscode.Disposable[] = [];
  private readonly shownEmitter = new vscode.EventEmitter<ShownAttention | undefined>();
  private readonly targetEmitter = new vscode.EventEmitter<CursorTarget>();
  private shown: ShownAttention | undefined;
  /** the surprise of the document painted last, at its version */
  private surprise: { uri: string; version: number; tokens: readonly SurpriseToken[] } | undefined;
  private lastWarning = '';

  /** Fires after a new answer was painted (or the view was cleared). */
  readonly onDidShow = this.shownEmitter.event;
  /** Fires when the tracker asks about a cursor position, answered or not (a token edited since the analysis is not). */
  readonly onDidTarget = this.targetEmitter.event;

  constructor(
    private readonly server: ServerClient,
    private readonly store: AnalysisStore,
    private readonly painter: Painter,
    private readonly painting: Painting,
    private readonly settings: SettingsService,
    private readonly log: vscode.LogOutputChannel,
    private readonly onWarning: (message: string) => void,
  ) {
    this.disposables.push(
      this.debouncer,
      this.shownEmitter,
      this.targetEmitter,
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (e.textEditor === vscode.window.activeTextEditor) {
          this.schedule();
        }
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule()),
      // An edit keeps the painting: VS Code moves the decorations with the text, and the server
      // still answers for the tokens before the edit. The request in flight is for older text.
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0 && this.shown?.uri.toString() === e.document.uri.toString()) {
          this.latest.cancel();
        }
        if (e.contentChanges.length > 0 && this.surprise?.uri === e.document.uri.toString()) {
          // of the older version: what is painted stays (moved with the text), as for the attention
          this.latest.cancel();
          this.surprise = undefined;
        }
      }),
      store.onDidChange((uri) => {
        const active = vscode.window.activeTextEditor;
        if (!uri || active?.document.uri.toString() === uri.toString()) {
          this.schedule(0);
        }
      }),
      settings.onDidChange(() => this.schedule(0)),
      // an overlay ended or the heat changed: the document shows the heat again
      painting.onDidChange((doc) => {
        const active = vscode.window.activeTextEditor;
        if (doc === undefined || active?.document.uri.toString() === doc) {
          this.schedule(0);
        }
      }),
    );
  }

  /** The answer painted last, if it still matches its document. */
  get current(): ShownAttention | undefined {
    return this.shown;
  }

  /** The surprise painted for `document`, if it is of the document's current version. */
  surpriseOf(document: vscode.TextDocument): readonly SurpriseToken[] | undefined {
    const s = this.surprise;
    return s?.uri === document.uri.toString() && s.version === document.version ? s.tokens : undefined;
  }

  schedule(delay?: number): void {
    if (delay === 0) {
      this.debouncer.cancel();
      void this.update();
      return;
    }
    this.debouncer.schedule(() => void this.update());
  }

  private setShown(shown: ShownAttention | undefined): void {
    this.shown = shown;
    this.shownEmitter.fire(shown);
  }

  private async update(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      return;
    }
    const document = editor.document;
    const entry = this.store.latest(document);
    const mode = this.painting.modeOf(document);
    // the cursor never starts the server: a stopped one holds no analyses anyway
    if (!entry || !this.server.isRunning) {
      this.latest.cancel();
      if (isHeat(mode)) {
        this.painter.clear(editor);
      }
      return;
    }
    const position = editor.selection.active;
    const version = document.version;
    const settings = this.settings.effective;
    this.targetEmitter.fire({ uri: document.uri, position });
    if (!isHeat(mode)) {
      // the overlay stays until it ends; then painting.onDidChange asks again
      this.latest.cancel();
      return;
    }
    const ticket = this.latest.next();
    try {
      if (mode === 'surprise') {
        await this.paintSurprise(editor, ticket.source.token, () => ticket.isLatest());
        this.lastWarning = '';
        return;
      }
      // the tints need no prediction (the hover asks for its own)
      const params = { ...attentionParams(document.uri, position, settings), prediction: false };
      const result = await this.server.request(Requests.attention, params, ticket.source.token);
      if (!ticket.isLatest() || !result || isStale(result.version, document.version) || document.version !== version) {
        return;
      }
      this.store.setStale(document.uri, result.staleFrom ? toVsPosition(result.staleFrom) : undefined);
      // an overlay may have been entered, or the heat changed, while the answer was on its way
      if (vscode.window.visibleTextEditors.includes(editor) && this.painting.showsHeat(document, 'attention')) {
        this.painter.paintAttention(editor, result, settings.topK, settings.tintUnit);
        this.setShown({ uri: document.uri, version, position, result, settings });
      }
      this.lastWarning = '';
    } catch (error) {
      const stale = staleDataOf(error);
      if (stale && ticket.isLatest() && document.version === version) {
        // the cursor token was edited after the analysis: what is painted stays, the rest is marked
        this.store.setStale(document.uri, toVsPosition(stale.staleFrom));
      }
      this.handleError(error, document);
    } finally {
      ticket.done();
    }
  }

  /** Paints the surprise heat of the editor's document, asking the server once per version. */
  private async paintSurprise(editor: vscode.TextEditor, token: vscode.CancellationToken, isLatest: () => boolean): Promise<void> {
    const document = editor.document;
    const version = document.version;
    let tokens = this.surpriseOf(document);
    if (!tokens) {
      const result = await this.server.request(Requests.surprise, { textDocument: { uri: document.uri.toString() } }, token);
      if (!isLatest() || !result || isStale(result.version, document.version) || document.version !== version) {
        return;
      }
      tokens = surpriseTokens(result);
      this.surprise = { uri: document.uri.toString(), version, tokens };
    }
    if (vscode.window.visibleTextEditors.includes(editor) && this.painting.showsHeat(document, 'surprise')) {
      this.painter.paintSurprise(editor, tokens);
    }
  }

  private handleError(error: unknown, document: vscode.TextDocument): void {
    const failure = failureOf(error);
    if (failure === 'cancelled' || failure === 'contentModified') {
      return;
    }
    if (failure === 'notAnalysed') {
      // the server no longer holds this document (restart or cache eviction)
      this.store.delete(document.uri);
      this.painter.clearDocument(document.uri);
      return;
    }
    const message = errorMessage(error);
    if (failure === 'timedOut') {
      this.log.warn(message);
    } else {
      this.log.error(`Attention request failed: ${message}`);
    }
    if (message !== this.lastWarning) {
      this.lastWarning = message;
      this.onWarning(message);
    }
  }

  dispose(): void {
    this.latest.cancel();
    vscode.Disposable.from(...this.disposables).dispose();
  }
}
