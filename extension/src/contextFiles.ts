/**
 * Context files: the files a document's analysis reads first, chosen per document (Analyze With
 * Context Files...), their texts as the editor holds them, and the document's local imports as
 * the editor's language server resolves them (else the simple resolver of core/contextFiles.ts).
 */
import * as vscode from 'vscode';
import { candidatePaths, importSpecifiers, type ImportRef } from './core/contextFiles';
import type { ContextFile } from './core/protocol';

/** Workspace files offered in the picker at most. */
const PICKER_FILES = 5000;
/** Folders whose files are never someone's own code. */
const NOT_OWN_CODE = '{**/node_modules/**,**/.git/**,**/.venv/**,**/venv/**,**/__pycache__/**,**/site-packages/**,**/dist/**,**/out/**,**/build/**}';
/** Imports asked of the definition provider at most (one request each). */
const MAX_IMPORTS = 64;

/** The context files chosen for each document, read again at every analysis (an edit of a context file counts). */
export class ContextChoice {
  private readonly chosen = new Map<string, vscode.Uri[]>();

  get(document: vscode.TextDocument): vscode.Uri[] {
    return this.chosen.get(document.uri.toString()) ?? [];
  }

  /** Chooses `files` for `document` (none: it is read alone again). */
  set(document: vscode.TextDocument, files: readonly vscode.Uri[]): void {
    const key = document.uri.toString();
    if (files.length === 0) {
      this.chosen.delete(key);
    } else {
      this.chosen.set(key, [...files]);
    }
  }

  /** The chosen files' texts, in their order: an open one's as the editor holds it (unsaved changes too), else as saved. */
  async texts(document: vscode.TextDocument, log?: vscode.LogOutputChannel): Promise<ContextFile[]> {
    const out: ContextFile[] = [];
    for (const uri of this.get(document)) {
      const text = await readText(uri);
      if (text === undefined) {
        log?.warn(`Context file ${uri.toString()} could not be read: analysed without it.`);
        continue;
      }
      out.push({ uri: uri.toString(), text });
    }
    return out;
  }
}

async function readText(uri: vscode.Uri): Promise<string | undefined> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  if (open) {
    return open.getText();
  }
  try {
    return new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(uri));
  } catch {
    return undefined;
  }
}

/** Whether `uri` is a file of an open workspace folder, outside the folders of installed packages. */
function ownFile(uri: vscode.Uri): boolean {
  return vscode.workspace.getWorkspaceFolder(uri) !== undefined && !/[\\/](node_modules|site-packages|\.venv|venv)[\\/]/.test(uri.path);
}

async function isFile(uri: vscode.Uri): Promise<boolean> {
  try {
    return (await vscode.workspace.fs.stat(uri)).type === vscode.FileType.File;
  } catch {
    return false;
  }
}

/** The files the definition provider names for the import at `ref` (its module's file). */
async function definedAt(document: vscode.TextDocument, ref: ImportRef): Promise<vscode.Uri[]> {
  const position = new vscode.Position(ref.line, ref.character + Math.max(0, ref.specifier.length - 1));
  try {
    const found = await vscode.commands.executeCommand<(vscode.Location | vscode.LocationLink)[] | undefined>(
      'vscode.executeDefinitionProvider',
      document.uri,
      position,
    );
    return (found ?? []).map((l) => ('targetUri' in l ? l.targetUri : l.uri));
  } catch {
    return [];
  }
}

/**
 * The workspace files `document` imports, in the order of its imports: for each import, where the
 * editor's definition provider says it is defined (a language server that resolves imports),
 * else the first existing path of the simple resolver; files of installed packages and the
 * document itself are left out.
 */
export async function localImports(document: vscode.TextDocument): Promise<vscode.Uri[]> {
  const refs = importSpecifiers(document.getText(), document.languageId).slice(0, MAX_IMPORTS);
  const roots = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === document.uri.scheme).map((f) => f.uri.path);
  const out = new Map<string, vscode.Uri>();
  const self = document.uri.toString();
  for (const ref of refs) {
    let found = (await definedAt(document, ref)).filter((uri) => ownFile(uri) && uri.toString() !== self);
    if (found.length === 0) {
      for (const path of candidatePaths(ref, document.languageId, document.uri.path, roots)) {
        const uri = document.uri.with({ path });
        if (uri.toString() !== self && ownFile(uri) && (await isFile(uri))) {
          found = [uri];
          break;
        }
      }
    }
    for (const uri of found.slice(0, 1)) {
      out.set(uri.toString(), uri);
    }
  }
  return [...out.values()];
}

interface FileItem extends vscode.QuickPickItem {
  uri?: vscode.Uri;
}

/**
 * Asks which files `document`'s analysis reads first: a multi-select of the workspace's files
 * (those chosen before selected), and "The file's local imports". Resolves with the chosen files
 * in the order shown (the imports first), an empty list to read the document alone again, or
 * undefined when dismissed.
 */
export async function pickContextFiles(document: vscode.TextDocument, current: readonly vscode.Uri[]): Promise<vscode.Uri[] | undefined> {
  const chosen = new Set(current.map((u) => u.toString()));
  const files = (await vscode.workspace.findFiles('**/*', NOT_OWN_CODE, PICKER_FILES))
    .filter((uri) => uri.toString() !== document.uri.toString())
    .sort((a, b) => vscode.workspace.asRelativePath(a).localeCompare(vscode.workspace.asRelativePath(b)));
  const importsItem: FileItem = {
    label: "$(references) The file's local imports",
    description: 'the files its imports name, where the editor or a simple resolver finds them',
    alwaysShow: true,
  };
  const items: FileItem[] = [
    importsItem,
    { label: 'Workspace files', kind: vscode.QuickPickItemKind.Separator },
    ...files.map((uri) => ({ label: vscode.workspace.asRelativePath(uri, false), uri })),
  ];
  const picker = vscode.window.createQuickPick<FileItem>();
  picker.title = `Atten-Scope: files the model reads before ${vscode.workspace.asRelativePath(document.uri, false)}`;
  picker.placeholder = 'Select files (none: the file alone), then press Enter';
  picker.canSelectMany = true;
  picker.matchOnDescription = true;
  picker.items = items;
  picker.selectedItems = items.filter((item) => item.uri !== undefined && chosen.has(item.uri.toString()));
  const accepted = await new Promise<readonly FileItem[] | undefined>((resolve) => {
    picker.onDidAccept(() => {
      resolve(picker.selectedItems);
      picker.hide();
    });
    picker.onDidHide(() => resolve(undefined));
    picker.show();
  });
  picker.dispose();
  if (!accepted) {
    return undefined;
  }
  const out = new Map<string, vscode.Uri>();
  if (accepted.includes(importsItem)) {
    const imports = await localImports(document);
    if (imports.length === 0) {
      void vscode.window.showInformationMessage(
        `Atten-Scope: no local import of ${vscode.workspace.asRelativePath(document.uri, false)} resolved to a workspace file; choose the files in the list instead.`,
      );
      if (accepted.length === 1) {
        return undefined; // nothing was chosen: the analysis it asked for cannot be made
      }
    }
    for (const uri of imports) {
      out.set(uri.toString(), uri);
    }
  }
  for (const item of accepted) {
    if (item.uri) {
      out.set(item.uri.toString(), item.uri);
    }
  }
  return [...out.values()];
}
