/**
 * What the webview panels share: one open panel of a kind, the page, a guard on every message
 * from it, disposal once; and for the panels that ask the server, one request in flight.
 */
import * as vscode from 'vscode';
import type { AnalysisStore } from '../analyses';
import type { ServerClient } from '../client';
import { errorMessage } from '../core/async';
import type { TokenRef } from '../core/protocol';
import { failureOf, type ServerRequest } from '../core/requests';
import type { ErrorMessage, LoadingMessage } from '../core/viewMessages';
import type { Painter } from '../decorations';
import { showToken } from '../reveal';
import { createPanel, type PageParts } from './html';

export interface PanelSpec<In> {
  viewType: string;
  title: string;
  /** keep the focus in the editor */
  preserveFocus: boolean;
  page: PageParts;
  /** accepts only well-formed messages from the page (everything from it is untrusted) */
  accepts: (value: unknown) => value is In;
  /** names the page in the log: "the heatmap view" */
  name: string;
}

export abstract class Panel<In, Out> implements vscode.Disposable {
  /** the open panel of each view type */
  private static readonly open = new Map<string, Panel<unknown, unknown>>();

  /** The open panel of a view type, if any. */
  protected static opened(viewType: string): Panel<unknown, unknown> | undefined {
    return Panel.open.get(viewType);
  }

  protected readonly panel: vscode.WebviewPanel;
  protected readonly disposables: vscode.Disposable[] = [];
  private disposed = false;

  protected constructor(
    extensionUri: vscode.Uri,
    private readonly spec: PanelSpec<In>,
    protected readonly log: vscode.LogOutputChannel,
  ) {
    this.panel = createPanel(spec.viewType, spec.title, spec.preserveFocus, extensionUri, spec.page);
    this.panel.iconPath = vscode.Uri.joinPath(extensionUri, 'extension', 'media', 'icon.png');
    Panel.open.get(spec.viewType)?.dispose();
    Panel.open.set(spec.viewType, this);
    this.disposables.push(
      this.panel.onDidDispose(() => this.dispose()),
      this.panel.webview.onDidReceiveMessage((raw: unknown) => {
        if (spec.accepts(raw)) {
          void this.onMessage(raw);
        } else {
          this.log.warn(`Ignored a malformed message from ${spec.name}.`);
        }
      }),
    );
  }

  protected abstract onMessage(message: In): Promise<void> | void;

  protected post(message: Out): void {
    void this.panel.webview.postMessage(message);
  }

  /** Brings the panel to the front beside the editor. */
  protected reveal(): void {
    this.panel.reveal(vscode.ViewColumn.Beside, false);
  }

  /** Runs once, before the panel and its subscriptions go. */
  protected onDispose(): void {
    // nothing by default
  }

  dispose(): void {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    if (Panel.open.get(this.spec.viewType) === this) {
      Panel.open.delete(this.spec.viewType);
    }
    this.onDispose();
    this.panel.dispose();
    vscode.Disposable.from(...this.disposables.splice(0)).dispose();
  }
}

export interface ServerPanelDeps {
  extensionUri: vscode.Uri;
  server: ServerClient;
  store: AnalysisStore;
  painter: Painter;
  log: vscode.LogOutputChannel;
}

export const NOT_ANALYSED = "Run 'Atten-Scope: Analyze File' first.";

/** Where a server panel points: a document and, per panel, the token or place in it. */
export interface PanelTarget {
  document: vscode.TextDocument;
}

/**
 * A panel whose page shows one answer of the server at a time for its target: it loads once the
 * page says it is ready and again when the target moves; a newer request cancels the older.
 */
export abstract class ServerPanel<In extends { type: string }, Out, Target extends PanelTarget> extends Panel<
  In,
  Out | LoadingMessage | ErrorMessage
> {
  private cts: vscode.CancellationTokenSource | undefined;
  private ready = false;

  /** Moves the open panel of `viewType` to `target` and brings it forward, or opens one with `open`. */
  protected static showAt<T extends PanelTarget>(viewType: string, target: T, open: () => void): void {
    const current = Panel.opened(viewType);
    if (current instanceof ServerPanel) {
      (current as ServerPanel<{ type: string }, unknown, T>).moveTo(target);
      current.reveal();
    } else {
      open();
    }
  }

  protected constructor(
    protected readonly deps: ServerPanelDeps,
    spec: PanelSpec<In>,
    protected target: Target,
  ) {
    super(deps.extensionUri, spec, deps.log);
  }

  /** Asks for the data of the target and posts it to the page. */
  protected abstract load(): Promise<void>;

  /** The page's messages other than 'ready'. */
  protected abstract handle(message: In): Promise<void> | void;

  protected onMessage(message: In): Promise<void> | void {
    if (message.type === 'ready') {
      this.ready = true;
      return this.load();
    }
    return this.handle(message);
  }

  protected moveTo(target: Target): void {
    this.target = target;
    this.reload();
  }

  /** Loads again, once the page is there to show it. */
  protected reload(): void {
    if (this.ready) {
      void this.load();
    }
  }

  /** Shows a token of the target document in its editor, flashed (a click on a token in the page). */
  protected async revealToken(token: TokenRef | undefined): Promise<void> {
    if (token) {
      await showToken(this.target.document.uri, token, this.deps.painter);
    }
  }

  /** Cancels the request in flight and says that the document needs an analysis. */
  protected showNotAnalysed(): void {
    this.cts?.cancel();
    this.post({ type: 'error', message: NOT_ANALYSED });
  }

  /**
   * Asks the server for the page's data with the page showing `loading`. Undefined when a newer
   * request replaced this one or it failed; the page shows the failure.
   */
  protected async fetch<P, R>(request: ServerRequest<P, R>, params: P, uri: vscode.Uri, loading: string): Promise<R | undefined> {
    this.cts?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.cts = cts;
    this.post({ type: 'loading', text: loading });
    try {
      const result = await this.deps.server.request(request, params, cts.token);
      return this.cts === cts && !cts.token.isCancellationRequested ? result : undefined;
    } catch (error) {
      const failure = failureOf(error);
      if (failure === 'cancelled') {
        return undefined;
      }
      if (failure === 'notAnalysed') {
        // the server no longer holds the document (restart, cache eviction)
        this.deps.store.delete(uri);
        this.post({ type: 'error', message: NOT_ANALYSED });
        return undefined;
      }
      const message = errorMessage(error);
      if (failure === 'contentModified') {
        this.log.info(`${request.type.method}: ${message}`);
      } else {
        this.log.error(`${request.type.method} failed: ${message}`);
      }
      this.post({ type: 'error', message });
      return undefined;
    } finally {
      if (this.cts === cts) {
        this.cts = undefined;
      }
      cts.dispose();
    }
  }

  protected override onDispose(): void {
    this.cts?.cancel();
  }
}
