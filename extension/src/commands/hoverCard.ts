/** Pin Hover Card: the Atten-Scope hover card of a token, kept in a panel and exportable as Markdown. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { cardHeading, cardModel, hoverTexts, pickCard, pinnedTitle, reviewMarkdown } from '../core/hoverCard';
import { showPinnedCard } from '../panels/pinnedCardPanel';
import { SavedContentProvider } from '../savedContent';
import type { CommandFactory } from './context';
import { tokenTarget } from './panels';

/** The file as a review names it: its path in the workspace, else its name (never a path of this machine). */
function reviewName(uri: vscode.Uri): string {
  const name = SavedContentProvider.nameOf(uri);
  return path.isAbsolute(name) ? path.posix.basename(uri.path) : name;
}

/** Pin Hover Card: the card of the cursor's token (or a hover link's), in a panel beside the editor. */
export const pinHoverCard: CommandFactory =
  ({ analyzer, store, extension, log }) =>
  async (...args: unknown[]) => {
    const target = await tokenTarget(args, log, 'Pin Hover Card');
    if (!target || !(await analyzer.require(target.document, true))) {
      return;
    }
    const { document, position } = target;
    const hovers = await vscode.commands.executeCommand<vscode.Hover[] | undefined>('vscode.executeHoverProvider', document.uri, position);
    const card = pickCard(hoverTexts(hovers ?? []));
    if (!card) {
      void vscode.window.showInformationMessage('Atten-Scope: no hover card for the token at the cursor. Put the cursor on a token of the analysed file.');
      return;
    }
    const heading = cardHeading(card);
    const line = heading?.line ?? position.line + 1;
    const word = document.getWordRangeAtPosition(position);
    const token = heading?.token ?? (word ? document.getText(word) : `column ${position.character + 1}`);
    // the model that computed the card, as it names it; else the one of the file's analysis
    const model = cardModel(card) ?? store.latest(document)?.result.model.id;
    const markdown = reviewMarkdown(card, { file: reviewName(document.uri), line, model });
    await showPinnedCard(extension.extensionUri, log, pinnedTitle(token, line), markdown);
  };
