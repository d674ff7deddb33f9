/**
 * "Complete Here and Explain": the model completes the code at the cursor (Requests.complete);
 * the completion shows as ghost text, the lines that drove it are tinted, and the Completion panel
 * offers its tokens, alternatives (a branch), the context each token read, an explanation with
 * removals, a regeneration without some lines, and Insert.
 *
 * "Which Code Does This Prediction Need?" explains the model's first choice at the cursor by
 * removals (Requests.explainCompletion with a position) in the same panel and the same line tints.
 */
import * as vscode from 'vscode';
import type { AnalysisStore } from './analyses';
import type { Analyzer } from './analyze';
import type { ServerClient } from './client';
import { errorMessage } from './core/async';
import { formatWeight } from './core/buckets';
import { branchForced, documentLine, linesToLeaveOut, readCompleteResult, readExplainResult, stopSentence, tokenId, tokenPosition } from './core/completion';
import { completionView, type CompletionState } from './core/completionView';
import { predictedProbability, predictionQuery, predictionView, readPredictionResult, type PredictedToken, type PredictionState } from './core/prediction';
import type { AttentionResult, Position } from './core/protocol';
import type { AttributionLine, CompleteParams, CompleteResult, ExplainCompletionParams, LineRanges } from './core/protocolViews';
import { tokenLabel } from './core/ranges';
import { selectedLines } from './core/removal';
import { failureOf, Requests, type ServerRequest } from './core/requests';
import { CompletionPaint } from './completionPaint';
import { attentionParams } from './cursor';
import type { Painter } from './decorations';
import type { OverlayHandle, Painting } from './painting';
import { CompletionPanel, type CompletionActions } from './panels/completionPanel';
import { editorFor } from './reveal';
import type { SettingsService } from './settings';

/** Attention targets asked for a generated token: enough to reach the completion's own tokens too. */
const TOKEN_TOP_K = 200;

/** The completion on screen and the document version it was made for. */
interface Active {
  document: vscode.TextDocument;
  version: number;
  state: CompletionState;
  panel: CompletionPanel;
}

/** The prediction explained on screen (the panel's prediction mode). */
interface ActivePrediction {
  document: vscode.TextDocument;
  state: PredictionState;
  panel: CompletionPanel;
}

export interface CompleterDeps {
  extensionUri: vscode.Uri;
  server: ServerClient;
  store: AnalysisStore;
  analyzer: Analyzer;
  settings: SettingsService;
  painter: Painter;
  painting: Painting;
  log: vscode.LogOutputChannel;
}

export class Completer implements vscode.Disposable {
  private active: Active | undefined;
  private prediction: ActivePrediction | undefined;
  private readonly paint: CompletionPaint;
  /**
   * The completion's lines shown in its document's editors (painting.ts ends them: an edit, for
   * the lines moved, a new analysis, the heat chosen, Clear); the panel stays.
   */
  private overlay: { handle: OverlayHandle; document: vscode.TextDocument } | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly deps: CompleterDeps) {
    this.paint = new CompletionPaint(deps.extensionUri);
    this.disposables.push(this.paint);
  }

  /** Completes at the cursor of `editor` and opens the panel. */
  async run(editor: vscode.TextEditor): Promise<void> {
    const document = editor.document;
    if (!(await this.deps.analyzer.require(document))) {
      return;
    }
    const position = editor.selection.active;
    this.leaveOverlay();
    const result = await this.complete(document, position, {}, 'Atten-Scope: completing');
    if (result) {
      const note = result.completion.tokens.length ? undefined : `The model ${stopSentence(result.completion.stop).replace(/^stopped/, 'stopped at once')}: nothing to complete here.`;
      this.show(document, { result, title: `${vscode.workspace.asRelativePath(document.uri, false)}, line ${position.line + 1}`, note });
    }
  }

  /** Dismisses the ghost text (Escape). */
  dismiss(): void {
    this.paint.clearPreview();
  }

  // ---- the overlay: the lines that drove the completion or the prediction

  /** Shows the lines of the completion or prediction on screen in `document`'s editors, in place of what they showed. */
  private enterOverlay(document: vscode.TextDocument): void {
    this.leaveOverlay();
    const handle = this.deps.painting.enter(document, 'completion', {
      paint: (editor) => this.paint.paintLines(editor, this.linesShown()),
      ended: () => {
        if (this.overlay?.handle === handle) {
          this.overlay = undefined;
          this.paint.clearAll();
        }
      },
    });
    this.overlay = { handle, document };
  }

  /** Shows the lines again where the document shows something else since (the heat was chosen there). */
  private claimOverlay(document: vscode.TextDocument): void {
    if (!this.overlay?.handle.active || this.overlay.document !== document) {
      this.enterOverlay(document);
    }
  }

  private leaveOverlay(): void {
    this.overlay?.handle.leave();
    this.overlay = undefined;
    this.paint.clearAll();
  }

  /** The line scores the editor shows for what the panel shows. */
  private linesShown(): readonly AttributionLine[] {
    if (this.active) {
      return this.shownLines(this.active);
    }
    return this.prediction?.state.answer.explain.attribution.lines ?? [];
  }

  // ---- requests

  private settingsParams(): Pick<CompleteParams, 'maxNewTokens' | 'temperature' | 'alternatives'> {
    const s = this.deps.settings.effective;
    return { maxNewTokens: s['completion.maxNewTokens'], temperature: s['completion.temperature'], alternatives: s['completion.alternatives'] };
  }

  /** Sends a request with a cancellable progress notification fed by the server's $/progress; undefined when cancelled or failed (the user was told). */
  private async withProgress<P extends { workDoneToken?: string | number }, R>(
    request: ServerRequest<P, R>,
    params: P,
    title: string,
    again = 'Complete Here and Explain',
  ): Promise<R | undefined> {
    try {
      return await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
        const result = await this.deps.server.requestWithProgress(request, params, (step) => progress.report(step), token);
        return token.isCancellationRequested ? undefined : result;
      });
    } catch (error) {
      const failure = failureOf(error);
      if (failure === 'cancelled') {
        return undefined;
      }
      this.deps.log.warn(`${request.type.method} failed: ${errorMessage(error)}`);
      if (failure === 'notAnalysed') {
        void vscode.window.showWarningMessage(`Atten-Scope: the server no longer holds this completion or file: run '${again}' again.`);
      } else {
        void vscode.window.showWarningMessage(`Atten-Scope: ${errorMessage(error)}`);
      }
      return undefined;
    }
  }

  private async complete(
    document: vscode.TextDocument,
    position: Position,
    extra: { forced?: number[]; withoutLines?: LineRanges },
    title: string,
  ): Promise<CompleteResult | undefined> {
    const params: CompleteParams = {
      textDocument: { uri: document.uri.toString(), version: document.version },
      position: { line: position.line, character: position.character },
      ...this.settingsParams(),
      ...(extra.forced?.length ? { forced: extra.forced } : {}),
      ...(extra.withoutLines?.length ? { withoutLines: extra.withoutLines } : {}),
    };
    const raw = await this.withProgress(Requests.complete, params, title);
    if (raw === undefined) {
      return undefined;
    }
    const result = readCompleteResult(raw);
    if (typeof result === 'string') {
      this.deps.log.error(`${Requests.complete.type.method}: ${result}`);
      void vscode.window.showWarningMessage(`Atten-Scope: ${result}.`);
      return undefined;
    }
    this.deps.log.info(`Completed ${vscode.workspace.asRelativePath(document.uri, false)} v${document.version} at ${position.line + 1}:${position.character + 1} as ${result.completionUri}: ${result.completion.tokens.length} tokens, ${result.cost.seconds.toFixed(1)} s.`);
    return result;
  }

  // ---- what is on screen

  private show(document: vscode.TextDocument, state: CompletionState): void {
    const panel = CompletionPanel.showIn(this.deps.extensionUri, this.deps.log, this.actions());
    this.active = { document, version: document.version, state, panel };
    this.prediction = undefined;
    // a fresh overlay: a token's sources tinted for the completion shown before go with it
    this.enterOverlay(document);
    const editor = vscode.window.visibleTextEditors.find((e) => e.document === document);
    if (editor) {
      const { line, character } = state.result.position;
      this.paint.showPreview(editor, new vscode.Position(line, character), state.result.completion.text);
    }
    this.refresh();
  }

  private refresh(): void {
    const active = this.active;
    if (active) {
      active.panel.showData(completionView(active.state));
    }
  }

  /** The active completion when its document is unchanged since; else says so in the panel. */
  private current(): Active | undefined {
    const active = this.active;
    if (!active) {
      return undefined;
    }
    if (active.document.isClosed || active.document.version !== active.version) {
      active.state = { ...active.state, note: 'The file changed since this completion: run Complete Here and Explain again.' };
      this.refresh();
      return undefined;
    }
    return active;
  }

  private note(active: Active, note: string | undefined): void {
    active.state = { ...active.state, note };
    this.refresh();
  }

  private actions(): CompletionActions {
    return {
      branch: (step, alternative) => this.branch(step, alternative),
      selectToken: (step) => this.selectToken(step),
      revealLines: (first, last) => this.revealLines(first, last),
      explain: () => this.explain(),
      regenerate: () => this.regenerate(),
      original: () => this.original(),
      insert: () => this.insert(),
      closed: () => {
        this.active = undefined;
        this.leaveOverlay();
      },
    };
  }

  // ---- the panel's actions

  private async branch(step: number, alternative: number): Promise<void> {
    const active = this.current();
    if (!active) {
      return;
    }
    const { result } = active.state;
    const forced = branchForced(result.completion.tokens, step, alternative);
    if (!forced) {
      this.note(active, 'No branch starts there: the ids of the tokens before it are unknown.');
      return;
    }
    const branched = await this.complete(active.document, result.position, { forced, withoutLines: result.withoutLines }, 'Atten-Scope: completing from the alternative');
    if (branched) {
      this.show(active.document, { ...active.state, result: branched, explain: undefined, selected: undefined, note: undefined });
    }
  }

  private async selectToken(step: number): Promise<void> {
    const active = this.current();
    const position = active && tokenPosition(active.state.result, step);
    if (!active || !position) {
      return;
    }
    const { result } = active.state;
    const params = {
      ...attentionParams(active.document.uri, new vscode.Position(position.line, position.character), this.deps.settings.effective, TOKEN_TOP_K),
      // as the server spelled it: a vscode.Uri would write "scheme:/1" for "scheme:///1"
      textDocument: { uri: result.completionUri },
    };
    let answer: AttentionResult;
    try {
      answer = await this.deps.server.request(Requests.attention, params);
    } catch (error) {
      this.deps.log.warn(`The attention of ${result.completionUri} at step ${step} (document v${active.document.version}): ${errorMessage(error)}`);
      this.note(active, `The attention of that token: ${errorMessage(error)}`);
      return;
    }
    if (this.active !== active) {
      return;
    }
    const steps = new Map(result.completion.tokens.map((t, i) => [t.index, i]));
    const weights = new Map<number, number>();
    const prefix: AttentionResult['targets'] = [];
    for (const t of Array.isArray(answer.targets) ? answer.targets : []) {
      const s = steps.get(t.index);
      if (s !== undefined) {
        weights.set(s, t.weight);
        continue;
      }
      const start = documentLine(t.range.start.line, result);
      const end = documentLine(t.range.end.line, result);
      if (start !== undefined && end !== undefined) {
        prefix.push({ ...t, range: { start: { ...t.range.start, line: start }, end: { ...t.range.end, line: end } } });
      }
    }
    const lines = (Array.isArray(answer.lines) ? answer.lines : []).flatMap((l) => {
      const line = documentLine(l.line, result);
      return line === undefined ? [] : [{ ...l, line }];
    });
    const editor = vscode.window.visibleTextEditors.find((e) => e.document === active.document);
    if (editor) {
      this.claimOverlay(active.document);
      // the token is in the completion, not the document: its border goes nowhere
      const at = { start: result.position, end: result.position };
      this.deps.painter.paintAttention(editor, { ...answer, token: { ...answer.token, range: at }, targets: prefix, lines, units: undefined }, this.deps.settings.effective.topK);
      // the token's sources take the same colours as the lines' fill: the lines keep their gutter and bar
      this.paint.paintLines(editor, this.shownLines(active), false);
    }
    const token = result.completion.tokens[step];
    const top = [...(Array.isArray(answer.targets) ? answer.targets : [])]
      .sort((a, b) => b.weight - a.weight)
      .slice(0, 3)
      .map((t) => {
        const s = steps.get(t.index);
        const where = s !== undefined ? 'in the completion' : `line ${(documentLine(t.range.start.line, result) ?? t.range.start.line) + 1}`;
        return `${tokenLabel(t, 20)} (${where}) ${formatWeight(t.weight)}`;
      });
    const sentence = `${tokenLabel(token, 20)} reads most: ${top.join(', ') || 'nothing'}. Its sources are tinted in the editor and, in the completion, here.`;
    active.state = { ...active.state, selected: { step, weights, sentence } };
    this.refresh();
  }

  /** The line scores the editor shows: the removals' once measured, else the instant ones. */
  private shownLines(active: Active): CompleteResult['attribution']['lines'] {
    return (active.state.explain?.attribution ?? active.state.result.attribution).lines;
  }

  private async revealLines(first: number, last: number): Promise<void> {
    const document = (this.active ?? this.prediction)?.document;
    if (!document) {
      return;
    }
    const editor = await editorFor(document.uri, vscode.ViewColumn.One);
    const range = editor.document.validateRange(new vscode.Range(first, 0, last, Number.MAX_SAFE_INTEGER));
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  private async explain(): Promise<void> {
    const active = this.current();
    if (!active || active.state.explaining) {
      return;
    }
    const params: ExplainCompletionParams = {
      textDocument: { uri: active.document.uri.toString(), version: active.version },
      completionUri: active.state.result.completionUri,
      ablations: this.deps.settings.effective['completion.ablations'],
      seed: 0,
    };
    this.note(active, undefined);
    active.state = { ...active.state, explaining: true };
    this.refresh();
    const raw = await this.withProgress(Requests.explainCompletion, params, 'Atten-Scope: explaining with removals');
    active.state = { ...active.state, explaining: false };
    const explained = raw === undefined ? undefined : readExplainResult(raw);
    if (typeof explained === 'string') {
      this.deps.log.error(`${Requests.explainCompletion.type.method}: ${explained}`);
      active.state = { ...active.state, note: `The explanation could not be read: ${explained}.` };
    } else if (explained) {
      active.state = { ...active.state, explain: explained };
      const editor = vscode.window.visibleTextEditors.find((e) => e.document === active.document);
      if (editor && active.document.version === active.version && this.active === active) {
        // the removals measured what the lines do: their scores replace the instant ones in the editor
        this.claimOverlay(active.document);
        this.paint.paintLines(editor, explained.attribution.lines);
      }
    }
    this.refresh();
  }

  private async regenerate(): Promise<void> {
    const active = this.current();
    if (!active) {
      return;
    }
    const base = active.state.regenerated?.original ?? active.state.result;
    const editor = vscode.window.visibleTextEditors.find((e) => e.document === active.document);
    const selection = editor && !editor.selection.isEmpty ? selectedLines(editor.selection) : undefined;
    const attribution = active.state.regenerated ? base.attribution : (active.state.explain?.attribution ?? base.attribution);
    const leftOut = linesToLeaveOut(selection, attribution, base.position.line);
    if (typeof leftOut === 'string') {
      this.note(active, `Regenerate without these lines: ${leftOut}.`);
      return;
    }
    const result = await this.complete(active.document, base.position, { withoutLines: leftOut.ranges }, 'Atten-Scope: completing without some lines');
    if (result) {
      this.show(active.document, { result, title: active.state.title, regenerated: { original: base, leftOut } });
    }
  }

  private async original(): Promise<void> {
    const active = this.current();
    const original = active?.state.regenerated?.original;
    if (!active || !original) {
      return;
    }
    // the server keeps one completion per document: the original is made again, forced to the same tokens
    const ids = original.completion.tokens.map(tokenId);
    const forced = ids.every((id) => id !== undefined) ? ids : undefined;
    const result = await this.complete(active.document, original.position, { forced }, 'Atten-Scope: completing');
    if (result) {
      this.show(active.document, { result, title: active.state.title });
    }
  }

  private async insert(): Promise<void> {
    const active = this.current();
    if (!active) {
      return;
    }
    const { position, completion } = active.state.result;
    const edit = new vscode.WorkspaceEdit();
    edit.insert(active.document.uri, new vscode.Position(position.line, position.character), completion.text);
    this.paint.clearPreview();
    if (!(await vscode.workspace.applyEdit(edit))) {
      this.note(active, 'The completion could not be inserted.');
      return;
    }
    this.note(active, `Inserted at line ${position.line + 1}; the file changed, so this panel is read-only until the next completion.`);
  }

  // ---- the prediction at the cursor

  /** Explains the model's first choice at the cursor of `editor` by removals, in the panel and the line tints. */
  async explainPrediction(editor: vscode.TextEditor): Promise<void> {
    const document = editor.document;
    if (!(await this.deps.analyzer.require(document))) {
      return;
    }
    const position = editor.selection.active;
    const version = document.version;
    const params: ExplainCompletionParams = {
      textDocument: { uri: document.uri.toString(), version },
      position: { line: position.line, character: position.character },
      ablations: this.deps.settings.effective['completion.ablations'],
      seed: 0,
    };
    const raw = await this.withProgress(Requests.explainCompletion, params, 'Atten-Scope: explaining the prediction with removals', 'Which Code Does This Prediction Need?');
    if (raw === undefined) {
      return;
    }
    const answer = readPredictionResult(raw);
    if (typeof answer === 'string') {
      this.deps.log.error(`${Requests.explainCompletion.type.method}: ${answer}`);
      void vscode.window.showWarningMessage(`Atten-Scope: ${answer}.`);
      return;
    }
    if (document.isClosed || document.version !== version) {
      void vscode.window.showWarningMessage('Atten-Scope: the file changed while the prediction was explained: run Which Code Does This Prediction Need? again.');
      return;
    }
    const probability = await this.predictionProbability(document, answer.prediction);
    const { cost } = answer.explain;
    this.deps.log.info(`Explained the prediction of ${vscode.workspace.asRelativePath(document.uri, false)} v${version} at ${position.line + 1}:${position.character + 1}: ${cost.ablations} removals, ${cost.seconds.toFixed(1)} s.`);
    this.active = undefined;
    this.leaveOverlay();
    const panel = CompletionPanel.showIn(this.deps.extensionUri, this.deps.log, this.predictionActions());
    const state: PredictionState = { title: `${vscode.workspace.asRelativePath(document.uri, false)}, line ${position.line + 1}`, answer, probability };
    this.prediction = { document, state, panel };
    this.enterOverlay(document);
    panel.showData(predictionView(state));
  }

  /** The probability the model gave the predicted token (the attention answer's prediction there); undefined when unknown. */
  private async predictionProbability(document: vscode.TextDocument, predicted: PredictedToken): Promise<number | undefined> {
    const at = predictionQuery(predicted);
    try {
      const answer = await this.deps.server.request(Requests.attention, attentionParams(document.uri, new vscode.Position(at.line, at.character), this.deps.settings.effective));
      return predictedProbability(answer.prediction, predicted);
    } catch (error) {
      this.deps.log.warn(`The probability of the prediction at ${at.line + 1}:${at.character + 1}: ${errorMessage(error)}`);
      return undefined;
    }
  }

  /** The panel's actions in its prediction mode: only a click on a line (the buttons are hidden). */
  private predictionActions(): CompletionActions {
    const none = (): Promise<void> => Promise.resolve();
    return {
      branch: none,
      selectToken: none,
      revealLines: (first, last) => this.revealLines(first, last),
      explain: none,
      regenerate: none,
      original: none,
      insert: none,
      closed: () => {
        this.prediction = undefined;
        this.leaveOverlay();
      },
    };
  }

  dispose(): void {
    (this.active ?? this.prediction)?.panel.dispose();
    vscode.Disposable.from(...this.disposables).dispose();
  }
}
