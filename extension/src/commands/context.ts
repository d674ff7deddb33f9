/**
 * What every command is given: the extension's services, built once at activation, and the
 * helpers that several commands share.
 */
import * as vscode from 'vscode';
import type { AnalysisStore } from '../analyses';
import type { Analyzer } from '../analyze';
import type { ServerClient } from '../client';
import type { CompareDeps, Comparer } from '../compare';
import type { Completer } from '../completion';
import type { CursorTracker } from '../cursor';
import type { Painter } from '../decorations';
import type { HeatmapDeps } from '../panels/heatmapPanel';
import type { ModelViewDeps } from '../panels/modelViewPanel';
import type { Painting } from '../painting';
import type { LineRemover } from '../removal';
import type { SettingsService } from '../settings';
import type { SetupService } from '../setup';
import type { StatusBar } from '../status';

/** The services the panels are built from. */
export interface Services {
  readonly extension: vscode.ExtensionContext;
  readonly log: vscode.LogOutputChannel;
  readonly settings: SettingsService;
  readonly status: StatusBar;
  readonly store: AnalysisStore;
  readonly painter: Painter;
  /** what each document paints: the heat or one overlay */
  readonly painting: Painting;
  readonly setup: SetupService;
  readonly client: ServerClient;
  readonly analyzer: Analyzer;
  readonly cursor: CursorTracker;
}

/** What each webview panel and the comparison ask for, in one object (the flow and neuron panels ask for the common part). */
export type PanelDeps = HeatmapDeps & ModelViewDeps & CompareDeps;

/** The one context a command factory takes. */
export interface CommandContext extends Services {
  readonly panels: PanelDeps;
  readonly comparer: Comparer;
  readonly remover: LineRemover;
  readonly completer: Completer;
  /** says again in the status bar what the active editor's analysis is */
  readonly updateNote: () => void;
}

/** A command: built once from the context, run with the arguments VS Code passes. */
export type CommandFactory = (ctx: CommandContext) => (...args: unknown[]) => unknown;

/** The panels' dependencies, built once for all of them. */
export function panelDeps(services: Services): PanelDeps {
  const { extension, client, store, analyzer, settings, cursor, painter, painting, log } = services;
  return { extensionUri: extension.extensionUri, server: client, store, analyzer, settings, cursor, painter, painting, log };
}

/** The active text editor; undefined, after telling the user to open one, when there is none. */
export function activeEditor(): vscode.TextEditor | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('Atten-Scope: open a file in an editor first.');
  }
  return editor;
}

/** A command that runs on the active editor, and tells the user to open one when there is none. */
export function withEditor(run: (editor: vscode.TextEditor) => unknown): () => Promise<void> {
  return async () => {
    const editor = activeEditor();
    if (editor) {
      await run(editor);
    }
  };
}
