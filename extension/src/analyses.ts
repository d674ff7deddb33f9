/** Which documents the server has analysed, at which version, and where each was first edited since. */
import * as vscode from 'vscode';
import type { AnalyzeResult } from './core/protocol';

export interface AnalysisEntry {
  version: number;
  result: AnalyzeResult;
}

export class AnalysisStore implements vscode.Disposable {
  private readonly entries = new Map<string, AnalysisEntry>();
  /** uri -> where the document was first edited after its analysis, as the server last said */
  private readonly staleFrom = new Map<string, vscode.Position>();
  private readonly emitter = new vscode.EventEmitter<vscode.Uri | undefined>();
  private readonly staleEmitter = new vscode.EventEmitter<vscode.Uri | undefined>();
  /** A document's analysis was added, replaced or dropped (undefined: all of them). */
  readonly onDidChange = this.emitter.event;
  /** Where a document's edited part begins changed (undefined: for all documents). */
  readonly onDidChangeStale = this.staleEmitter.event;

  set(uri: vscode.Uri, result: AnalyzeResult): void {
    this.entries.set(uri.toString(), { version: result.version, result });
    this.setStale(uri, undefined);
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

  /**
   * The document's latest analysis, of any version: after an edit the server still answers from
   * it for the tokens before the edit.
   */
  latest(document: vscode.TextDocument): AnalysisEntry | undefined {
    return this.get(document.uri);
  }

  /** Whether the document has an analysis of an older version. */
  isOutdated(document: vscode.TextDocument): boolean {
    const entry = this.get(document.uri);
    return entry !== undefined && entry.version !== document.version;
  }

  /** Records where the document's edited part begins (undefined: nowhere, the analysis is current). */
  setStale(uri: vscode.Uri, from: vscode.Position | undefined): void {
    const key = uri.toString();
    const before = this.staleFrom.get(key);
    if (from === undefined ? before === undefined : before?.isEqual(from)) {
      return;
    }
    if (from === undefined) {
      this.staleFrom.delete(key);
    } else {
      this.staleFrom.set(key, from);
    }
    this.staleEmitter.fire(uri);
  }

  /** Where the document's edited part begins, while its analysis is of an older version. */
  stale(document: vscode.TextDocument): vscode.Position | undefined {
    return this.isOutdated(document) ? this.staleFrom.get(document.uri.toString()) : undefined;
  }

  delete(uri: vscode.Uri): void {
    this.setStale(uri, undefined);
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
    this.staleFrom.clear();
    this.staleEmitter.fire(undefined);
    this.emitter.fire(undefined);
  }

  dispose(): void {
    this.entries.clear();
    this.staleFrom.clear();
    this.emitter.dispose();
    this.staleEmitter.dispose();
  }
}
