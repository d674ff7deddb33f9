/** Paints attention into editors: tints on source tokens, the cursor token's border, gutter heat. */
import * as vscode from 'vscode';
import { BUCKET_COUNT, bucketize, capItems, groupByBucket } from './core/buckets';
import type { AttentionResult, Range } from './core/protocol';
import { toPlainRange, type PlainRange } from './core/ranges';
import { lineBucket, lineSums, tokenBucket, type SurpriseToken } from './core/surprise';
import { unitTintGroups, type TintUnit } from './core/units';

/** Upper bounds so a huge answer never floods the renderer. */
export const MAX_TINTED_TOKENS = 500;
export const MAX_GUTTER_LINES = 5000;
/** Surprise tints every analysed token: a larger cap than the attention's top tokens. */
export const MAX_SURPRISE_TOKENS = 50_000;

/** Protocol range -> VS Code range inside the document, or undefined when malformed. */
export function toVsRange(document: vscode.TextDocument, range: Range | undefined): vscode.Range | undefined {
  const plain = toPlainRange(range);
  if (!plain) {
    return undefined;
  }
  return document.validateRange(
    new vscode.Range(plain.startLine, plain.startCharacter, plain.endLine, plain.endCharacter),
  );
}

function themeColor(id: string): vscode.ThemeColor {
  return new vscode.ThemeColor(id);
}

export class Painter implements vscode.Disposable {
  private readonly sourceTypes: vscode.TextEditorDecorationType[];
  private readonly gutterTypes: vscode.TextEditorDecorationType[];
  /** whole-line tints of definitions (attenScope.tintUnit = definition) */
  private readonly lineTypes: vscode.TextEditorDecorationType[];
  private readonly cursorType: vscode.TextEditorDecorationType;
  private readonly increaseType: vscode.TextEditorDecorationType;
  private readonly decreaseType: vscode.TextEditorDecorationType;
  private readonly flashType: vscode.TextEditorDecorationType;
  private readonly painted = new Set<vscode.TextEditor>();
  /** the surprise each editor shows, so a cursor move does not paint it again */
  private readonly surpriseShown = new WeakMap<vscode.TextEditor, readonly SurpriseToken[]>();
  private flashTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(extensionUri: vscode.Uri) {
    this.sourceTypes = Array.from({ length: BUCKET_COUNT }, (_, b) =>
      vscode.window.createTextEditorDecorationType({
        backgroundColor: themeColor(`attenScope.weight${b + 1}`),
        borderRadius: '2px',
        rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
      }),
    );
    this.lineTypes = Array.from({ length: BUCKET_COUNT }, (_, b) =>
      vscode.window.createTextEditorDecorationType({
        isWholeLine: true,
        backgroundColor: themeColor(`attenScope.weight${b + 1}`),
      }),
    );
    this.gutterTypes = Array.from({ length: BUCKET_COUNT }, (_, b) =>
      vscode.window.createTextEditorDecorationType({
        isWholeLine: true,
        gutterIconPath: vscode.Uri.joinPath(extensionUri, 'extension', 'media', 'gutter', `heat${b + 1}.svg`),
        gutterIconSize: 'contain',
        overviewRulerColor: themeColor(`attenScope.weight${b + 1}`),
        overviewRulerLane: vscode.OverviewRulerLane.Right,
      }),
    );
    this.cursorType = vscode.window.createTextEditorDecorationType({
      border: '1px solid',
      borderColor: themeColor('attenScope.cursorTokenBorder'),
      borderRadius: '2px',
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    });
    this.increaseType = vscode.window.createTextEditorDecorationType({
      backgroundColor: themeColor('attenScope.increase'),
      overviewRulerColor: themeColor('attenScope.increase'),
      overviewRulerLane: vscode.OverviewRulerLane.Left,
    });
    this.decreaseType = vscode.window.createTextEditorDecorationType({
      backgroundColor: themeColor('attenScope.decrease'),
      overviewRulerColor: themeColor('attenScope.decrease'),
      overviewRulerLane: vscode.OverviewRulerLane.Left,
    });
    this.flashType = vscode.window.createTextEditorDecorationType({
      border: '2px solid',
      borderColor: themeColor('attenScope.cursorTokenBorder'),
      backgroundColor: themeColor('attenScope.weight5'),
    });
  }

  /**
   * Paints one attention answer; `topK` caps the tinted tokens (or units). `unit`: what a tint
   * stands for (attenScope.tintUnit): a token, every occurrence of an identifier, or the lines of
   * a definition; an answer without units falls back to tokens.
   */
  paintAttention(editor: vscode.TextEditor, result: AttentionResult, topK: number, unit: TintUnit = 'token'): void {
    this.surpriseShown.delete(editor);
    const doc = editor.document;
    const byUnit = unit !== 'token' && result.units !== undefined;
    const targets = Array.isArray(result.targets) && !byUnit ? result.targets : [];
    const buckets = bucketize(
      targets.map((t) => t.weight),
      { topK: Math.min(topK, MAX_TINTED_TOKENS) },
    );
    const groups = groupByBucket(buckets);
    const identifiers = byUnit && unit === 'identifier' ? unitTintGroups(result.units, unit, topK, MAX_TINTED_TOKENS) : [];
    const definitions = byUnit && unit === 'definition' ? unitTintGroups(result.units, unit, topK, MAX_GUTTER_LINES) : [];
    const toVs = (ranges: PlainRange[] | undefined): vscode.Range[] =>
      (ranges ?? []).map((r) => doc.validateRange(new vscode.Range(r.startLine, r.startCharacter, r.endLine, r.endCharacter)));
    groups.forEach((items, b) => {
      const ranges = capItems(items, MAX_TINTED_TOKENS)
        .map((i) => toVsRange(doc, targets[i].range))
        .filter((r): r is vscode.Range => r !== undefined && !r.isEmpty);
      editor.setDecorations(this.sourceTypes[b], [...ranges, ...toVs(identifiers[b])]);
      editor.setDecorations(this.lineTypes[b], toVs(definitions[b]));
    });
    const cursorRange = toVsRange(doc, result.token?.range);
    editor.setDecorations(this.cursorType, cursorRange ? [cursorRange] : []);

    const lines = Array.isArray(result.lines) ? capItems(result.lines, MAX_GUTTER_LINES) : [];
    const lineBuckets = bucketize(
      lines.map((l) => l.weight),
      { minFraction: 0.05 },
    );
    groupByBucket(lineBuckets).forEach((items, b) => {
      const ranges = items
        .map((i) => lines[i].line)
        .filter((line) => Number.isSafeInteger(line) && line >= 0 && line < doc.lineCount)
        .map((line) => new vscode.Range(line, 0, line, 0));
      editor.setDecorations(this.gutterTypes[b], ranges);
    });
    this.painted.add(editor);
  }

  /**
   * Paints the surprise heat: every token tinted by its surprisal on the fixed scale of
   * core/surprise.ts, the gutter by each line's summed surprisal.
   */
  paintSurprise(editor: vscode.TextEditor, tokens: readonly SurpriseToken[]): void {
    if (this.surpriseShown.get(editor) === tokens && this.painted.has(editor)) {
      return;
    }
    this.surpriseShown.set(editor, tokens);
    const doc = editor.document;
    const shown = capItems(tokens, MAX_SURPRISE_TOKENS);
    const groups = groupByBucket(shown.map((t) => tokenBucket(t.bits)));
    groups.forEach((items, b) => {
      const ranges = items
        .map((i) => shown[i])
        .map((t) => doc.validateRange(new vscode.Range(t.startLine, t.startCharacter, t.endLine, t.endCharacter)))
        .filter((r) => !r.isEmpty);
      editor.setDecorations(this.sourceTypes[b], ranges);
    });
    editor.setDecorations(this.cursorType, []);
    const lines = capItems(lineSums(shown), MAX_GUTTER_LINES);
    groupByBucket(lines.map((l) => lineBucket(l.bits))).forEach((items, b) => {
      const ranges = items
        .map((i) => lines[i].line)
        .filter((line) => line < doc.lineCount)
        .map((line) => new vscode.Range(line, 0, line, 0));
      editor.setDecorations(this.gutterTypes[b], ranges);
    });
    this.painted.add(editor);
  }

  /** Tints of a comparison: tokens that gained and lost attention. */
  paintCompare(editor: vscode.TextEditor, increases: vscode.Range[], decreases: vscode.Range[]): void {
    this.clear(editor);
    editor.setDecorations(this.increaseType, capItems(increases, MAX_TINTED_TOKENS));
    editor.setDecorations(this.decreaseType, capItems(decreases, MAX_TINTED_TOKENS));
    this.painted.add(editor);
  }

  /** Briefly outlines a range (the source token of a heatmap cell). */
  flash(editor: vscode.TextEditor, range: vscode.Range, ms = 2500): void {
    editor.setDecorations(this.flashType, [range]);
    this.painted.add(editor);
    if (this.flashTimer) {
      clearTimeout(this.flashTimer);
    }
    this.flashTimer = setTimeout(() => {
      this.flashTimer = undefined;
      editor.setDecorations(this.flashType, []);
    }, ms);
  }

  clear(editor: vscode.TextEditor): void {
    for (const type of [...this.sourceTypes, ...this.lineTypes, ...this.gutterTypes, this.cursorType, this.increaseType, this.decreaseType]) {
      editor.setDecorations(type, []);
    }
    this.surpriseShown.delete(editor);
    this.painted.delete(editor);
  }

  /** Clears every editor showing `uri` (a URI or its string; left out: all editors). */
  clearDocument(uri?: vscode.Uri | string): void {
    const key = uri?.toString();
    for (const editor of [...this.painted, ...vscode.window.visibleTextEditors]) {
      if (key === undefined || editor.document.uri.toString() === key) {
        this.clear(editor);
        editor.setDecorations(this.flashType, []);
      }
    }
  }

  clearAll(): void {
    this.clearDocument(undefined);
  }

  dispose(): void {
    if (this.flashTimer) {
      clearTimeout(this.flashTimer);
    }
    for (const type of [
      ...this.sourceTypes,
      ...this.lineTypes,
      ...this.gutterTypes,
      this.cursorType,
      this.increaseType,
      this.decreaseType,
      this.flashType,
    ]) {
      type.dispose();
    }
  }
}
