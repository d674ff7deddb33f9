/** Protocol ranges to plain, validated structures (UTF-16 positions, as LSP and VS Code use). */
import type { Position, Range } from './protocol';

export interface PlainRange {
  startLine: number;
  startCharacter: number;
  endLine: number;
  endCharacter: number;
}

/** A whole, non-negative number: a line, a character, a token index. */
export function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function isPosition(value: unknown): value is Position {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const p = value as Record<string, unknown>;
  return isIndex(p.line) && isIndex(p.character);
}

export function isRange(value: unknown): value is Range {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const r = value as Record<string, unknown>;
  return isPosition(r.start) && isPosition(r.end);
}

export function comparePositions(a: Position, b: Position): number {
  return a.line - b.line || a.character - b.character;
}

/**
 * Converts a protocol range into a plain range; returns undefined for malformed input.
 * A reversed range is swapped so start <= end.
 */
export function toPlainRange(value: unknown): PlainRange | undefined {
  if (!isRange(value)) {
    return undefined;
  }
  let { start, end } = value;
  if (comparePositions(start, end) > 0) {
    [start, end] = [end, start];
  }
  return { startLine: start.line, startCharacter: start.character, endLine: end.line, endCharacter: end.character };
}

/**
 * The position just before `pos` in UTF-16 units (skipping a whole surrogate pair), used to
 * find the last token of a selection. Returns `pos` at the start of the document.
 */
export function positionBefore(pos: Position, lines: readonly string[]): Position {
  if (pos.character > 0) {
    const text = lines[pos.line] ?? '';
    let c = Math.min(pos.character, text.length) - 1;
    const code = text.charCodeAt(c);
    if (c > 0 && code >= 0xdc00 && code <= 0xdfff) {
      const high = text.charCodeAt(c - 1);
      if (high >= 0xd800 && high <= 0xdbff) {
        c -= 1;
      }
    }
    return { line: pos.line, character: Math.max(0, c) };
  }
  if (pos.line === 0) {
    return pos;
  }
  const prev = lines[pos.line - 1] ?? '';
  return { line: pos.line - 1, character: prev.length };
}

/** A token as the server describes it: its exact source text and, from servers that send it, its label. */
export interface TokenText {
  text: string;
  /** What a reader is shown (server-side `tokens.label`): whitespace as symbols, `折 (part)` for a piece of a character. */
  label?: string;
}

/**
 * Short one-line label for a token: the server's `label` when there is one, else the text with the
 * server's symbols (↵ line break, ⇥ tab, · leading or trailing space); cut to `max` code points.
 */
export function tokenLabel(token: TokenText | string, max = 40): string {
  const shown = typeof token === 'string' ? visibleText(token) : (token.label ?? visibleText(token.text));
  const chars = Array.from(shown);
  if (chars.length <= max) {
    return shown;
  }
  return chars.slice(0, Math.max(1, max - 1)).join('') + '…';
}

/** The server's `tokens.visible` for servers that send no label. */
function visibleText(text: string): string {
  const symbols = text.replace(/\r\n|\r|\n/g, '↵').replace(/\t/g, '⇥');
  const inner = symbols.replace(/^ +| +$/g, (spaces) => '·'.repeat(spaces.length));
  return inner === '' ? '∅' : inner;
}
