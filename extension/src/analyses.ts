/** Which documents the server has analysed, at which version. */
import * as vscode from 'vscode';
import type { AnalyzeResult } from './core/protocol';

export interface AnalysisEntry {
  version: number;
  result: AnalyzeResult;
}

export class AnalysisStore implements vscode.Disposable {
  private readonly entries = new Map<string, AnalysisEntry>();
  private readonly emitter = new vscode.EventEmitter<vscode.Uri | undefined>();
  readonly onDidChange = this.emitter.event;

  set(uri: vscode.Uri, result: AnalyzeResult): void {
    this.entries.set(uri.toString(), { version: result.version, result });
    this.emitter.fire(uri);
  }

  get(uri: vscode.Uri): AnalysisEntry | undefined {
    return this.entries.get(uri.toString());
  }

  /** The analysis when it matches the document's current version. */
  current(document: vscode.TextDocument): AnalysisEntry | undefined {
    const entry = this.get(document.uri);
    return entry?.version === document.version ? entry : undefined;
  }

  delete(uri: vscode.Uri): void {
    if (this.entries.delete(uri.toString())) {
      this.emitter.fire(uri);
    }
  }

  /** The documents that have an analysis, as URI strings. */
  uris(): string[] {
    return [...this.entries.keys()];
  }

  clear(): void {
    this.entries.clear();
    this.emitter.fire(undefined);
  }

  dispose(): void {
    this.entries.clear();
    this.emitter.dispose();
  }
}
