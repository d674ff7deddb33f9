/** The heatmap panel: asks the server for the matrix and answers the page's clicks. */
import * as vscode from 'vscode';
import { knownNames } from '../core/catalog';
import { isHeatmapMessage, type HeatmapMessage } from '../core/messages';
import type { HeatmapParams, TokenRef } from '../core/protocol';
import { Requests } from '../core/requests';
import { tokenWindow } from '../core/triangle';
import type { HeatmapView, ToHeatmap } from '../core/viewMessages';
import { toVsRange, type Painter } from '../decorations';
import { editorFor, selectToken } from '../reveal';
import type { SettingsService } from '../settings';
import { ServerPanel, type PanelTarget, type ServerPanelDeps } from './panel';

export interface HeatmapDeps extends ServerPanelDeps {
  settings: SettingsService;
  painter: Painter;
}

const VIEW_TYPE = 'attenScope.heatmap';

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

interface HeatmapTarget extends PanelTarget {
  /** the token the shown window of a long document is centred on */
  centerToken: number | undefined;
}

export class HeatmapPanel extends ServerPanel<HeatmapMessage, ToHeatmap, HeatmapTarget> {
  private tokens = new Map<number, TokenRef>();
  private view: HeatmapView;
  private version = -1;

  static show(deps: HeatmapDeps, document: vscode.TextDocument, centerToken: number | undefined): void {
    ServerPanel.showAt(VIEW_TYPE, { document, centerToken }, () => new HeatmapPanel(deps, { document, centerToken }));
  }

  private constructor(
    protected override readonly deps: HeatmapDeps,
    target: HeatmapTarget,
  ) {
    super(
      deps,
      {
        viewType: VIEW_TYPE,
        title: HeatmapPanel.title(target.document),
        preserveFocus: false,
        page: { title: 'Atten-Scope heatmap', script: 'heatmap.js', styles: ['webview.css', 'heatmap.css'], body: BODY },
        // the page offers the running server's refinements and aggregates
        accepts: (m): m is HeatmapMessage => isHeatmapMessage(m, knownNames(deps.server.catalog)),
        name: 'the heatmap view',
      },
      target,
    );
    const s = deps.settings.effective;
    const single = (sel: 'all' | number[]): number | 'all' => (sel !== 'all' && sel.length === 1 ? sel[0] : 'all');
    this.view = { layer: single(s.layers), head: single(s.heads), refinement: s.refinement, aggregate: s.aggregate };
    this.disposables.push(
      deps.store.onDidChange((uri) => {
        const entry = uri?.toString() === this.target.document.uri.toString() ? deps.store.get(uri) : undefined;
        if (entry && entry.version !== this.version) {
          this.reload();
        }
      }),
    );
  }

  private static title(document: vscode.TextDocument): string {
    return `Heatmap: ${vscode.workspace.asRelativePath(document.uri, false).split(/[\\/]/).pop() ?? ''}`;
  }

  protected override moveTo(target: HeatmapTarget): void {
    this.panel.title = HeatmapPanel.title(target.document);
    super.moveTo(target);
  }

  protected async handle(message: HeatmapMessage): Promise<void> {
    switch (message.type) {
      case 'setView':
        this.view = { layer: message.layer, head: message.head, refinement: message.refinement, aggregate: message.aggregate };
        await this.load();
        break;
      case 'reveal':
        await this.revealCell(message.row, message.col);
        break;
    }
  }

  protected async load(): Promise<void> {
    // the last analysis, even of an older version: the matrix is still worth seeing, clicks warn
    const entry = this.deps.store.get(this.target.document.uri);
    if (!entry) {
      this.showNotAnalysed();
      return;
    }
    const catalog = this.deps.server.catalog;
    const tokenRange = tokenWindow(entry.result.tokens, this.target.centerToken, catalog.heatmapTokens);
    const params: HeatmapParams = {
      textDocument: { uri: this.target.document.uri.toString() },
      layer: this.view.layer,
      head: this.view.head,
      refinement: this.view.refinement,
      aggregate: this.view.aggregate,
      ...(tokenRange ? { tokenRange } : {}),
    };
    const result = await this.fetch(Requests.heatmap, params, this.target.document.uri, 'Computing the heatmap…');
    if (!result) {
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
    const named = ({ name, label }: { name: string; label: string }) => ({ name, label });
    this.post({
      type: 'data',
      title: HeatmapPanel.title(this.target.document).replace(/^Heatmap: /, ''),
      n: result.n,
      offset,
      scale: result.scale,
      data: result.data,
      tokens: texts,
      layers: model?.layers ?? 0,
      heads: model?.heads ?? 0,
      view: this.view,
      refinements: catalog.refinements.map(named),
      aggregates: catalog.aggregates.map(named),
      note: notes.join(' · ') || undefined,
    });
  }

  private async revealCell(row: number, col: number): Promise<void> {
    const rowToken = this.tokens.get(row);
    const colToken = this.tokens.get(col);
    if (!rowToken || !colToken) {
      return;
    }
    const editor = await editorFor(this.target.document.uri, vscode.ViewColumn.One);
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
}
