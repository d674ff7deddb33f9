/**
 * The Completion panel: the completion's tokens with their probabilities and alternatives, the
 * lines and units that drove it, the explanation with removals and a regeneration's diff; or, in
 * its prediction mode, the token predicted at the cursor and the lines it needs. The page
 * draws what core/completionView.ts computes; its buttons and clicks come back as actions.
 */
import * as vscode from 'vscode';
import { isCompletionMessage, type CompletionMessage, type ToCompletionView } from '../core/completionView';
import { Panel } from './panel';

const VIEW_TYPE = 'attenScope.completionView';

const BODY = `
<div id="toolbar">
  <button id="insert" title="Insert the completion at the cursor">Insert</button>
  <button id="explain" title="Measure which lines the completion needs by removing random halves of them">Explain with removals</button>
  <button id="regenerate" title="Complete again without the lines selected in the editor, or the top 3 lines by score">Regenerate without these lines</button>
  <button id="original" hidden title="Complete again with every line">Back to the original</button>
  <span id="status" role="status">Loading…</span>
</div>
<p id="note" class="note" hidden></p>
<section id="regenerated" hidden><h2>Regenerated</h2><p id="regenerate-reason" class="hint"></p><pre id="diff"></pre></section>
<section id="prediction" hidden><h2>Prediction</h2><p><span id="prediction-token" class="label"></span> <span id="prediction-probability" class="prob"></span></p>
  <p id="prediction-after" class="hint"></p></section>
<section id="completion"><h2>Completion</h2><pre id="text"></pre>
  <h2>Tokens</h2><p class="hint">Click a token for the context it reads; click an alternative to branch there.</p>
  <p id="attention" role="status"></p><div id="tokens" role="list"></div></section>
<section id="instant"></section>
<section id="removals"></section>`;

/** What the page's buttons and clicks ask for. */
export interface CompletionActions {
  branch(step: number, alternative: number): Promise<void>;
  selectToken(step: number): Promise<void>;
  revealLines(first: number, last: number): Promise<void>;
  explain(): Promise<void>;
  regenerate(): Promise<void>;
  original(): Promise<void>;
  insert(): Promise<void>;
  /** the panel was closed */
  closed(): void;
}

export class CompletionPanel extends Panel<CompletionMessage, ToCompletionView> {
  private ready = false;
  /** the latest message, posted once the page is ready */
  private pending: ToCompletionView | undefined;

  /** The open panel brought forward, or a new one. */
  static showIn(extensionUri: vscode.Uri, log: vscode.LogOutputChannel, actions: CompletionActions): CompletionPanel {
    const current = Panel.opened(VIEW_TYPE);
    if (current instanceof CompletionPanel) {
      current.actions = actions;
      current.panel.reveal(vscode.ViewColumn.Beside, true);
      return current;
    }
    return new CompletionPanel(extensionUri, log, actions);
  }

  private constructor(
    extensionUri: vscode.Uri,
    log: vscode.LogOutputChannel,
    private actions: CompletionActions,
  ) {
    super(
      extensionUri,
      {
        viewType: VIEW_TYPE,
        title: 'Atten-Scope: Completion',
        preserveFocus: true,
        page: { title: 'Atten-Scope completion', script: 'completion.js', styles: ['webview.css', 'completion.css'], body: BODY },
        accepts: isCompletionMessage,
        name: 'the completion view',
      },
      log,
    );
  }

  /** Shows `message` now, or once the page is ready. */
  showData(message: ToCompletionView): void {
    this.pending = message;
    if (this.ready) {
      this.post(message);
    }
  }

  protected onMessage(message: CompletionMessage): Promise<void> | void {
    const a = this.actions;
    switch (message.type) {
      case 'ready':
        this.ready = true;
        if (this.pending) {
          this.post(this.pending);
        }
        return;
      case 'branch':
        return a.branch(message.step, message.alternative);
      case 'selectToken':
        return a.selectToken(message.step);
      case 'revealLines':
        return a.revealLines(message.first, message.last);
      case 'explain':
        return a.explain();
      case 'regenerate':
        return a.regenerate();
      case 'original':
        return a.original();
      case 'insert':
        return a.insert();
    }
  }

  protected override onDispose(): void {
    this.actions.closed();
  }
}
