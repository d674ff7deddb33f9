/** The command table: each contributed command id and the factory that builds its handler. */
import * as vscode from 'vscode';
import { Commands } from '../constants';
import { showAccumulative } from './accumulative';
import { analyzeFile, analyzeWithContext } from './analyze';
import { completeHere, dismissCompletion, explainPrediction } from './completion';
import type { CommandContext, CommandFactory } from './context';
import { pinHoverCard } from './hoverCard';
import { showFlow, showHeatmap, showModelView, showNeuronView } from './panels';
import { showLogitLens, whyThisNotThat } from './prediction';
import { chooseLayersHeads, chooseModel, chooseRefinement, chooseTintUnit, statusMenu, toggleDirection, toggleHeatMode } from './pickers';
import { clear, restartServer, setUp, showLogs } from './server';
import { compareWith, markSelection, removeLines } from './whatIf';

type CommandId = (typeof Commands)[keyof typeof Commands];

/** Every command of package.json's contributes.commands, and no other. */
export const COMMANDS: Readonly<Record<CommandId, CommandFactory>> = {
  [Commands.analyzeFile]: analyzeFile,
  [Commands.analyzeWithContext]: analyzeWithContext,
  [Commands.showHeatmap]: showHeatmap,
  [Commands.showModelView]: showModelView,
  [Commands.showNeuronView]: showNeuronView,
  [Commands.showFlow]: showFlow,
  [Commands.showAccumulative]: showAccumulative,
  [Commands.removeLines]: removeLines,
  [Commands.toggleDirection]: toggleDirection,
  [Commands.toggleHeatMode]: toggleHeatMode,
  [Commands.chooseTintUnit]: chooseTintUnit,
  [Commands.chooseLayersHeads]: chooseLayersHeads,
  [Commands.chooseRefinement]: chooseRefinement,
  [Commands.chooseModel]: chooseModel,
  [Commands.compareWith]: compareWith,
  [Commands.markSelection]: markSelection,
  [Commands.clear]: clear,
  [Commands.restartServer]: restartServer,
  [Commands.showLogs]: showLogs,
  [Commands.statusMenu]: statusMenu,
  [Commands.setUp]: setUp,
  [Commands.completeHere]: completeHere,
  [Commands.dismissCompletion]: dismissCompletion,
  [Commands.explainPrediction]: explainPrediction,
  [Commands.whyThisNotThat]: whyThisNotThat,
  [Commands.showLogitLens]: showLogitLens,
  [Commands.pinHoverCard]: pinHoverCard,
};

/** Registers every command of the table with its handler built from `ctx`. */
export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, factory]) => vscode.commands.registerCommand(id, factory(ctx)));
}
