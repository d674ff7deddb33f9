/**
 * "What If These Lines Were Removed?": the server runs the model again without the selected
 * lines (reusing the analysis before them); the message compares the prediction at a token, and
 * the effect heat tints every later token by how its surprisal changed.
 */
import * as vscode from 'vscode';
import type { ServerClient } from './client';
import { errorMessage } from './core/async';
import type { RemoveLinesParams, RemoveLinesResult } from './core/protocolViews';
import {
  comparedPosition,
  effectGroups,
  effectLegend,
  effectSentence,
  effectTokens,
  linesLabel,
  removalSummary,
  selectedLines,
  type EffectToken,
  type LineSpan,
} from './core/removal';
import { failureOf, Requests } from './core/requests';
import { tokenAt } from './core/surprise';
import { MAX_TINTED_TOKENS, type Painter } from './decorations';
import type { Painting } from './painting';

const SHOW_HEAT = 'Show Effect Heat';

/** The effect heat shown in one document version. */
interface ShownEffect {
  uri: string;
  version: number;
  span: LineSpan;
  tokens: EffectToken[];
}

export class LineRemover implements vscode.Disposable {
  /** the effect heat each document shows (painting.ts ends it: an edit, a new analysis, the heat chosen, Clear) */
  private readonly shown = new Map<string, ShownEffect>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly server: ServerClient,
    private readonly painter: Painter,
    private readonly painting: Painting,
    private readonly log: vscode.LogOutputChannel,
    /** analyses the document when it has no current analysis; false when it could not */
    private readonly requireAnalysis: (editor: vscode.TextEditor) => Promise<boolean>,
  ) {
    this.disposables.push(
      vscode.languages.registerHoverProvider([{ scheme: 'file' }, { scheme: 'untitled' }], {
        provideHover: (document, position) => this.hover(document, position),
      }),
    );
  }

  async run(editor: vscode.TextEditor): Promise<void> {
    const document = editor.document;
    const span = selectedLines(editor.selection);
    const lines = Array.from({ length: document.lineCount }, (_, i) => document.lineAt(i).text);
    const position = comparedPosition(span, editor.selection.active, lines);
    if (!position) {
      void vscode.window.showInformationMessage(
        `Atten-Scope: no code follows ${linesLabel(span)}, so no prediction depends on them: select lines above the code to compare.`,
      );
      return;
    }
    if (!(await this.requireAnalysis(editor))) {
      return;
    }
    const version = document.version;
    let result: RemoveLinesResult | undefined;
    try {
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Atten-Scope: without ${linesLabel(span)}`, cancellable: true },
        (progress, token) => this.request(document, span, position, progress, token),
      );
    } catch (error) {
      if (failureOf(error) !== 'cancelled') {
        this.log.warn(`Removing ${linesLabel(span)} failed: ${errorMessage(error)}`);
        void vscode.window.showWarningMessage(`Atten-Scope: ${errorMessage(error)}`);
      }
      return;
    }
    if (!result || document.version !== version) {
      return;
    }
    const summary = removalSummary(result);
    this.log.info(summary);
    const tokens = effectTokens(result.heat);
    const choice = await vscode.window.showInformationMessage(`Atten-Scope: ${summary}`, SHOW_HEAT);
    if (choice === SHOW_HEAT && document.version === version && vscode.window.visibleTextEditors.some((e) => e.document === document)) {
      this.show(document, { uri: document.uri.toString(), version, span, tokens });
    }
  }

  private async request(
    document: vscode.TextDocument,
    span: LineSpan,
    position: { line: number; character: number },
    progress: vscode.Progress<{ message?: string; increment?: number }>,
    token: vscode.CancellationToken,
  ): Promise<RemoveLinesResult | undefined> {
    // the heat is asked for at once: the model has run by then, and the LM head over the later tokens costs little more
    const params: RemoveLinesParams = {
      textDocument: { uri: document.uri.toString(), version: document.version },
      lines: span,
      position,
      heat: true,
    };
    const result = await this.server.requestWithProgress(Requests.removeLines, params, (step) => progress.report(step), token);
    return token.isCancellationRequested ? undefined : result;
  }

  /** Shows the effect heat in the document's editors in place of what they showed. */
  private show(document: vscode.TextDocument, shown: ShownEffect): void {
    this.painting.enter(document, 'effect', {
      paint: (editor) => this.paint(editor, shown),
      ended: () => {
        if (this.shown.get(shown.uri) === shown) {
          this.shown.delete(shown.uri);
        }
      },
    });
    this.shown.set(shown.uri, shown);
    const legend = effectLegend(shown.span, shown.tokens);
    vscode.window.setStatusBarMessage(`Atten-Scope: ${legend}`, 15_000);
    this.log.info(legend);
  }

  private paint(editor: vscode.TextEditor, shown: ShownEffect): void {
    const doc = editor.document;
    const { helped, hindered } = effectGroups(shown.tokens, undefined, MAX_TINTED_TOKENS);
    const toVs = (tokens: EffectToken[]): vscode.Range[] =>
      tokens.map((t) => doc.validateRange(new vscode.Range(t.startLine, t.startCharacter, t.endLine, t.endCharacter))).filter((r) => !r.isEmpty);
    // red (the comparison's "decrease") where the lines helped, green where they hindered
    this.painter.paintCompare(editor, toVs(hindered), toVs(helped));
  }

  /** The effect heat's explanation, while the document shows it. */
  private hover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const shown = this.shown.get(document.uri.toString());
    if (shown?.version !== document.version || this.painting.modeOf(document) !== 'effect') {
      return undefined;
    }
    const found = tokenAt(
      shown.tokens.map((t) => ({ ...t, bits: t.delta })),
      position.line,
      position.character,
    );
    const effect = found ? shown.tokens.find((t) => t.index === found.index) : undefined;
    if (!effect) {
      return undefined;
    }
    const text = new vscode.MarkdownString();
    text.isTrusted = false;
    text.appendMarkdown('**Atten-Scope effect heat**\n\n');
    text.appendText(`${effectSentence(effect, shown.span)} ${effectLegend(shown.span, shown.tokens)} Atten-Scope: Clear or Toggle Heat Mode ends it, and so does an edit.`);
    const range = new vscode.Range(effect.startLine, effect.startCharacter, effect.endLine, effect.endCharacter);
    return new vscode.Hover(text, document.validateRange(range));
  }

  dispose(): void {
    vscode.Disposable.from(...this.disposables).dispose();
  }
}
