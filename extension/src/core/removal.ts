/**
 * "What if these lines were removed?" without 'vscode': which lines and which token a command
 * asks about, the sentence of a line-removal answer (Requests.removeLines), and its effect heat.
 *
 * The heat is the exact change of each later token's surprisal without the lines,
 * delta = s_without - s_with bits, s = -log2 p(token | the text before it) (docs/PROTOCOL.md):
 * above 0 the token is more surprising without the lines, so they helped predict it.
 */
import { signed } from './format';
import { formatProbability } from './surprise';
import type { Position, Prediction } from './protocol';
import type { RemovalHeat, RemoveLinesResult } from './protocolViews';
import { isIndex, type PlainRange } from './ranges';

/** Tokens whose surprisal changes by less than this are not tinted: the heat shows what moved. */
export const EFFECT_MIN_BITS = 0.5;

export interface LineSpan {
  /** 0-based, inclusive */
  first: number;
  last: number;
}

/** A selection as the command sees it (VS Code's, in plain numbers). */
export interface SelectionLike {
  start: Position;
  end: Position;
  active: Position;
}

/**
 * The lines a selection covers: the cursor's line when it is empty; a selection of whole lines
 * ends at character 0 of the line after them, which is not removed.
 */
export function selectedLines(selection: SelectionLike): LineSpan {
  const { start, end } = selection;
  const last = end.line > start.line && end.character === 0 ? end.line - 1 : end.line;
  return { first: start.line, last };
}

/**
 * The position whose prediction is compared. The selection's active end when it lies after the
 * removed lines (the user put the cursor there), unless it is where a selection of whole lines
 * ends, at character 0 of the next line (where selecting lines leaves it, not a choice);
 * otherwise, without asking, the last non-blank
 * character of the document's last non-blank line: the end of the code that follows the lines,
 * the prediction most of the lines' context can reach. Its token is followed by the line break,
 * so there is always an actual next token to rate. `lines` holds the document's lines (text
 * without line breaks). Undefined when no non-blank line follows the removed ones.
 */
export function comparedPosition(span: LineSpan, active: Position, lines: readonly string[]): Position | undefined {
  const endOfWholeLines = active.line === span.last + 1 && active.character === 0;
  if (active.line > span.last && active.line < lines.length && !endOfWholeLines) {
    return active;
  }
  for (let line = lines.length - 1; line > span.last; line--) {
    const text = lines[line].trimEnd();
    if (text.trim().length > 0) {
      return { line, character: text.length - 1 };
    }
  }
  return undefined;
}

/** "line 40" or "lines 40-42" (1-based, as the editor shows them). */
export function linesLabel(span: LineSpan): string {
  return span.first === span.last ? `line ${span.first + 1}` : `lines ${span.first + 1}-${span.last + 1}`;
}

const quote = (text: string): string => `\`${text}\``;

function actualPart(prediction: Prediction | null, shownText: string | undefined): string {
  const actual = prediction?.actual;
  if (!actual) {
    return prediction ? 'nothing follows' : 'no prediction';
  }
  const token = shownText === undefined || shownText !== actual.text ? `${quote(actual.text)} ` : '';
  return `${token}${formatProbability(actual.probability)} (rank ${actual.rank})`;
}

/**
 * ", +1.79 bits of surprise": the change of the actual next token's surprisal, log2(p_with / p_without),
 * where the same token follows with and without the lines; percentages alone hide a small change.
 */
function surpriseChange(before: Prediction | null, after: Prediction | null): string {
  const a = before?.actual;
  const b = after?.actual;
  if (a?.text === undefined || a.text !== b?.text || !(a.probability > 0 && b.probability > 0)) {
    return '';
  }
  return `, ${signed(Math.log2(a.probability / b.probability))} bits of surprise`;
}

/** "1,720" */
function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * "Without lines 40-42: `all` 62% (rank 1) -> 18% (rank 3); now predicts `(` 41%, `x` 9%, ...
 * Recomputed 310 tokens, reused 1,720, 2.1 s."
 */
export function removalSummary(result: RemoveLinesResult): string {
  const span = { first: result.lines.first, last: result.lines.last };
  const before = result.before?.actual?.text;
  let change: string;
  if (!result.before && !result.after) {
    change = 'this model keeps no predictions';
  } else {
    const first = before !== undefined ? `${quote(before)} ${actualPart(result.before, before)}` : actualPart(result.before, undefined);
    change = `${first} -> ${actualPart(result.after, before)}${surpriseChange(result.before, result.after)}`;
  }
  const top = (result.after?.top ?? []).slice(0, 3).map((t) => `${quote(t.text)} ${formatProbability(t.probability)}`);
  const predicts = top.length ? `; now predicts ${top.join(', ')}${(result.after?.top.length ?? 0) > 3 ? ', ...' : ''}` : '';
  const where = result.token?.label ?? result.token?.text;
  const at = where !== undefined ? ` after ${quote(where)} (line ${result.token.range.start.line + 1})` : '';
  const seconds = (result.elapsedMs / 1000).toFixed(1);
  return (
    `Without ${linesLabel(span)}${at}: ${change}${predicts}${predicts.endsWith('...') ? ' ' : '. '}` +
    `Recomputed ${count(result.recomputedTokens)} tokens, reused ${count(result.reusedTokens)}, ${seconds} s.`
  );
}

export interface EffectToken extends PlainRange {
  /** token index in the document */
  index: number;
  /** change of the token's surprisal without the lines, bits */
  delta: number;
}

/** The heat's tokens; malformed entries are skipped. */
export function effectTokens(heat: RemovalHeat | null | undefined): EffectToken[] {
  if (!heat || !Array.isArray(heat.indices) || !Array.isArray(heat.delta) || !Array.isArray(heat.ranges)) {
    return [];
  }
  const tokens: EffectToken[] = [];
  heat.indices.forEach((index, k) => {
    const delta = heat.delta[k];
    const r = heat.ranges.slice(4 * k, 4 * k + 4);
    if (!isIndex(index) || typeof delta !== 'number' || !Number.isFinite(delta) || r.length !== 4 || !r.every(isIndex)) {
      return;
    }
    const [startLine, startCharacter, endLine, endCharacter] = r;
    tokens.push({ index, startLine, startCharacter, endLine, endCharacter, delta });
  });
  return tokens;
}

/**
 * The tinted tokens, strongest change first, at most `cap` a side: `helped` became more
 * surprising without the lines (delta >= minBits), `hindered` less (delta <= -minBits).
 */
export function effectGroups(
  tokens: readonly EffectToken[],
  minBits = EFFECT_MIN_BITS,
  cap = Infinity,
): { helped: EffectToken[]; hindered: EffectToken[] } {
  const strongest = (a: EffectToken, b: EffectToken): number => Math.abs(b.delta) - Math.abs(a.delta) || a.index - b.index;
  return {
    helped: tokens.filter((t) => t.delta >= minBits).sort(strongest).slice(0, cap),
    hindered: tokens.filter((t) => t.delta <= -minBits).sort(strongest).slice(0, cap),
  };
}

/** What one token's tint means, for the hover. */
export function effectSentence(token: EffectToken, span: LineSpan): string {
  const bits = Math.abs(token.delta).toFixed(1);
  if (token.delta > 0) {
    return `Without ${linesLabel(span)} this token is ${bits} bits more surprising: the lines helped predict it.`;
  }
  if (token.delta < 0) {
    return `Without ${linesLabel(span)} this token is ${bits} bits less surprising: the lines made it less expected.`;
  }
  return `Without ${linesLabel(span)} this token is as surprising as with them.`;
}

/** The colours, for the status bar and the hover. */
export function effectLegend(span: LineSpan, tokens: readonly EffectToken[], minBits = EFFECT_MIN_BITS): string {
  const { helped, hindered } = effectGroups(tokens, minBits);
  const total = tokens.reduce((sum, t) => sum + t.delta, 0);
  const sign = total >= 0 ? '+' : '-';
  return (
    `Effect of removing ${linesLabel(span)}: red tokens (${helped.length}) are more surprising without them (the lines helped), ` +
    `green ones (${hindered.length}) less; changes under ${minBits} bits are not tinted. ` +
    `Over the ${tokens.length} tokens after them: ${sign}${Math.abs(total).toFixed(1)} bits in all.`
  );
}
