/** The surprise heat's colour, explained under the server's hover card. */
import * as vscode from 'vscode';
import { BUCKET_COUNT } from './core/buckets';
import { scaleSentence, surpriseSentence, tokenAt, tokenBucket } from './core/surprise';
import type { CursorTracker } from './cursor';
import type { Painting } from './painting';

/** Registers the hover that says what a token's surprise colour means, while its document shows the surprise heat. */
export function registerSurpriseHover(painting: Painting, cursor: CursorTracker): vscode.Disposable {
  return vscode.languages.registerHoverProvider([{ scheme: 'file' }, { scheme: 'untitled' }], {
    provideHover(document, position) {
      if (painting.modeOf(document) !== 'surprise') {
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
  });
}
