/**
 * Read-only documents holding a file's saved content, under the `atten-scope-saved:` scheme, so
 * the server can analyse the saved version next to the edited buffer.
 */
import * as vscode from 'vscode';
import { SAVED_SCHEME } from './constants';

export class SavedContentProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;

  private static counter = 0;

  /**
   * `atten-scope-saved:/same/path.py?<original uri>#<n>`: the path keeps the language detection;
   * a new fragment each time gives a fresh document with the current file content.
   */
  static uriFor(file: vscode.Uri): vscode.Uri {
    SavedContentProvider.counter += 1;
    return vscode.Uri.from({ scheme: SAVED_SCHEME, path: file.path, query: file.toString(), fragment: String(SavedContentProvider.counter) });
  }

  static originalOf(uri: vscode.Uri): vscode.Uri | undefined {
    if (uri.scheme !== SAVED_SCHEME || !uri.query) {
      return undefined;
    }
    try {
      return vscode.Uri.parse(uri.query, true);
    } catch {
      return undefined;
    }
  }

  /** A document's name for people: its workspace-relative path, "(saved)" after it for a saved version. */
  static nameOf(uri: vscode.Uri): string {
    const original = SavedContentProvider.originalOf(uri);
    return original
      ? `${vscode.workspace.asRelativePath(original, false)} (saved)`
      : vscode.workspace.asRelativePath(uri, false);
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const original = SavedContentProvider.originalOf(uri);
    if (!original) {
      throw new Error(`Not a saved-version document: ${uri.toString()}`);
    }
    const bytes = await vscode.workspace.fs.readFile(original);
    // TextDecoder drops a UTF-8 BOM, as the editor does
    return new TextDecoder('utf-8').decode(bytes);
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
