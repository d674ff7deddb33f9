/** Entry point: builds the services once, then wires the commands and the events between them. */
import * as vscode from 'vscode';
import { AnalysisStore } from './analyses';
import { Analyzer } from './analyze';
import { AutoAnalysis } from './autoAnalysis';
import { ServerClient } from './client';
import { registerCommands } from './commands';
import { panelDeps, type CommandContext, type Services } from './commands/context';
import { Comparer } from './compare';
import { Completer } from './completion';
import { SAVED_SCHEME } from './constants';
import { readFaithfulness } from './core/faithfulness';
import { ServerDisplay, type Display } from './core/serverDisplay';
import { CursorTracker } from './cursor';
import { Painter } from './decorations';
import { Painting } from './painting';
import { ModelLoadNotice } from './modelLoad';
import { LineRemover } from './removal';
import { SavedContentProvider } from './savedContent';
import { SettingsService } from './settings';
import { SetupService } from './setup';
import { StaleMarker } from './staleness';
import { analysisNote, StatusBar } from './status';
import { registerSurpriseHover } from './surpriseHover';
import { SymbolSender } from './symbols';

let server: ServerClient | undefined;

/** Builds the services and wires them to VS Code; everything made here is disposed with the extension. */
export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Atten-Scope', { log: true });
  const settings = new SettingsService(log);
  const status = new StatusBar(settings.effective);
  const store = new AnalysisStore();
  const painter = new Painter(context.extensionUri);
  const setup = new SetupService(context, log);
  const client = (server = new ServerClient(context, log, settings, setup));
  const analyzer = new Analyzer(client, store, log);
  const staleMarker = new StaleMarker(store, (uri) => analyzer.isAnalyzing(uri));
  // before the cursor: its listeners see the new mode when the cursor asks for it
  const painting = new Painting(settings, store, painter);
  const cursor = new CursorTracker(client, store, painter, painting, settings, log, (message) => {
    status.setNote(message);
    void vscode.window.showWarningMessage(`Atten-Scope: ${message}`);
  });
  const symbols = new SymbolSender(client, store, log);
  const saved = new SavedContentProvider();
  const services: Services = { extension: context, log, settings, status, store, painter, painting, setup, client, analyzer, cursor };
  const panels = panelDeps(services);
  const comparer = new Comparer(panels);
  const updateNote = (): void => status.setNote(analysisNote(vscode.window.activeTextEditor, store));
  const updateMode = (): void => status.setMode(painting.modeOf(vscode.window.activeTextEditor?.document));

  context.subscriptions.push(log, settings, status, store, painter, painting, client, analyzer, cursor, symbols, saved, setup, staleMarker);
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(SAVED_SCHEME, saved));

  // ---- the status bar follows the server, Set Up, the settings and the analyses
  const display = new ServerDisplay();
  const show = (d: Display): void => status.setState(d.state, d.message, d.model);
  context.subscriptions.push(
    client.onState((state) => show(display.client(state))),
    client.onStatus((s) => show(display.server(s))),
    setup.onDidChangePhase((phase) => show(display.setup(phase))),
    // a long model load or a first-use conversion: a notification with its Cancel
    new ModelLoadNotice(client, log),
    client.onDidStartServer(() => {
      // a new process holds no analyses
      store.clear();
      painter.clearAll();
    }),
    settings.onDidChange(({ after }) => status.setSettings(after)),
    cursor.onDidShow((shown) => {
      // an edit clears the painting, not the view, so the last number still holds
      if (shown) {
        const result = shown.result;
        status.setFaithfulness(readFaithfulness(result.faithfulness), shown.settings, readFaithfulness(result.lineFaithfulness));
        status.setContext(result.context);
      } else {
        status.setContext(undefined); // it named one token's sources, no longer shown
      }
    }),
    store.onDidChange(updateNote),
    // the answer painted right after an analysis was asked before the definitions arrived
    symbols.onDidSend((uri) => {
      if (vscode.window.activeTextEditor?.document.uri.toString() === uri.toString()) {
        cursor.schedule(0);
      }
    }),
    store.onDidChangeStale(updateNote),
    vscode.window.onDidChangeActiveTextEditor(updateNote),
    // the status bar names the mode of the active editor's document
    painting.onDidChange(updateMode),
    vscode.window.onDidChangeActiveTextEditor(updateMode),
  );

  const remover = new LineRemover(client, painter, painting, log, (editor) => analyzer.require(editor.document));
  const completer = new Completer({ extensionUri: context.extensionUri, server: client, store, analyzer, settings, painter, painting, log });
  const ctx: CommandContext = { ...services, panels, comparer, remover, completer, updateNote };
  context.subscriptions.push(remover, completer, ...registerCommands(ctx), registerSurpriseHover(painting, cursor));

  const autoAnalysis = new AutoAnalysis(settings, store, analyzer, painter);
  context.subscriptions.push(autoAnalysis);
  autoAnalysis.start();
  updateNote();
  updateMode();
}

/** Stops the server process. */
export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
