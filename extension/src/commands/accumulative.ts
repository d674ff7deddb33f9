/**
 * Show Accumulative Attention (ALTI rollout): the cursor token's sources accumulated through every
 * layer, tinted like the cursor view until the cursor moves, with their measured faithfulness.
 */
import * as vscode from 'vscode';
import { accumulativeSummary } from '../core/accumulative';
import { errorMessage } from '../core/async';
import type { AltiRolloutParams } from '../core/protocolViews';
import { failureOf, Requests } from '../core/requests';
import { withEditor, type CommandFactory } from './context';

/** Asks for the cursor token's accumulated sources and tints them. */
export const showAccumulative: CommandFactory = ({ analyzer, settings, client, painter, painting }) =>
  withEditor(async (editor) => {
    if (!(await analyzer.require(editor.document))) {
      return;
    }
    const document = editor.document;
    const position = editor.selection.active;
    const s = settings.effective;
    const params: AltiRolloutParams = {
      textDocument: { uri: document.uri.toString() },
      position: { line: position.line, character: position.character },
      dropSink: s.dropSink,
      topK: s.topK,
    };
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Atten-Scope: accumulative attention (ALTI rollout)', cancellable: true },
        (progress, token) => {
          progress.report({ message: 'running the model over the text up to the token' });
          // the server reports the pass, then each layer's rows: seconds at 512 tokens, minutes at 4,096 on a CPU
          return client.requestWithProgress(Requests.altiRollout, params, (step) => progress.report(step), token);
        },
      );
      if (!result || document.version !== editor.document.version || !vscode.window.visibleTextEditors.includes(editor)) {
        return;
      }
      // shown until the cursor moves (core/painting.ts), when the heat paints again
      painting.enter(document, 'accumulative', { paint: (e) => painter.paintAttention(e, result, s.topK) });
      void vscode.window.showInformationMessage(`Atten-Scope: ${accumulativeSummary(result)}`);
    } catch (error) {
      if (failureOf(error) !== 'cancelled') {
        void vscode.window.showWarningMessage(`Atten-Scope: ${errorMessage(error)}`);
      }
    }
  });
