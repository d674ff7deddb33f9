/** The commands about the server and what it holds: clear, restart, logs, set up. */
import * as vscode from 'vscode';
import type { CommandContext, CommandFactory } from './context';

/** Forgets every analysis and its painting (the server's analyses go with a restart). */
function forgetAnalyses({ analyzer, store, painter }: CommandContext): void {
  analyzer.cancelAll();
  store.clear();
  painter.clearAll();
}

/** Clears every analysis and painting: the overlays end (the comparison's panel closes) and the heat returns to attention. */
export const clear: CommandFactory = (ctx) => () => {
  ctx.analyzer.cancelAll();
  ctx.comparer.clear();
  ctx.painting.clear();
  ctx.store.clear();
  ctx.painter.clearAll();
  ctx.updateNote();
};

/** Restarts the server; its analyses go with it. */
export const restartServer: CommandFactory = (ctx) => async () => {
  forgetAnalyses(ctx);
  try {
    await ctx.client.restart();
    vscode.window.setStatusBarMessage('Atten-Scope: server restarted', 3000);
  } catch {
    // the reason was shown already
  }
};

/** Shows the output channel. */
export const showLogs: CommandFactory =
  ({ log }) =>
  () =>
    log.show(true);

/** Set Up: builds the server's own environment afresh and restarts the server from it. */
export const setUp: CommandFactory = (ctx) => async () => {
  const { client, analyzer, setup } = ctx;
  const began = Date.now();
  if (client.interpreterSource === 'managed' && client.state !== 'stopped') {
    // Set Up builds the environment afresh: the server must not run from it meanwhile.
    analyzer.cancelAll();
    await client.stop();
  }
  if (!(await setup.setUp())) {
    return;
  }
  forgetAnalyses(ctx);
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
};
