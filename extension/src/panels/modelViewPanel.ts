/** The model view panel: per layer and head, where the cursor token's attention goes. */
import * as vscode from 'vscode';
import { isModelViewMessage, type ModelViewMessage } from '../core/messages';
import type { TokenRef } from '../core/protocol';
import type { HeadsParams } from '../core/protocolViews';
import { Requests } from '../core/requests';
import { sameSelection } from '../core/settings';
import type { ToModelView } from '../core/viewMessages';
import type { CursorTracker } from '../cursor';
import type { SettingsService } from '../settings';
import { NeuronPanel } from './neuronPanel';
import { ServerPanel, type PanelTarget, type ServerPanelDeps } from './panel';

export interface ModelViewDeps extends ServerPanelDeps {
  settings: SettingsService;
  cursor: CursorTracker;
}

const VIEW_TYPE = 'attenScope.modelView';

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

interface ModelViewTarget extends PanelTarget {
  /** the token whose heads are shown */
  position: vscode.Position;
}

export class ModelViewPanel extends ServerPanel<ModelViewMessage, ToModelView, ModelViewTarget> {
  private topTokens = new Map<number, TokenRef>();

  static show(deps: ModelViewDeps, document: vscode.TextDocument, position: vscode.Position): void {
    ServerPanel.showAt(VIEW_TYPE, { document, position }, () => new ModelViewPanel(deps, { document, position }));
  }

  private constructor(
    protected override readonly deps: ModelViewDeps,
    target: ModelViewTarget,
  ) {
    super(
      deps,
      {
        viewType: VIEW_TYPE,
        title: 'Atten-Scope: Model View',
        preserveFocus: true,
        page: { title: 'Atten-Scope model view', script: 'modelView.js', styles: ['webview.css', 'modelView.css'], body: BODY },
        accepts: isModelViewMessage,
        name: 'the model view',
      },
      target,
    );
    this.disposables.push(
      // follow the cursor token, also after an edit (a token edited since the analysis says so)
      deps.cursor.onDidTarget((target) => {
        const { document, position } = this.target;
        if (target.uri.toString() !== document.uri.toString() || !target.position.isEqual(position)) {
          void vscode.workspace.openTextDocument(target.uri).then((doc) => this.moveTo({ document: doc, position: target.position }));
        }
      }),
      // a new analysis of the document: the same token, newer numbers
      deps.store.onDidChange((uri) => {
        if (!uri || uri.toString() === this.target.document.uri.toString()) {
          this.reload();
        }
      }),
      deps.settings.onDidChange(({ before, after }) => {
        if (before.refinement !== after.refinement || before.direction !== after.direction || before.dropSink !== after.dropSink || !sameSelection(before.layers, after.layers) || !sameSelection(before.heads, after.heads)) {
          this.reload();
        }
      }),
    );
  }

  protected async handle(message: ModelViewMessage): Promise<void> {
    switch (message.type) {
      case 'selectHead':
        this.deps.settings.setView({ layers: [message.layer], heads: [message.head] });
        break;
      case 'resetHeads':
        this.deps.settings.setView({ layers: 'all', heads: 'all' });
        break;
      case 'neuronView': {
        const { document, position } = this.target;
        NeuronPanel.show(this.deps, { document, position, layer: message.layer, head: message.head, source: message.source });
        break;
      }
      case 'revealToken':
        await this.revealToken(this.topTokens.get(message.index));
        break;
    }
  }

  protected async load(): Promise<void> {
    // after an edit the server still answers for tokens before it, from the older analysis
    if (!this.deps.store.latest(this.target.document)) {
      this.showNotAnalysed();
      return;
    }
    const s = this.deps.settings.effective;
    const params: HeadsParams = {
      textDocument: { uri: this.target.document.uri.toString() },
      position: { line: this.target.position.line, character: this.target.position.character },
      refinement: s.refinement,
      direction: s.direction,
      dropSink: s.dropSink,
    };
    const result = await this.fetch(Requests.heads, params, this.target.document.uri, 'Computing per-head attention…');
    if (!result) {
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
      title: vscode.workspace.asRelativePath(this.target.document.uri, false),
      token: {
        index: result.token?.index ?? -1,
        text: result.token?.text ?? '',
        label: result.token?.label,
        line: result.token?.range.start.line ?? -1,
      },
      layers: result.layers,
      heads: result.heads,
      cells: cells.map((c) => ({
        layer: c.layer,
        head: c.head,
        entropy: c.entropy,
        weight: c.weight,
        top: c.top ? { index: c.top.index, text: c.top.text, label: c.top.label } : null,
      })),
      selected: { layers: s.layers, heads: s.heads },
      refinement: s.refinement,
      direction: s.direction,
    });
  }
}
