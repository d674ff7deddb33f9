/** Analyze File: one request per document, with progress, cancellation and $/progress. */
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import { WorkDoneProgress } from 'vscode-languageclient/node';
import type { AnalysisStore } from './analyses';
import { ServerUnavailableError, type ServerClient } from './client';
import { ContextChoice } from './contextFiles';
import { errorMessage } from './core/async';
import { contextNote } from './core/contextFiles';
import { progressForwarder, retryNote } from './core/progress';
import type { AnalyzeParams, AnalyzeResult } from './core/protocol';
import { failureOf, Requests } from './core/requests';
import { SavedContentProvider } from './savedContent';

export interface AnalyzeOptions {
  /** true: notification with a Cancel button and error pop-ups; false: quiet status-bar progress */
  interactive: boolean;
}

export class Analyzer implements vscode.Disposable {
  private readonly inFlight = new Map<string, vscode.CancellationTokenSource>();
  /** the files each document's analysis reads first; every analysis of it sends their texts again */
  readonly context = new ContextChoice();

  constructor(
    private readonly server: ServerClient,
    private readonly store: AnalysisStore,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  isAnalyzing(uri: vscode.Uri): boolean {
    return this.inFlight.has(uri.toString());
  }

  /**
   * Whether the document has an analysis, analysing it first where it has none. `afterEdit`: one
   * of an older version will do (the views about the token at the cursor).
   */
  async require(document: vscode.TextDocument, afterEdit = false): Promise<boolean> {
    if (afterEdit ? this.store.latest(document) : this.store.current(document)) {
      return true;
    }
    return (await this.analyze(document, { interactive: true })) !== undefined;
  }

  /** Analyses a document; resolves with the result, or undefined when cancelled or failed. */
  async analyze(document: vscode.TextDocument, options: AnalyzeOptions): Promise<AnalyzeResult | undefined> {
    const key = document.uri.toString();
    this.inFlight.get(key)?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.inFlight.set(key, cts);
    const name = SavedContentProvider.nameOf(document.uri);
    try {
      return await vscode.window.withProgress(
        {
          location: options.interactive ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window,
          title: `Atten-Scope: analysing ${name}`,
          cancellable: options.interactive,
        },
        async (progress, token) => {
          const sub = token.onCancellationRequested(() => cts.cancel());
          try {
            // an edit or a model switch during the analysis makes the server answer ContentModified: try again
            for (let attempt = 1; ; attempt++) {
              try {
                return await this.run(document, progress, cts.token);
              } catch (error) {
                if (failureOf(error) !== 'contentModified' || attempt >= 3 || cts.token.isCancellationRequested) {
                  throw error;
                }
                progress.report({ message: retryNote(errorMessage(error)) });
              }
            }
          } finally {
            sub.dispose();
          }
        },
      );
    } catch (error) {
      this.handleError(error, document, options);
      return undefined;
    } finally {
      if (this.inFlight.get(key) === cts) {
        this.inFlight.delete(key);
      }
      cts.dispose();
    }
  }

  private async run(
    document: vscode.TextDocument,
    progress: vscode.Progress<{ message?: string; increment?: number }>,
    token: vscode.CancellationToken,
  ): Promise<AnalyzeResult | undefined> {
    if (!this.server.isRunning) {
      progress.report({ message: 'starting the server (Python and PyTorch load, a few seconds)' });
    }
    const client = await this.server.ensureStarted();
    if (token.isCancellationRequested) {
      return undefined;
    }
    const workDoneToken = randomUUID();
    const onProgress = client.onProgress(WorkDoneProgress.type, workDoneToken, progressForwarder((step) => progress.report(step)));
    try {
      const contextFiles = await this.context.texts(document, this.log);
      const params: AnalyzeParams = {
        textDocument: { uri: document.uri.toString() },
        workDoneToken,
        ...(contextFiles.length > 0 ? { contextFiles } : {}),
      };
      const result = await this.server.request(Requests.analyze, params, token);
      if (token.isCancellationRequested || !result) {
        return undefined;
      }
      this.store.set(document.uri, result);
      const windows = Array.isArray(result.windows) ? result.windows.length : 1;
      this.log.info(
        `Analysed ${SavedContentProvider.nameOf(document.uri)} v${result.version}: ${result.tokens} tokens` +
          `${windows > 1 ? ` in ${windows} windows` : ''}${result.truncated ? ' (truncated)' : ''}` +
          `${result.restored ? ', restored from the analysis cache' : result.reusedTokens ? `, ${result.reusedTokens} reused` : ''}` +
          `, ${Math.round(result.elapsedMs)} ms` +
          `${result.contextFiles?.length ? `, ${contextNote(result.contextFiles)}` : ''}`,
      );
      return result;
    } finally {
      onProgress.dispose();
    }
  }

  private handleError(error: unknown, document: vscode.TextDocument, options: AnalyzeOptions): void {
    const failure = failureOf(error);
    if (failure === 'cancelled') {
      this.log.info(`Analysis of ${SavedContentProvider.nameOf(document.uri)} cancelled.`);
      return;
    }
    if (error instanceof ServerUnavailableError) {
      return; // the client already showed the reason
    }
    if (failure === 'contentModified') {
      this.log.info(`Analysis of ${SavedContentProvider.nameOf(document.uri)} stopped: ${errorMessage(error)}`);
      return;
    }
    const message = errorMessage(error);
    this.log.error(`Analysis of ${SavedContentProvider.nameOf(document.uri)} failed: ${message}`);
    if (options.interactive) {
      void vscode.window.showErrorMessage(`Atten-Scope: analysis failed: ${message}`, 'Show Logs').then((choice) => {
        if (choice) {
          this.log.show(true);
        }
      });
    }
  }

  cancelAll(): void {
    for (const cts of this.inFlight.values()) {
      cts.cancel();
    }
  }

  dispose(): void {
    this.cancelAll();
  }
}
