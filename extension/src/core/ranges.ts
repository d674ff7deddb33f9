/** Protocol ranges to plain, validated structures (UTF-16 positions, as LSP and VS Code use). */
import type { Position, Range } from './protocol';

export interface PlainRange {
  startLine: number;
  startCharacter: number;
  endLine: number;
  endCharacter: number;
}

function isIndex(v: unknown): v is number {
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

/** Short one-line label for a token's text: whitespace made visible, long text cut. */
export function tokenLabel(text: string, max = 40): string {
  const visible = text.replace(/\r\n/g, '⏎').replace(/[\r\n]/g, '⏎').replace(/\t/g, '→').replace(/ /g, '·');
  const chars = Array.from(visible);
  if (chars.length <= max) {
    return visible === '' ? '∅' : visible;
  }
  return chars.slice(0, Math.max(1, max - 1)).join('') + '…';
}
