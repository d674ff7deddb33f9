/**
 * Sends the editor's definitions to the server (Notifications.symbols) after each analysis, so that
 * attention is summed over functions, classes and methods in any language whose extension
 * provides document symbols; where none does, the server parses the text (Python, JavaScript,
 * TypeScript, C, C++, Go, Rust, Java) and falls back to blocks of lines for other languages.
 */
import * as vscode from 'vscode';
import type { AnalysisStore } from './analyses';
import type { ServerClient } from './client';
import { errorMessage } from './core/async';
import { Notifications } from './core/requests';
import { flattenSymbols, type SymbolNode } from './core/units';

export class SymbolSender implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly sentEmitter = new vscode.EventEmitter<vscode.Uri>();
  /** Fires after a document's symbols were sent: answers asked before lacked them. */
  readonly onDidSend = this.sentEmitter.event;

  constructor(
    private readonly server: ServerClient,
    store: AnalysisStore,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      this.sentEmitter,
      store.onDidChange((uri) => {
        const document = uri && vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
        if (document && store.get(uri)) {
          void this.send(document);
        }
      }),
    );
  }

  /** Asks the document-symbol providers for `document`'s symbols and sends its definitions. */
  async send(document: vscode.TextDocument): Promise<void> {
    const version = document.version;
    let symbols: SymbolNode[] | undefined;
    try {
      symbols = await vscode.commands.executeCommand<SymbolNode[] | undefined>('vscode.executeDocumentSymbolProvider', document.uri);
    } catch (error) {
      this.log.debug(`No document symbols for ${document.uri.toString()}: ${errorMessage(error)}`);
    }
    const definitions = flattenSymbols(symbols);
    try {
      await this.server.notify(Notifications.symbols, { textDocument: { uri: document.uri.toString(), version }, symbols: definitions });
      this.log.debug(`Sent ${definitions.length} definitions of ${document.uri.toString()} (version ${version}).`);
      this.sentEmitter.fire(document.uri);
    } catch (error) {
      this.log.warn(`Could not send the document symbols: ${errorMessage(error)}`);
    }
  }

  dispose(): void {
    vscode.Disposable.from(...this.disposables).dispose();
  }
}
