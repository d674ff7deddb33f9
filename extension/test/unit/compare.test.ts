import { describe, expect, it } from 'vitest';
import { diffLines, diffTargets, mapLines, positionKey, splitLines, textOccurrenceKeys } from '../../src/core/compare';
import type { Target } from '../../src/core/protocol';

const target = (index: number, line: number, character: number, text: string, weight: number): Target => ({
  index,
  text,
  weight,
  range: { start: { line, character }, end: { line, character: character + text.length } },
});

describe('mapLines', () => {
  it('maps identical texts line by line', () => {
    const a = ['x', 'y', 'z'];
    expect(mapLines(a, a)).toEqual([0, 1, 2]);
  });

  it('handles inserted and deleted lines', () => {
    const current = ['a', 'NEW', 'b', 'c'];
    const saved = ['a', 'b', 'OLD', 'c'];
    expect(mapLines(current, saved)).toEqual([0, undefined, 1, 3]);
  });

  it('handles empty sides', () => {
    expect(mapLines([], ['a'])).toEqual([]);
    expect(mapLines(['a'], [])).toEqual([undefined]);
  });

  it('maps repeated lines in order', () => {
    expect(mapLines(['}', '}', 'x', '}'], ['}', 'x', '}'])).toEqual([0, undefined, 1, 2]);
  });

  it('keeps prefix and suffix for a huge changed middle without quadratic work', () => {
    const mid = 3000;
    const a = ['head', ...Array.from({ length: mid }, (_, i) => `a${i}`), 'tail'];
    const b = ['head', ...Array.from({ length: mid }, (_, i) => `b${i}`), 'tail'];
    const map = mapLines(a, b);
    expect(map[0]).toBe(0);
    expect(map[a.length - 1]).toBe(b.length - 1);
    expect(map[1]).toBeUndefined();
  });

  it('splits on any newline and keeps unicode', () => {
    expect(splitLines('é\r\n😀\nx\ry')).toEqual(['é', '😀', 'x', 'y']);
  });
});

describe('diffTargets', () => {
  it('pairs targets by position and sorts by absolute change', () => {
    // the current buffer has one inserted line before line 1
    const lineMap = [0, undefined, 1, 2];
    const current = [target(1, 0, 0, 'def', 0.5), target(9, 2, 4, 'x', 0.1), target(5, 1, 0, 'new', 0.3)];
    const saved = [target(1, 0, 0, 'def', 0.2), target(8, 1, 4, 'x', 0.4), target(3, 2, 0, 'gone', 0.05)];
    const diff = diffTargets(current, saved, (t) => positionKey(t, (l) => lineMap[l]), (t) => positionKey(t));
    const byText = Object.fromEntries(diff.map((d) => [d.text, d]));
    expect(byText.def.delta).toBeCloseTo(0.3);
    expect(byText.x.delta).toBeCloseTo(-0.3);
    expect(byText.gone.currentWeight).toBe(0);
    expect(byText.gone.otherWeight).toBeCloseTo(0.05);
    // the inserted line maps nowhere: it has no key and is left out
    expect(byText.new).toBeUndefined();
    expect(Math.abs(diff[0].delta)).toBeGreaterThanOrEqual(Math.abs(diff[diff.length - 1].delta));
  });

  it('treats NaN weights as zero and returns nothing for empty input', () => {
    expect(diffTargets([], [], () => 'k', () => 'k')).toEqual([]);
    const d = diffTargets([target(0, 0, 0, 'a', NaN)], [target(0, 0, 0, 'a', 0.2)], (t) => t.text, (t) => t.text);
    expect(d[0].currentWeight).toBe(0);
    expect(d[0].delta).toBeCloseTo(-0.2);
  });

  it('matches different documents by text occurrence', () => {
    const a = [target(4, 0, 0, 'x', 0.2), target(9, 1, 0, 'x', 0.1)];
    const b = [target(2, 0, 0, 'x', 0.3)];
    const ka = textOccurrenceKeys(a);
    const kb = textOccurrenceKeys(b);
    const d = diffTargets(a, b, (t) => ka.get(t), (t) => kb.get(t));
    const first = d.find((x) => x.key === 'x#0');
    const second = d.find((x) => x.key === 'x#1');
    expect(first?.delta).toBeCloseTo(-0.1);
    expect(second?.delta).toBeCloseTo(0.1);
  });
});

describe('diffLines', () => {
  it('compares line weights through the line map', () => {
    const d = diffLines(
      [
        { line: 0, weight: 0.5 },
        { line: 2, weight: 0.2 },
      ],
      [
        { line: 0, weight: 0.1 },
        { line: 1, weight: 0.6 },
      ],
      (l) => [0, undefined, 1][l],
    );
    // equal changes: ordered by line
    expect(d[0]).toMatchObject({ line: 0, otherLine: 0, delta: expect.closeTo(0.4, 6) as number });
    expect(d[1]).toMatchObject({ line: 2, otherLine: 1, delta: expect.closeTo(-0.4, 6) as number });
  });

  it('counts a changed line against zero', () => {
    const d = diffLines([{ line: 1, weight: 0.3 }], [{ line: 1, weight: 0.9 }], () => undefined);
    expect(d[0]).toMatchObject({ line: 1, otherLine: undefined, other: 0, delta: 0.3 });
  });
});
