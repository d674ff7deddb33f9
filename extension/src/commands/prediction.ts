/**
 * The commands that explain the prediction at the cursor from inside the model: Why This and Not
 * That? (the logit difference against an alternative, split into its sources) and Show Logit Lens
 * (what each layer would predict).
 */
import * as vscode from 'vscode';
import { errorMessage } from '../core/async';
import { alternativeItems, contrastGroups, contrastShares, contrastSummary, contrastTokens, type ContrastToken } from '../core/contrast';
import { lensItems, settlesSentence } from '../core/lens';
import type { ContrastResult } from '../core/protocolViews';
import { failureOf, Requests } from '../core/requests';
import { tokenLabel } from '../core/ranges';
import { attentionParams } from '../cursor';
import { MAX_TINTED_TOKENS } from '../decorations';
import { withEditor, type CommandContext, type CommandFactory } from './context';

const ANOTHER_TOKEN = '$(edit) Another token…';

/** Tells the user what failed, unless they cancelled it. */
function warn(error: unknown): void {
  if (failureOf(error) !== 'cancelled') {
    void vscode.window.showWarningMessage(`Atten-Scope: ${errorMessage(error)}`);
  }
}

/** The alternative the user picks among the hover's predictions at `position` (or types); undefined when dismissed. */
async function pickAlternative(ctx: CommandContext, document: vscode.TextDocument, position: vscode.Position): Promise<number | string | undefined> {
  const answer = await ctx.client.request(Requests.attention, attentionParams(document.uri, position, ctx.settings.effective));
  const prediction = answer.prediction;
  if (!prediction || !Array.isArray(prediction.top) || prediction.top.length === 0) {
    void vscode.window.showInformationMessage('Atten-Scope: this model keeps no predictions for this file, so there is no first choice to compare.');
    return undefined;
  }
  const first = prediction.top[0];
  const items: (vscode.QuickPickItem & { alternative?: number | string })[] = [
    ...alternativeItems(prediction),
    { label: ANOTHER_TOKEN, description: 'type a token as the prediction would show it' },
  ];
  const chosen = await vscode.window.showQuickPick(items, {
    title: `Why \`${tokenLabel(first.text, 30)}\` and not…?`,
    placeHolder: 'The model predicts its first choice here; compare it with',
  });
  if (!chosen) {
    return undefined;
  }
  if (chosen.alternative !== undefined) {
    return chosen.alternative;
  }
  const typed = await vscode.window.showInputBox({ title: 'Why This and Not That?', prompt: 'The alternative token (one token of the model, e.g. ")" or "·x")' });
  return typed ? typed : undefined;
}

/** Why the model predicts its first choice at the cursor and not an alternative: tints and a message. */
export const whyThisNotThat: CommandFactory = (ctx) =>
  withEditor(async (editor) => {
    const { analyzer, client, settings, painter, painting, log } = ctx;
    if (!(await analyzer.require(editor.document))) {
      return;
    }
    const document = editor.document;
    const version = document.version;
    const position = editor.selection.active;
    let result: ContrastResult | undefined;
    try {
      const alternative = await pickAlternative(ctx, document, position);
      if (alternative === undefined) {
        return;
      }
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Atten-Scope: why this and not that', cancellable: true },
        (progress, token) => {
          progress.report({ message: 'running the model over the text up to the token (seconds)' });
          return client.request(
            Requests.contrast,
            { textDocument: { uri: document.uri.toString() }, position: { line: position.line, character: position.character }, alternative, topK: settings.effective.topK },
            token,
          );
        },
      );
    } catch (error) {
      warn(error);
      return;
    }
    if (!result || document.version !== version || !vscode.window.visibleTextEditors.includes(editor)) {
      return;
    }
    const { toward, against } = contrastGroups(contrastTokens(result), MAX_TINTED_TOKENS);
    const ranges = (tokens: ContrastToken[], doc: vscode.TextDocument): vscode.Range[] =>
      tokens.map((t) => doc.validateRange(new vscode.Range(t.startLine, t.startCharacter, t.endLine, t.endCharacter))).filter((r) => !r.isEmpty);
    // green toward the model's own choice, red toward the alternative; shown until the cursor moves
    painting.enter(document, 'contrast', { paint: (e) => painter.paintCompare(e, ranges(toward, e.document), ranges(against, e.document)) });
    const summary = contrastSummary(result);
    log.info(summary);
    const shares = contrastShares(result);
    if (shares) {
      vscode.window.setStatusBarMessage(`Atten-Scope: of the difference, ${shares}`, 15_000);
    }
    void vscode.window.showInformationMessage(`Atten-Scope: ${summary}`);
  });

/** What each layer would predict after the token at the cursor, in a quick pick, and where the prediction settles. */
export const showLogitLens: CommandFactory = ({ analyzer, client }) =>
  withEditor(async (editor) => {
    if (!(await analyzer.require(editor.document))) {
      return;
    }
    const document = editor.document;
    const position = editor.selection.active;
    try {
      const result = await client.request(Requests.logitLens, {
        textDocument: { uri: document.uri.toString() },
        position: { line: position.line, character: position.character },
        topK: 5,
      });
      const items = lensItems(result);
      if (items.length === 0) {
        void vscode.window.showWarningMessage('Atten-Scope: the logit lens came back without layers.');
        return;
      }
      const after = result.token ? ` after \`${tokenLabel(result.token.label ?? result.token.text, 30)}\` (line ${result.token.range.start.line + 1})` : '';
      await vscode.window.showQuickPick(items, {
        title: `Logit lens${after}: ${settlesSentence(result) ?? ''}`,
        placeHolder: 'What each layer would predict if it were the last (its residual stream through the final norm and the LM head)',
        matchOnDescription: true,
      });
    } catch (error) {
      warn(error);
    }
  });
