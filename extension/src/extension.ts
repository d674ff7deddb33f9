/** Entry point: wires settings, the server, painting, views and commands together. */
import * as vscode from 'vscode';
import { AnalysisStore } from './analyses';
import { Analyzer } from './analyze';
import { ServerClient } from './client';
import { Comparer } from './compare';
import { Commands, REANALYZE_IDLE_MS, REANALYZE_MAX_TOKENS, SAVED_SCHEME } from './constants';
import { Debouncer } from './core/async';
import { readFaithfulness } from './core/faithfulness';
import { accumulativeSummary } from './core/accumulative';
import { failureOf, Requests } from './core/requests';
import { errorMessage } from './core/async';
import { otherSide } from './core/diff';
import { modelChanged } from './core/settings';
import { scaleSentence, surpriseSentence, tokenAt, tokenBucket } from './core/surprise';
import { BUCKET_COUNT } from './core/buckets';
import { CursorTracker } from './cursor';
import { Painter } from './decorations';
import { LineRemover } from './removal';
import { readFlowArgs } from './core/flow';
import { FlowPanel } from './panels/flowPanel';
import { HeatmapPanel } from './panels/heatmapPanel';
import { ModelViewPanel } from './panels/modelViewPanel';
import { NeuronPanel } from './panels/neuronPanel';
import { parseHead } from './core/neuron';
import { chooseLayersHeads, chooseModel, chooseRefinement, chooseTintUnit, statusMenu, toggleDirection, toggleHeatMode } from './pickers';
import { SavedContentProvider } from './savedContent';
import { SettingsService } from './settings';
import { SetupService } from './setup';
import { StaleMarker } from './staleness';
import { StatusBar } from './status';
import { SymbolSender } from './symbols';

let server: ServerClient | undefined;

/** The other side of the diff editor showing `uri` in the active tab (a review's original or changed file). */
function diffPartner(uri: vscode.Uri): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (!(input instanceof vscode.TabInputTextDiff)) {
    return undefined;
  }
  return otherSide(input, uri);
}

/** Documents analysed automatically: real files and untitled buffers of a sane size. */
function canAutoAnalyze(document: vscode.TextDocument): boolean {
  return (
    (document.uri.scheme === 'file' || document.uri.scheme === 'untitled') &&
    document.getText().length < 2_000_000 &&
    !['log', 'Log', 'binary'].includes(document.languageId)
  );
}

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Atten-Scope', { log: true });
  const settings = new SettingsService(log);
  const status = new StatusBar(settings.effective);
  const store = new AnalysisStore();
  const painter = new Painter(context.extensionUri);
  const setup = new SetupService(context, log);
  server = new ServerClient(context, log, settings, setup);
  const client = server;
  const analyzer = new Analyzer(client, store, log);
  const staleMarker = new StaleMarker(store, (uri) => analyzer.isAnalyzing(uri));
  const cursor = new CursorTracker(client, store, painter, settings, log, (message) => {
    status.setNote(message);
    void vscode.window.showWarningMessage(`Atten-Scope: ${message}`);
  });
  const symbols = new SymbolSender(client, store, log);
  const saved = new SavedContentProvider();
  const comparer = new Comparer({ extensionUri: context.extensionUri, server: client, store, analyzer, settings, cursor, painter, log });
  const reanalyze = new Map<string, Debouncer>();
  const stale = new Set<string>(); // analysed with a model that is no longer in use
  const reanalyzeIfStale = (document: vscode.TextDocument): void => {
    if (stale.delete(document.uri.toString())) {
      void analyzer.analyze(document, { interactive: false });
    }
  };

  context.subscriptions.push(log, settings, status, store, painter, client, analyzer, cursor, symbols, saved, setup, staleMarker);
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(SAVED_SCHEME, saved));

  // ---- state shown in the status bar
  context.subscriptions.push(
    client.onState((state) => {
      if (state === 'starting') {
        status.setState('starting', 'starting the server');
      } else if (state === 'failed') {
        status.setState('failed', 'the server is not running');
      } else if (state === 'stopped') {
        status.setState('stopped');
      } else if (status.currentState === 'starting' || status.currentState === 'stopped' || status.currentState === 'failed') {
        status.setState('ready');
      }
    }),
    client.onStatus((s) => status.setState(s.state, s.message ?? '', s.model)),
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
        status.setFaithfulness(
          readFaithfulness(result.faithfulness),
          shown.settings,
          readFaithfulness(result.lineFaithfulness),
        );
      }
    }),
    store.onDidChange(() => updateNote()),
    // the answer painted right after an analysis was asked before the definitions arrived
    symbols.onDidSend((uri) => {
      if (vscode.window.activeTextEditor?.document.uri.toString() === uri.toString()) {
        cursor.schedule(0);
      }
    }),
    store.onDidChangeStale(() => updateNote()),
    vscode.window.onDidChangeActiveTextEditor(() => updateNote()),
  );

  function updateNote(): void {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      status.setNote('');
      return;
    }
    const entry = store.get(editor.document.uri);
    if (!entry) {
      status.setNote('This file is not analysed.');
    } else if (entry.version !== editor.document.version) {
      const from = store.stale(editor.document);
      status.setNote(`The file changed since it was analysed${from ? `: attention above line ${from.line + 1} still shows` : ''}.`);
    } else {
      const r = entry.result;
      const windows = Array.isArray(r.windows) && r.windows.length > 1 ? `, ${r.windows.length} windows` : '';
      status.setNote(`${r.tokens} tokens${windows}${r.truncated ? ', truncated' : ''}.`);
    }
  }

  // ---- commands
  const withEditor =
    (run: (editor: vscode.TextEditor) => unknown) =>
    async (): Promise<void> => {
      const editor = vscode.window.activeTextEditor;
      if (!editor) {
        void vscode.window.showInformationMessage('Atten-Scope: open a file in an editor first.');
        return;
      }
      await run(editor);
    };

  /** `afterEdit`: an analysis of an older version will do (views about the token at the cursor). */
  const requireAnalysis = async (editor: vscode.TextEditor, afterEdit = false): Promise<boolean> => {
    if (afterEdit ? store.latest(editor.document) : store.current(editor.document)) {
      return true;
    }
    const result = await analyzer.analyze(editor.document, { interactive: true });
    return result !== undefined;
  };

  const remover = new LineRemover(client, store, painter, cursor, log, (editor) => requireAnalysis(editor));
  context.subscriptions.push(remover);

  context.subscriptions.push(
    vscode.commands.registerCommand(
      Commands.analyzeFile,
      withEditor(async (editor) => {
        const done = await analyzer.analyze(editor.document, { interactive: true });
        // In a diff editor both sides are analysed, so that a review shows heat on either side.
        const other = done ? diffPartner(editor.document.uri) : undefined;
        if (other) {
          await analyzer.analyze(await vscode.workspace.openTextDocument(other), { interactive: true });
        }
        updateNote();
      }),
    ),
    vscode.commands.registerCommand(
      Commands.showHeatmap,
      withEditor(async (editor) => {
        if (!(await requireAnalysis(editor))) {
          return;
        }
        const shown = cursor.current;
        const center = shown?.uri.toString() === editor.document.uri.toString() ? shown.result.token?.index : undefined;
        HeatmapPanel.show({ extensionUri: context.extensionUri, server: client, store, settings, painter, log }, editor.document, center);
      }),
    ),
    vscode.commands.registerCommand(
      Commands.showModelView,
      withEditor(async (editor) => {
        if (!(await requireAnalysis(editor, true))) {
          return;
        }
        ModelViewPanel.show(
          { extensionUri: context.extensionUri, server: client, store, settings, cursor, painter, log },
          editor.document,
          editor.selection.active,
        );
      }),
    ),
    vscode.commands.registerCommand(
      Commands.showNeuronView,
      withEditor(async (editor) => {
        if (!(await requireAnalysis(editor, true))) {
          return;
        }
        const model = store.get(editor.document.uri)?.result.model;
        const s = settings.effective;
        const chosen = s.layers !== 'all' && s.heads !== 'all' && s.layers.length === 1 && s.heads.length === 1 ? `${s.layers[0]} ${s.heads[0]}` : '';
        const layers = model?.layers ?? 0;
        const heads = model?.heads ?? 0;
        const text = await vscode.window.showInputBox({
          title: 'Atten-Scope: Neuron View',
          prompt: `Layer and head for the token at the cursor (0-based; ${layers} layers x ${heads} heads). It opens on the head's strongest source.`,
          value: chosen,
          validateInput: (value) => {
            const parsed = parseHead(value, layers, heads);
            return typeof parsed === 'string' ? parsed : undefined;
          },
        });
        const parsed = text === undefined ? undefined : parseHead(text, layers, heads);
        if (parsed === undefined || typeof parsed === 'string') {
          return;
        }
        NeuronPanel.show(
          { extensionUri: context.extensionUri, server: client, store, painter, log },
          { document: editor.document, position: editor.selection.active, layer: parsed.layer, head: parsed.head },
        );
      }),
    ),
    vscode.commands.registerCommand(Commands.showFlow, async (...args: unknown[]) => {
      // the cursor's token (palette, context menu), or a document and position (a hover link)
      const target = readFlowArgs(args);
      if (target === undefined) {
        log.warn(`Show Information Flow: arguments not understood: ${JSON.stringify(args).slice(0, 200)}`);
        return;
      }
      let document: vscode.TextDocument;
      let position: vscode.Position;
      if (target === 'cursor') {
        const editor = vscode.window.activeTextEditor;
        if (!editor) {
          void vscode.window.showInformationMessage('Atten-Scope: open a file in an editor first.');
          return;
        }
        document = editor.document;
        position = editor.selection.active;
      } else {
        try {
          document = await vscode.workspace.openTextDocument(vscode.Uri.parse(target.uri, true));
        } catch (error) {
          void vscode.window.showWarningMessage(`Atten-Scope: cannot open ${target.uri}: ${error instanceof Error ? error.message : String(error)}`);
          return;
        }
        position = document.validatePosition(new vscode.Position(target.position.line, target.position.character));
      }
      if (!store.current(document) && !(await analyzer.analyze(document, { interactive: true }))) {
        return;
      }
      FlowPanel.show({ extensionUri: context.extensionUri, server: client, store, painter, log }, { document, position });
    }),
    vscode.commands.registerCommand(
      Commands.showAccumulative,
      withEditor(async (editor) => {
        if (!(await requireAnalysis(editor))) {
          return;
        }
        const document = editor.document;
        const position = editor.selection.active;
        const s = settings.effective;
        const params = { textDocument: { uri: document.uri.toString() }, position: { line: position.line, character: position.character }, dropSink: s.dropSink, topK: s.topK };
        try {
          const result = await vscode.window.withProgress(
            { location: vscode.ProgressLocation.Notification, title: 'Atten-Scope: accumulative attention (ALTI rollout)', cancellable: true },
            (progress, token) => {
              progress.report({ message: 'running the model over the text up to the token (seconds)' });
              return client.request(Requests.altiRollout, params, token);
            },
          );
          if (!result || document.version !== editor.document.version || !vscode.window.visibleTextEditors.includes(editor)) {
            return;
          }
          // shown until the cursor moves, when the cursor view paints again
          painter.paintAttention(editor, result, s.topK);
          void vscode.window.showInformationMessage(`Atten-Scope: ${accumulativeSummary(result)}`);
        } catch (error) {
          if (failureOf(error) !== 'cancelled') {
            void vscode.window.showWarningMessage(`Atten-Scope: ${errorMessage(error)}`);
          }
        }
      }),
    ),
    vscode.commands.registerCommand(Commands.removeLines, withEditor((editor) => remover.run(editor))),
    vscode.commands.registerCommand(Commands.toggleDirection, () => toggleDirection(settings)),
    vscode.commands.registerCommand(Commands.toggleHeatMode, () => toggleHeatMode(settings)),
    vscode.commands.registerCommand(Commands.chooseTintUnit, () => chooseTintUnit(settings)),
    vscode.commands.registerCommand(Commands.chooseRefinement, () => chooseRefinement(settings, client.catalog)),
    vscode.commands.registerCommand(Commands.chooseModel, () => chooseModel(settings, client.catalog, context.globalState)),
    vscode.commands.registerCommand(Commands.chooseLayersHeads, () => {
      const editor = vscode.window.activeTextEditor;
      const model = editor ? store.get(editor.document.uri)?.result.model : undefined;
      return chooseLayersHeads(settings, model);
    }),
    vscode.commands.registerCommand(Commands.compareWith, withEditor((editor) => comparer.pick(editor))),
    vscode.commands.registerCommand(Commands.markSelection, withEditor((editor) => comparer.markSelection(editor))),
    vscode.commands.registerCommand(Commands.clear, () => {
      analyzer.cancelAll();
      comparer.clear();
      remover.clear();
      store.clear();
      painter.clearAll();
      cursor.resume();
      updateNote();
    }),
    vscode.commands.registerCommand(Commands.restartServer, async () => {
      analyzer.cancelAll();
      store.clear();
      painter.clearAll();
      try {
        await client.restart();
        vscode.window.setStatusBarMessage('Atten-Scope: server restarted', 3000);
      } catch {
        // the reason was shown already
      }
    }),
    vscode.commands.registerCommand(Commands.showLogs, () => log.show(true)),
    vscode.commands.registerCommand(Commands.setUp, async () => {
      const began = Date.now();
      if (client.interpreterSource === 'managed' && client.state !== 'stopped') {
        // Set Up builds the environment afresh: the server must not run from it meanwhile.
        analyzer.cancelAll();
        await client.stop();
      }
      if (!(await setup.setUp())) {
        return;
      }
      analyzer.cancelAll();
      store.clear();
      painter.clearAll();
      const seconds = Math.round((Date.now() - began) / 1000);
      try {
        await client.restart();
      } catch {
        return; // the reason was shown already
      }
      if (client.interpreterSource === 'managed') {
        void vscode.window.showInformationMessage(`Atten-Scope is set up (in ${seconds} s): the server runs from its own environment. Run Analyze File on a file.`);
      } else {
        const why = client.interpreterSource === 'setting' ? ' (attenScope.pythonPath); clear that setting to use the new environment' : ', which has the server package';
        void vscode.window.showInformationMessage(`Atten-Scope is set up (in ${seconds} s), but the server runs from ${client.interpreterCommand}${why}.`);
      }
    }),
    vscode.commands.registerCommand(Commands.statusMenu, () => statusMenu()),
  );

  // ---- the surprise heat's colour, explained under the server's hover card
  context.subscriptions.push(
    vscode.languages.registerHoverProvider([{ scheme: 'file' }, { scheme: 'untitled' }], {
      provideHover(document, position) {
        if (settings.effective.heatMode !== 'surprise') {
          return undefined;
        }
        const token = tokenAt(cursor.surpriseOf(document) ?? [], position.line, position.character);
        if (!token) {
          return undefined;
        }
        const text = new vscode.MarkdownString();
        text.isTrusted = false;
        text.appendMarkdown('**Atten-Scope surprise heat**\n\n');
        text.appendText(`This token's colour: ${surpriseSentence(token.bits)} (step ${tokenBucket(token.bits) + 1} of ${BUCKET_COUNT}).`);
        text.appendMarkdown('\n\n');
        text.appendText(scaleSentence());
        const range = new vscode.Range(token.startLine, token.startCharacter, token.endLine, token.endCharacter);
        return new vscode.Hover(text, document.validateRange(range));
      },
    }),
  );

  // ---- automatic analysis
  const autoAnalyze = (document: vscode.TextDocument) => {
    if (settings.effective.autoAnalyze && canAutoAnalyze(document) && !analyzer.isAnalyzing(document.uri)) {
      if (store.current(document)) {
        return;
      }
      void analyzer.analyze(document, { interactive: false });
    }
  };
  // Decided from measurement: a small file follows edits (about a second per re-analysis on two
  // cores), a large one keeps its attention above the edit and offers Re-analyse (StaleMarker).
  const followsEdits = (tokens: number): boolean =>
    settings.effective.autoAnalyze || (settings.effective.reanalyzeAfterEdit && tokens <= REANALYZE_MAX_TOKENS);
  const reanalyzeAfterEdit = (document: vscode.TextDocument): void => {
    const entry = store.get(document.uri);
    if (entry && followsEdits(entry.result.tokens) && store.isOutdated(document) && !analyzer.isAnalyzing(document.uri) && !document.isClosed) {
      void analyzer.analyze(document, { interactive: false });
    }
  };
  context.subscriptions.push(
    vscode.window.onDidChangeActiveTextEditor((editor) => editor && autoAnalyze(editor.document)),
    vscode.workspace.onDidSaveTextDocument((document) => autoAnalyze(document)),
    vscode.workspace.onDidChangeTextDocument((e) => {
      const entry = store.get(e.document.uri);
      if (e.contentChanges.length === 0 || !entry || !followsEdits(entry.result.tokens)) {
        return;
      }
      const key = e.document.uri.toString();
      let debouncer = reanalyze.get(key);
      if (!debouncer) {
        debouncer = new Debouncer(REANALYZE_IDLE_MS);
        reanalyze.set(key, debouncer);
      }
      debouncer.schedule(() => reanalyzeAfterEdit(e.document));
    }),
    vscode.workspace.onDidCloseTextDocument((document) => {
      const key = document.uri.toString();
      reanalyze.get(key)?.dispose();
      reanalyze.delete(key);
      store.delete(document.uri);
    }),
    settings.onDidChange(({ before, after }) => {
      if (!before.autoAnalyze && after.autoAnalyze) {
        vscode.window.visibleTextEditors.forEach((e) => autoAnalyze(e.document));
      }
      if (modelChanged(before, after)) {
        // The server dropped its analyses with the old model: the analysed documents are analysed
        // again with the new one, the visible ones now and the others when they are shown.
        for (const uri of store.uris()) {
          stale.add(uri);
        }
        store.clear();
        painter.clearAll();
        vscode.window.visibleTextEditors.forEach((e) => reanalyzeIfStale(e.document));
      }
    }),
    vscode.window.onDidChangeActiveTextEditor((editor) => editor && reanalyzeIfStale(editor.document)),
    { dispose: () => reanalyze.forEach((d) => d.dispose()) },
  );
  for (const editor of vscode.window.visibleTextEditors) {
    autoAnalyze(editor.document);
  }
  updateNote();
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
