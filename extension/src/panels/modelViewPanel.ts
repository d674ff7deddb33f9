/** The model view panel: per layer and head, where the cursor token's attention goes. */
import * as vscode from 'vscode';
import type { AnalysisStore } from '../analyses';
import type { ServerClient } from '../client';
import { HEADS_TIMEOUT_MS } from '../constants';
import { errorCode, errorMessage, withTimeout } from '../core/async';
import { isModelViewMessage } from '../core/messages';
import { ErrorCodes, Methods, type HeadsParams, type HeadsResult, type TokenRef } from '../core/protocol';
import { sameSelection } from '../core/settings';
import type { ToModelView } from '../core/viewMessages';
import type { CursorTracker } from '../cursor';
import { toVsRange, type Painter } from '../decorations';
import { editorFor } from '../reveal';
import type { SettingsService } from '../settings';
import { createPanel } from './html';

export interface ModelViewDeps {
  extensionUri: vscode.Uri;
  server: ServerClient;
  store: AnalysisStore;
  settings: SettingsService;
  cursor: CursorTracker;
  painter: Painter;
  log: vscode.LogOutputChannel;
}

const BODY = `
<div id="toolbar">
  <fieldset>
    <legend>Colour by</legend>
    <label><input type="radio" name="metric" id="metric-weight" checked> weight on the top token</label>
    <label><input type="radio" name="metric" id="metric-entropy"> focus (low entropy)</label>
  </fieldset>
  <button id="reset" title="Show all layers and heads again">All heads</button>
  <span id="status" role="status">Loading…</span>
</div>
<div id="grid" role="grid" aria-label="Layers by heads"></div>`;

export class ModelViewPanel implements vscode.Disposable {
  private static current: ModelViewPanel | undefined;

  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private cts: vscode.CancellationTokenSource | undefined;
  private ready = false;
  private disposed = false;
  private topTokens = new Map<number, TokenRef>();

  static show(deps: ModelViewDeps, document: vscode.TextDocument, position: vscode.Position): void {
    if (ModelViewPanel.current) {
      ModelViewPanel.current.setTarget(document, position);
      ModelViewPanel.current.panel.reveal(vscode.ViewColumn.Beside, false);
      return;
    }
    ModelViewPanel.current = new ModelViewPanel(deps, document, position);
  }

  private constructor(
    private readonly deps: ModelViewDeps,
    private document: vscode.TextDocument,
    private position: vscode.Position,
  ) {
    this.panel = createPanel('attenScope.modelView', 'Atten-Scope: Model View', true, deps.extensionUri, {
      title: 'Atten-Scope model view',
      script: 'modelView.js',
      styles: ['webview.css', 'modelView.css'],
      body: BODY,
    });
    this.panel.iconPath = vscode.Uri.joinPath(deps.extensionUri, 'extension', 'media', 'icon.png');
    this.disposables.push(
      this.panel.onDidDispose(() => this.dispose()),
      this.panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m)),
      // follow the cursor token
      deps.cursor.onDidShow((shown) => {
        if (shown && this.ready) {
          const changedToken = shown.uri.toString() !== this.document.uri.toString() || !shown.position.isEqual(this.position);
          if (changedToken) {
            void vscode.workspace.openTextDocument(shown.uri).then((doc) => this.setTarget(doc, shown.position));
          }
        }
      }),
      deps.settings.onDidChange(({ before, after }) => {
        if (this.ready && (before.refinement !== after.refinement || before.direction !== after.direction || before.dropSink !== after.dropSink || !sameSelection(before.layers, after.layers) || !sameSelection(before.heads, after.heads))) {
          void this.load();
        }
      }),
    );
  }

  private setTarget(document: vscode.TextDocument, position: vscode.Position): void {
    this.document = document;
    this.position = position;
    if (this.ready) {
      void this.load();
    }
  }

  private post(message: ToModelView): void {
    void this.panel.webview.postMessage(message);
  }

  private async onMessage(raw: unknown): Promise<void> {
    if (!isModelViewMessage(raw)) {
      this.deps.log.warn('Ignored a malformed message from the model view.');
      return;
    }
    switch (raw.type) {
      case 'ready':
        this.ready = true;
        await this.load();
        break;
      case 'selectHead':
        this.deps.settings.setView({ layers: [raw.layer], heads: [raw.head] });
        break;
      case 'resetHeads':
        this.deps.settings.setView({ layers: 'all', heads: 'all' });
        break;
      case 'revealToken': {
        const token = this.topTokens.get(raw.index);
        if (!token) {
          return;
        }
        const editor = await editorFor(this.document.uri, vscode.ViewColumn.One);
        const range = toVsRange(editor.document, token.range);
        if (range) {
          editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
          this.deps.painter.flash(editor, range);
        }
        break;
      }
    }
  }

  private async load(): Promise<void> {
    this.cts?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.cts = cts;
    if (!this.deps.store.current(this.document)) {
      this.post({ type: 'error', message: "Run 'Atten-Scope: Analyze File' first." });
      return;
    }
    const s = this.deps.settings.effective;
    const params: HeadsParams = {
      textDocument: { uri: this.document.uri.toString() },
      position: { line: this.position.line, character: this.position.character },
      refinement: s.refinement,
      direction: s.direction,
      dropSink: s.dropSink,
    };
    this.post({ type: 'loading', text: 'Computing per-head attention…' });
    try {
      const result = await withTimeout(
        this.deps.server.request<HeadsResult>(Methods.heads, params, cts.token),
        HEADS_TIMEOUT_MS,
        () => cts.cancel(),
        'The model view request',
      );
      if (this.cts !== cts || cts.token.isCancellationRequested) {
        return;
      }
      const cells = Array.isArray(result.cells) ? result.cells : [];
      this.topTokens = new Map();
      for (const c of cells) {
        if (c.top) {
          this.topTokens.set(c.top.index, c.top);
        }
      }
      this.post({
        type: 'data',
        title: vscode.workspace.asRelativePath(this.document.uri, false),
        token: { index: result.token?.index ?? -1, text: result.token?.text ?? '' },
        layers: result.layers,
        heads: result.heads,
        cells: cells.map((c) => ({
          layer: c.layer,
          head: c.head,
          entropy: c.entropy,
          weight: c.weight,
          top: c.top ? { index: c.top.index, text: c.top.text } : null,
        })),
        selected: { layers: s.layers, heads: s.heads },
        refinement: s.refinement,
        direction: s.direction,
      });
    } catch (error) {
      const code = errorCode(error);
      if (code === ErrorCodes.RequestCancelled || code === ErrorCodes.ContentModified || error instanceof vscode.CancellationError) {
        return;
      }
      const message = errorMessage(error);
      this.deps.log.error(`Model view request failed: ${message}`);
      this.post({ type: 'error', message });
    } finally {
      if (this.cts === cts) {
        this.cts = undefined;
      }
      cts.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    if (ModelViewPanel.current === this) {
      ModelViewPanel.current = undefined;
    }
    this.cts?.cancel();
    this.panel.dispose();
    vscode.Disposable.from(...this.disposables.splice(0)).dispose();
  }
}
