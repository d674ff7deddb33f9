/** The commands that open a webview panel about the active document or the token at the cursor. */
import * as vscode from 'vscode';
import { readFlowArgs } from '../core/flow';
import { parseHead } from '../core/neuron';
import { FlowPanel } from '../panels/flowPanel';
import { HeatmapPanel } from '../panels/heatmapPanel';
import { ModelViewPanel } from '../panels/modelViewPanel';
import { NeuronPanel } from '../panels/neuronPanel';
import { activeEditor, withEditor, type CommandContext, type CommandFactory } from './context';

/** Show Heatmap, centred on the token the cursor view shows in this document. */
export const showHeatmap: CommandFactory = ({ analyzer, cursor, panels }) =>
  withEditor(async (editor) => {
    if (!(await analyzer.require(editor.document))) {
      return;
    }
    const shown = cursor.current;
    const center = shown?.uri.toString() === editor.document.uri.toString() ? shown.result.token?.index : undefined;
    HeatmapPanel.show(panels, editor.document, center);
  });

/** Show Model View: every layer and head, for the token at the cursor. */
export const showModelView: CommandFactory = ({ analyzer, panels }) =>
  withEditor(async (editor) => {
    if (await analyzer.require(editor.document, true)) {
      ModelViewPanel.show(panels, editor.document, editor.selection.active);
    }
  });

/** The layer and head the user types, offered as the one chosen in the settings. */
async function askHead({ store, settings }: CommandContext, document: vscode.TextDocument): Promise<{ layer: number; head: number } | undefined> {
  const model = store.get(document.uri)?.result.model;
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
  return typeof parsed === 'string' ? undefined : parsed;
}

/** Show Neuron View: one head's query and key for the token at the cursor. */
export const showNeuronView: CommandFactory = (ctx) =>
  withEditor(async (editor) => {
    if (!(await ctx.analyzer.require(editor.document, true))) {
      return;
    }
    const head = await askHead(ctx, editor.document);
    if (head) {
      NeuronPanel.show(ctx.panels, { document: editor.document, position: editor.selection.active, ...head });
    }
  });

/**
 * The token a command is about: the cursor's (palette, context menu), or a document and position
 * (a hover link); `command` names the command in the log.
 */
export async function tokenTarget(
  args: unknown[],
  log: vscode.LogOutputChannel,
  command: string,
): Promise<{ document: vscode.TextDocument; position: vscode.Position } | undefined> {
  const target = readFlowArgs(args);
  if (target === undefined) {
    log.warn(`${command}: arguments not understood: ${JSON.stringify(args).slice(0, 200)}`);
    return undefined;
  }
  if (target === 'cursor') {
    const editor = activeEditor();
    return editor && { document: editor.document, position: editor.selection.active };
  }
  let document: vscode.TextDocument;
  try {
    document = await vscode.workspace.openTextDocument(vscode.Uri.parse(target.uri, true));
  } catch (error) {
    void vscode.window.showWarningMessage(`Atten-Scope: cannot open ${target.uri}: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
  return { document, position: document.validatePosition(new vscode.Position(target.position.line, target.position.character)) };
}

/** Show Information Flow: the routes to one token's prediction. */
export const showFlow: CommandFactory =
  ({ analyzer, panels, log }) =>
  async (...args: unknown[]) => {
    const target = await tokenTarget(args, log, 'Show Information Flow');
    if (target && (await analyzer.require(target.document))) {
      FlowPanel.show(panels, target);
    }
  };
