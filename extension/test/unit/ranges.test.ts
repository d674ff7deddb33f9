import { describe, expect, it } from 'vitest';
import {
  comparePositions,
  isPosition,
  isRange,
  positionBefore,
  toPlainRange,
  tokenLabel,
} from '../../src/core/ranges';

const r = (sl: number, sc: number, el: number, ec: number) => ({
  start: { line: sl, character: sc },
  end: { line: el, character: ec },
});

describe('range guards', () => {
  it('accepts well-formed positions and ranges', () => {
    expect(isPosition({ line: 0, character: 0 })).toBe(true);
    expect(isRange(r(1, 2, 3, 4))).toBe(true);
  });

  it('rejects malformed ones', () => {
    expect(isPosition(null)).toBe(false);
    expect(isPosition({ line: -1, character: 0 })).toBe(false);
    expect(isPosition({ line: 0.5, character: 0 })).toBe(false);
    expect(isPosition({ line: NaN, character: 0 })).toBe(false);
    expect(isPosition({ line: '1', character: 0 })).toBe(false);
    expect(isPosition({ line: 2 ** 60, character: 0 })).toBe(false);
    expect(isRange({ start: { line: 0, character: 0 } })).toBe(false);
    expect(isRange([])).toBe(false);
  });
});

describe('toPlainRange', () => {
  it('converts a protocol range', () => {
    expect(toPlainRange(r(1, 2, 3, 4))).toEqual({ startLine: 1, startCharacter: 2, endLine: 3, endCharacter: 4 });
  });

  it('swaps a reversed range', () => {
    expect(toPlainRange(r(3, 4, 1, 2))).toEqual({ startLine: 1, startCharacter: 2, endLine: 3, endCharacter: 4 });
    expect(toPlainRange(r(1, 9, 1, 2))).toEqual({ startLine: 1, startCharacter: 2, endLine: 1, endCharacter: 9 });
  });

  it('returns undefined for garbage', () => {
    expect(toPlainRange(undefined)).toBeUndefined();
    expect(toPlainRange({ start: 1, end: 2 })).toBeUndefined();
  });

  it('keeps empty ranges and UTF-16 columns as they are', () => {
    expect(toPlainRange(r(2, 3, 2, 3))).toEqual({ startLine: 2, startCharacter: 3, endLine: 2, endCharacter: 3 });
    // after "x = 😀" the emoji ends at UTF-16 column 6
    expect(toPlainRange(r(0, 4, 0, 6))).toEqual({ startLine: 0, startCharacter: 4, endLine: 0, endCharacter: 6 });
  });
});

describe('comparePositions', () => {
  it('orders by line then character', () => {
    expect(comparePositions({ line: 1, character: 9 }, { line: 2, character: 0 })).toBeLessThan(0);
    expect(comparePositions({ line: 2, character: 3 }, { line: 2, character: 1 })).toBeGreaterThan(0);
    expect(comparePositions({ line: 2, character: 3 }, { line: 2, character: 3 })).toBe(0);
  });
});

describe('positionBefore', () => {
  const lines = ['ab😀', 'x'];
  it('steps back one code unit', () => {
    expect(positionBefore({ line: 0, character: 2 }, lines)).toEqual({ line: 0, character: 1 });
  });
  it('steps over a whole surrogate pair', () => {
    expect(positionBefore({ line: 0, character: 4 }, lines)).toEqual({ line: 0, character: 2 });
  });
  it('goes to the end of the previous line at a line start', () => {
    expect(positionBefore({ line: 1, character: 0 }, lines)).toEqual({ line: 0, character: 4 });
  });
  it('stays at the document start', () => {
    expect(positionBefore({ line: 0, character: 0 }, lines)).toEqual({ line: 0, character: 0 });
  });
});

describe('tokenLabel', () => {
  it("shows whitespace with the server's symbols", () => {
    expect(tokenLabel(' \t\n')).toBe('·⇥↵');
    expect(tokenLabel('\r\n')).toBe('↵');
    expect(tokenLabel(' a b ')).toBe('·a b·');
    expect(tokenLabel('')).toBe('∅');
  });
  it("prefers the server's label", () => {
    expect(tokenLabel({ text: '', label: '折 (part)' })).toBe('折 (part)');
    expect(tokenLabel({ text: '\n' })).toBe('↵');
    expect(tokenLabel({ text: 'x', label: 'abcdef' }, 4)).toBe('abc…');
  });
  it('cuts long text by code points, not code units', () => {
    const label = tokenLabel('😀'.repeat(50), 10);
    expect(Array.from(label)).toHaveLength(10);
    expect(label.endsWith('…')).toBe(true);
    expect(label).not.toMatch(/[\ud800-\udbff]…$/);
  });
  it('keeps markup as plain text', () => {
    expect(tokenLabel('<b>')).toBe('<b>');
  });
});
