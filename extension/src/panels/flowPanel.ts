/** The information-flow panel: the routes through the layers that lead to one token's prediction. */
import * as vscode from 'vscode';
import { attentionEdge, FLOW_DEFAULTS, FLOW_LIMITS, flowCaption, layoutFlow } from '../core/flow';
import { isFlowMessage, type FlowMessage } from '../core/messages';
import type { TokenRef } from '../core/protocol';
import type { FlowParams, FlowResult } from '../core/protocolViews';
import { tokenLabel } from '../core/ranges';
import { Requests } from '../core/requests';
import type { ToFlowView } from '../core/viewMessages';
import { NeuronPanel } from './neuronPanel';
import { ServerPanel, type PanelTarget, type ServerPanelDeps } from './panel';

export type FlowDeps = ServerPanelDeps;

const VIEW_TYPE = 'attenScope.flowView';

const BODY = `
<div id="toolbar">
  <form id="options">
    <label title="The smallest importance a contribution needs to be drawn">threshold
      <input id="threshold" type="number" min="${FLOW_LIMITS.threshold.min}" max="${FLOW_LIMITS.threshold.max}" step="0.01" value="${FLOW_DEFAULTS.threshold}" required></label>
    <label title="The most nodes the graph holds">max nodes
      <input id="max-nodes" type="number" min="${FLOW_LIMITS.maxNodes.min}" max="${FLOW_LIMITS.maxNodes.max}" step="1" value="${FLOW_DEFAULTS.maxNodes}" required></label>
    <button id="apply" type="submit">Trace again</button>
  </form>
  <span id="status" role="status">Loading…</span>
</div>
<div id="legend" aria-label="Legend"></div>
<div id="scroller"><svg id="flow" role="group" aria-label="Information flow graph" width="0" height="0"></svg></div>
<div id="tooltip" role="tooltip" hidden></div>`;

export interface FlowTarget extends PanelTarget {
  /** the token whose prediction the routes lead to */
  position: vscode.Position;
}

export class FlowPanel extends ServerPanel<FlowMessage, ToFlowView, FlowTarget> {
  private threshold: number = FLOW_DEFAULTS.threshold;
  private maxNodes: number = FLOW_DEFAULTS.maxNodes;
  private tokens = new Map<number, TokenRef>();
  /** the graph on the page */
  private shown: FlowResult | undefined;

  static show(deps: FlowDeps, target: FlowTarget): void {
    ServerPanel.showAt(VIEW_TYPE, target, () => new FlowPanel(deps, target));
  }

  private constructor(
    protected override readonly deps: FlowDeps,
    target: FlowTarget,
  ) {
    // A panel's description is data: alike in shape to the other panels' (the neuron view's), not in meaning.
    super(
      deps,
      {
        viewType: VIEW_TYPE,
        title: 'Atten-Scope: Information Flow',
        preserveFocus: true,
        page: { title: 'Atten-Scope information flow', script: 'flow.js', styles: ['webview.css', 'flow.css'], body: BODY },
        accepts: isFlowMessage,
        name: 'the information-flow view',
      },
      target,
    );
  }

  protected async handle(message: FlowMessage): Promise<void> {
    switch (message.type) {
      case 'setOptions':
        this.threshold = message.threshold;
        this.maxNodes = message.maxNodes;
        this.reload();
        break;
      case 'openHead': {
        // only an edge of the graph on the page, and one of its heads
        const reader = this.tokens.get(message.target);
        if (!this.shown || !reader || !attentionEdge(this.shown, message.layer, message.source, message.target, message.head)) {
          return;
        }
        const { line, character } = reader.range.start;
        NeuronPanel.show(this.deps, {
          document: this.target.document,
          position: new vscode.Position(line, character),
          layer: message.layer - 1,
          head: message.head,
          source: message.source,
        });
        break;
      }
      case 'revealToken':
        await this.revealToken(this.tokens.get(message.index));
        break;
    }
  }

  protected async load(): Promise<void> {
    // each panel guards with its own kind of analysis (current, latest or any): alike in shape only
    if (!this.deps.store.current(this.target.document)) {
      this.showNotAnalysed();
      return;
    }
    const { document, position } = this.target;
    const params: FlowParams = {
      textDocument: { uri: document.uri.toString() },
      position: { line: position.line, character: position.character },
      threshold: this.threshold,
      maxNodes: this.maxNodes,
    };
    const result = await this.fetch(
      Requests.flow,
      params,
      document.uri,
      `Tracing the routes to the token at line ${position.line + 1} (a forward pass over the text up to it)…`,
    );
    if (!result) {
      return;
    }
    const layout = layoutFlow(result);
    this.shown = result;
    this.tokens = new Map((Array.isArray(result.tokens) ? result.tokens : []).map((t) => [t.index, t]));
    this.tokens.set(result.token.index, result.token);
    if (layout.dropped > 0) {
      this.deps.log.warn(`${Requests.flow.type.method}: ${layout.dropped} malformed nodes or edges left out.`);
    }
    this.post({
      type: 'data',
      title: vscode.workspace.asRelativePath(document.uri, false),
      token: { label: tokenLabel(result.token, 40), line: result.token.range.start.line },
      layout,
      threshold: result.threshold,
      maxNodes: result.maxNodes,
      caption: flowCaption(result, layout),
    });
  }
}
