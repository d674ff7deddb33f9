/**
 * The heatmap panel: asks the server for the max-pooled overview of the whole file, then, as the
 * page zooms in, for finer grids of what is on screen (exact tiles once they are small enough);
 * answers the page's clicks. Closing the panel cancels what is in flight.
 */
import * as vscode from 'vscode';
import type { AnalysisEntry } from '../analyses';
import { errorMessage } from '../core/async';
import { knownNames } from '../core/catalog';
import { isHeatmapMessage, type HeatmapMessage, type ZoomMessage } from '../core/messages';
import type { TokenRef } from '../core/protocol';
import type { HeatmapParams, HeatmapResult } from '../core/protocolViews';
import { failureOf, Requests } from '../core/requests';
import type { HeatmapView, ToHeatmap } from '../core/viewMessages';
import { toVsRange } from '../decorations';
import { editorFor, selectToken, showToken } from '../reveal';
import type { SettingsService } from '../settings';
import { ServerPanel, type PanelTarget, type ServerPanelDeps } from './panel';

export interface HeatmapDeps extends ServerPanelDeps {
  settings: SettingsService;
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
<div id="plot">
  <div id="corner">line</div>
  <div id="top-axis" class="axis" aria-label="Source tokens (columns), by line"></div>
  <div id="left-axis" class="axis" aria-label="Query tokens (rows), by line"></div>
  <div id="canvas-container"><canvas id="heatmap" aria-label="Attention heatmap: rows are query tokens, columns are the tokens they attend to"></canvas></div>
</div>
<div id="legend"><canvas id="legend-bar" width="256" height="1"></canvas><div id="legend-ticks"></div><div id="legend-caption"></div></div>
<div id="tooltip" role="tooltip" hidden></div>`;

interface HeatmapTarget extends PanelTarget {
  /** the token marked on both axes (the cursor's) */
  centerToken: number | undefined;
}

export class HeatmapPanel extends ServerPanel<HeatmapMessage, ToHeatmap, HeatmapTarget> {
  /** every token the page was sent, by index: a click names tokens by index */
  private tokens = new Map<number, TokenRef>();
  private view: HeatmapView;
  private version = -1;
  /** the analysis the matrix on screen comes from: a new one (an edit, another model) redraws it */
  private shown: AnalysisEntry | undefined;
  /** the zoomed-in grid in flight: a newer zoom, a new view and closing the panel cancel it */
  private detail: vscode.CancellationTokenSource | undefined;

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
        if (entry && entry !== this.shown) {
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
      case 'zoom':
        await this.zoom(message);
        break;
    }
  }

  private params(): Omit<HeatmapParams, 'rows' | 'columns' | 'bins'> {
    return {
      textDocument: { uri: this.target.document.uri.toString() },
      layer: this.view.layer,
      head: this.view.head,
      refinement: this.view.refinement,
      aggregate: this.view.aggregate,
    };
  }

  private remember(grid: HeatmapResult): void {
    for (const axis of [grid.rows, grid.columns]) {
      for (const token of [...axis.first, ...(axis.last ?? [])]) {
        this.tokens.set(token.index, token);
      }
    }
  }

  protected async load(): Promise<void> {
    this.detail?.cancel();
    // the last analysis, even of an older version: the matrix is still worth seeing, clicks warn
    const entry = this.deps.store.get(this.target.document.uri);
    if (!entry) {
      this.showNotAnalysed();
      return;
    }
    const catalog = this.deps.server.catalog;
    const params: HeatmapParams = { ...this.params(), bins: catalog.heatmapBins };
    const result = await this.fetch(Requests.heatmap, params, this.target.document.uri, 'Computing the heatmap…');
    if (!result) {
      return;
    }
    this.version = result.version;
    this.shown = entry;
    this.tokens.clear();
    this.remember(result);
    const model = entry.result.model;
    const notes: string[] = [];
    if (Array.isArray(entry.result.windows) && entry.result.windows.length > 1) {
      notes.push(`analysed in ${entry.result.windows.length} windows`);
    }
    const named = ({ name, label }: { name: string; label: string }) => ({ name, label });
    this.post({
      type: 'data',
      title: HeatmapPanel.title(this.target.document).replace(/^Heatmap: /, ''),
      grid: result,
      focus: this.target.centerToken,
      layers: model?.layers ?? 0,
      heads: model?.heads ?? 0,
      view: this.view,
      refinements: catalog.refinements.map(named),
      aggregates: catalog.aggregates.map(named),
      note: notes.join(' · ') || undefined,
    });
  }

  /** A finer grid of the range on the page's screen: an exact tile when it is short enough. */
  private async zoom(message: ZoomMessage): Promise<void> {
    // not fetch(): a zoom keeps the page's grid on screen and fails quietly, into the log
    this.detail?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.detail = cts;
    const catalog = this.deps.server.catalog;
    const span = ([start, end]: [number, number]) => end - start;
    const where = { ...this.params(), rows: message.rows, columns: message.columns };
    const tile = span(message.rows) <= catalog.heatmapTokens && span(message.columns) <= catalog.heatmapTokens;
    try {
      const grid = tile
        ? await this.deps.server.request(Requests.heatmapTile, where, cts.token)
        : await this.deps.server.request(Requests.heatmap, { ...where, bins: Math.min(message.bins, catalog.heatmapBins) }, cts.token);
      if (this.detail !== cts || cts.token.isCancellationRequested || grid.version !== this.version) {
        return;
      }
      this.remember(grid);
      this.post({ type: 'detail', grid });
    } catch (error) {
      if (failureOf(error) !== 'cancelled') {
        this.log.info(`Heatmap zoom: ${errorMessage(error)}`);
      }
    } finally {
      if (this.detail === cts) {
        this.detail = undefined;
      }
      cts.dispose();
    }
  }

  protected override onDispose(): void {
    this.detail?.cancel();
    super.onDispose();
  }

  private async revealCell(row: number, col: number): Promise<void> {
    const rowToken = this.tokens.get(row);
    const colToken = this.tokens.get(col);
    if (!rowToken || !colToken) {
      return;
    }
    const elsewhere = colToken.uri ? colToken : rowToken.uri ? rowToken : undefined;
    if (elsewhere) {
      // a token of a context file read before the document: shown in that file
      await showToken(this.target.document.uri, elsewhere, this.deps.painter);
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
