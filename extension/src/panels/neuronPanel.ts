/** The neuron view panel: how one head's query and key produce the weight of one source. */
import * as vscode from 'vscode';
import { isNeuronMessage, type NeuronMessage } from '../core/messages';
import { neuronView } from '../core/neuron';
import { tokenLabel } from '../core/ranges';
import type { TokenRef } from '../core/protocol';
import type { NeuronParams } from '../core/protocolViews';
import { Requests } from '../core/requests';
import type { ToNeuronView } from '../core/viewMessages';
import { ServerPanel, type PanelTarget, type ServerPanelDeps } from './panel';

export type NeuronDeps = ServerPanelDeps;

const VIEW_TYPE = 'attenScope.neuronView';

const BODY = `
<div id="toolbar"><span id="status" role="status">Loading…</span></div>
<div id="pair">
  <button id="token" class="end" title="Reveal the query token in the editor"></button>
  <span class="arrow">attends to</span>
  <button id="source" class="end" title="Reveal the source token in the editor"></button>
</div>
<ul id="lines"></ul>
<table id="parts" aria-label="The logit's parts, largest first">
  <thead><tr><th>part</th><th>q</th><th>k</th><th>share of the logit</th><th>wavelength</th></tr></thead>
  <tbody></tbody>
</table>`;

export interface NeuronTarget extends PanelTarget {
  /** the query token */
  position: vscode.Position;
  layer: number;
  head: number;
  /** the source token's index; the head's strongest source when absent */
  source?: number;
}

export class NeuronPanel extends ServerPanel<NeuronMessage, ToNeuronView, NeuronTarget> {
  private ends: { token?: TokenRef; source?: TokenRef } = {};

  static show(deps: NeuronDeps, target: NeuronTarget): void {
    ServerPanel.showAt(VIEW_TYPE, target, () => new NeuronPanel(deps, target));
  }

  private constructor(
    protected override readonly deps: NeuronDeps,
    target: NeuronTarget,
  ) {
    // each panel writes its spec out as data: the constructors share a shape, not values
    super(
      deps,
      {
        viewType: VIEW_TYPE,
        title: 'Atten-Scope: Neuron View',
        preserveFocus: true,
        page: { title: 'Atten-Scope neuron view', script: 'neuron.js', styles: ['webview.css', 'neuron.css'], body: BODY },
        accepts: isNeuronMessage,
        name: 'the neuron view',
      },
      target,
    );
  }

  protected async handle(message: NeuronMessage): Promise<void> {
    if (message.type !== 'revealEnd') {
      return;
    }
    await this.revealToken(this.ends[message.end]);
  }

  protected async load(): Promise<void> {
    // after an edit the server still answers for tokens before it, from the older analysis
    if (!this.deps.store.latest(this.target.document)) {
      this.showNotAnalysed();
      return;
    }
    const { document, position, layer, head, source } = this.target;
    const params: NeuronParams = {
      textDocument: { uri: document.uri.toString() },
      position: { line: position.line, character: position.character },
      layer,
      head,
      ...(source === undefined ? {} : { source }),
    };
    const result = await this.fetch(Requests.neuron, params, document.uri, `Reading layer ${layer}, head ${head}…`);
    if (!result) {
      return;
    }
    this.ends = { token: result.token, source: result.source };
    this.post({
      type: 'data',
      title: vscode.workspace.asRelativePath(document.uri, false),
      token: { label: tokenLabel(result.token, 40), line: result.token.range.start.line },
      source: { label: tokenLabel(result.source, 40), line: result.source.range.start.line },
      layer: result.layer,
      head: result.head,
      kvHead: result.kvHead,
      view: neuronView(result),
    });
  }
}
