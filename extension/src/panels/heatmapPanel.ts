/** The heatmap panel: asks the server for the matrix and answers the page's clicks. */
import * as vscode from 'vscode';
import type { AnalysisStore } from '../analyses';
import type { ServerClient } from '../client';
import { HEATMAP_MAX_TOKENS, HEATMAP_TIMEOUT_MS } from '../constants';
import { tokenWindow } from '../core/triangle';
import { errorCode, errorMessage, withTimeout } from '../core/async';
import { isHeatmapMessage, type HeatmapMessage } from '../core/messages';
import { ErrorCodes, Methods, type HeatmapParams, type HeatmapResult, type TokenRef } from '../core/protocol';
import type { HeatmapView, ToHeatmap } from '../core/viewMessages';
import { toVsRange, type Painter } from '../decorations';
import { editorFor, selectToken } from '../reveal';
import type { SettingsService } from '../settings';
import { createPanel } from './html';

export interface HeatmapDeps {
  extensionUri: vscode.Uri;
  server: ServerClient;
  store: AnalysisStore;
  settings: SettingsService;
  painter: Painter;
  log: vscode.LogOutputChannel;
}

const BODY = `
<div id="toolbar">
  <label>Layer <select id="layer"></select></label>
  <label>Head <select id="head"></select></label>
  <label>Refinement <select id="refinement"></select></label>
  <label>Aggregate <select id="aggregate"></select></label>
  <button id="reset" title="Fit the whole matrix">Fit</button>
  <span id="status" role="status">Loading…</span>
</div>
<div id="canvas-container"><canvas id="heatmap" aria-label="Attention heatmap: rows are query tokens, columns are source tokens"></canvas></div>
<div id="tooltip" role="tooltip" hidden></div>`;

export class HeatmapPanel implements vscode.Disposable {
  private static current: HeatmapPanel | undefined;

  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private tokens = new Map<number, TokenRef>();
  private view: HeatmapView;
  private cts: vscode.CancellationTokenSource | undefined;
  private ready = false;
  private version = -1;

  static show(deps: HeatmapDeps, document: vscode.TextDocument, centerToken: number | undefined): void {
    if (HeatmapPanel.current) {
      HeatmapPanel.current.setDocument(document, centerToken);
      HeatmapPanel.current.panel.reveal(vscode.ViewColumn.Beside, false);
      return;
    }
    HeatmapPanel.current = new HeatmapPanel(deps, document, centerToken);
  }

  static disposeCurrent(): void {
    HeatmapPanel.current?.dispose();
  }

  private constructor(
    private readonly deps: HeatmapDeps,
    private document: vscode.TextDocument,
    private centerToken: number | undefined,
  ) {
    const s = deps.settings.effective;
    const single = (sel: 'all' | number[]): number | 'all' => (sel !== 'all' && sel.length === 1 ? sel[0] : 'all');
    this.view = { layer: single(s.layers), head: single(s.heads), refinement: s.refinement, aggregate: s.aggregate };
    this.panel = createPanel('attenScope.heatmap', this.title(), false, deps.extensionUri, {
      title: 'Atten-Scope heatmap',
      script: 'heatmap.js',
      styles: ['webview.css', 'heatmap.css'],
      body: BODY,
    });
    this.panel.iconPath = vscode.Uri.joinPath(deps.extensionUri, 'extension', 'media', 'icon.png');
    this.disposables.push(
      this.panel.onDidDispose(() => this.dispose()),
      this.panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m)),
      deps.store.onDidChange((uri) => {
        if (uri?.toString() === this.document.uri.toString() && this.ready) {
          const entry = deps.store.get(uri);
          if (entry && entry.version !== this.version) {
            void this.load();
          }
        }
      }),
    );
  }

  private title(): string {
    return `Heatmap: ${vscode.workspace.asRelativePath(this.document.uri, false).split(/[\\/]/).pop() ?? ''}`;
  }

  private setDocument(document: vscode.TextDocument, centerToken: number | undefined): void {
    this.document = document;
    this.centerToken = centerToken;
    this.panel.title = this.title();
    if (this.ready) {
      void this.load();
    }
  }

  private post(message: ToHeatmap): void {
    void this.panel.webview.postMessage(message);
  }

  private async onMessage(raw: unknown): Promise<void> {
    if (!isHeatmapMessage(raw)) {
      this.deps.log.warn('Ignored a malformed message from the heatmap view.');
      return;
    }
    const message: HeatmapMessage = raw;
    switch (message.type) {
      case 'ready':
        this.ready = true;
        await this.load();
        break;
      case 'setView':
        this.view = { layer: message.layer, head: message.head, refinement: message.refinement, aggregate: message.aggregate };
        await this.load();
        break;
      case 'reveal':
        await this.reveal(message.row, message.col);
        break;
    }
  }

  private async load(): Promise<void> {
    this.cts?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.cts = cts;
    const entry = this.deps.store.get(this.document.uri);
    if (!entry) {
      this.post({ type: 'error', message: "Run 'Atten-Scope: Analyze File' first." });
      return;
    }
    const tokenRange = tokenWindow(entry.result.tokens, this.centerToken, HEATMAP_MAX_TOKENS);
    const params: HeatmapParams = {
      textDocument: { uri: this.document.uri.toString() },
      layer: this.view.layer,
      head: this.view.head,
      refinement: this.view.refinement,
      aggregate: this.view.aggregate,
      ...(tokenRange ? { tokenRange } : {}),
    };
    this.post({ type: 'loading', text: 'Computing the heatmap…' });
    try {
      const result = await withTimeout(
        this.deps.server.request<HeatmapResult>(Methods.heatmap, params, cts.token),
        HEATMAP_TIMEOUT_MS,
        () => cts.cancel(),
        'The heatmap request',
      );
      if (cts.token.isCancellationRequested || this.cts !== cts) {
        return;
      }
      this.version = result.version;
      this.tokens = new Map((Array.isArray(result.tokens) ? result.tokens : []).map((t) => [t.index, t]));
      const offset = typeof result.offset === 'number' ? result.offset : (tokenRange?.[0] ?? 0);
      const texts: string[] = [];
      for (let i = 0; i < result.n; i++) {
        texts.push(this.tokens.get(offset + i)?.text ?? '');
      }
      const model = entry.result.model;
      const notes: string[] = [];
      if (tokenRange) {
        notes.push(`tokens ${tokenRange[0]}-${tokenRange[1] - 1} of ${entry.result.tokens}`);
      }
      if (Array.isArray(entry.result.windows) && entry.result.windows.length > 1) {
        notes.push(`analysed in ${entry.result.windows.length} windows`);
      }
      this.post({
        type: 'data',
        title: this.title().replace(/^Heatmap: /, ''),
        n: result.n,
        offset,
        scale: result.scale,
        data: result.data,
        tokens: texts,
        layers: model?.layers ?? 0,
        heads: model?.heads ?? 0,
        view: this.view,
        note: notes.join(' · ') || undefined,
      });
    } catch (error) {
      if (errorCode(error) === ErrorCodes.RequestCancelled || error instanceof vscode.CancellationError) {
        return;
      }
      const message = errorMessage(error);
      this.deps.log.error(`Heatmap request failed: ${message}`);
      this.post({ type: 'error', message });
    } finally {
      if (this.cts === cts) {
        this.cts = undefined;
      }
      cts.dispose();
    }
  }

  private async reveal(row: number, col: number): Promise<void> {
    const rowToken = this.tokens.get(row);
    const colToken = this.tokens.get(col);
    if (!rowToken || !colToken) {
      return;
    }
    const editor = await editorFor(this.document.uri, vscode.ViewColumn.One);
    if (editor.document.version !== this.version) {
      void vscode.window.showInformationMessage('Atten-Scope: the file changed since the heatmap was computed.');
    }
    const rowRange = toVsRange(editor.document, rowToken.range);
    const colRange = toVsRange(editor.document, colToken.range);
    if (!rowRange || !colRange) {
      return;
    }
    selectToken(editor, rowRange, colRange);
    this.deps.painter.flash(editor, colRange);
  }

  private disposed = false;

  dispose(): void {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    if (HeatmapPanel.current === this) {
      HeatmapPanel.current = undefined;
    }
    this.cts?.cancel();
    this.panel.dispose();
    vscode.Disposable.from(...this.disposables.splice(0)).dispose();
  }
}
