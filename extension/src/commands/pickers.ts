/** The commands that change a setting through a picker or a toggle (../pickers.ts holds the pickers). */
import * as vscode from 'vscode';
import * as pickers from '../pickers';
import type { CommandFactory } from './context';

/** Flips between attendsTo and attendedBy. */
export const toggleDirection: CommandFactory = ({ settings }) => () => pickers.toggleDirection(settings);

/** Flips the heat between attention and surprise. */
export const toggleHeatMode: CommandFactory = ({ settings }) => () => pickers.toggleHeatMode(settings);

/** Chooses what the tints stand for: tokens, identifiers or definitions. */
export const chooseTintUnit: CommandFactory = ({ settings }) => () => pickers.chooseTintUnit(settings);

/** Chooses the view (refinement and aggregate) among those the server offers. */
export const chooseRefinement: CommandFactory = ({ settings, client }) => () => pickers.chooseRefinement(settings, client.catalog);

/** Chooses the model (embedded, recent, or a typed id or path) and its device. */
export const chooseModel: CommandFactory = ({ settings, client, extension }) => () => pickers.chooseModel(settings, client.catalog, extension.globalState);

/** Offers the layers and heads of the model that analysed the active document. */
export const chooseLayersHeads: CommandFactory =
  ({ settings, store }) =>
  () => {
    const editor = vscode.window.activeTextEditor;
    const model = editor ? store.get(editor.document.uri)?.result.model : undefined;
    return pickers.chooseLayersHeads(settings, model);
  };

/** The menu behind the status bar item. */
export const statusMenu: CommandFactory = () => () => pickers.statusMenu();
