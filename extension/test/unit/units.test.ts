import { describe, expect, it } from 'vitest';
import { BUCKET_COUNT } from '../../src/core/buckets';
import type { CodeUnits, Range } from '../../src/core/protocol';
import { DEFINITION_KINDS, flattenSymbols, unitTintGroups, type SymbolNode } from '../../src/core/units';

const range = (sl: number, sc: number, el: number, ec: number): Range => ({
  start: { line: sl, character: sc },
  end: { line: el, character: ec },
});

// vscode.SymbolKind values: Module 1, Class 4, Method 5, Property 6, Function 11, Variable 12.
const CLASS = 4;
const METHOD = 5;
const PROPERTY = 6;
const FUNCTION = 11;
const VARIABLE = 12;

describe('flattenSymbols', () => {
  it('keeps the definitions of a nested answer, parents first, with plain ranges', () => {
    const symbols: SymbolNode[] = [
      {
        name: 'Reader',
        kind: CLASS,
        range: range(3, 0, 9, 10),
        children: [
          { name: 'size', kind: PROPERTY, range: range(4, 4, 4, 12) },
          { name: 'parse_header', kind: METHOD, range: range(5, 4, 7, 20), children: [{ name: 'inner', kind: FUNCTION, range: range(6, 8, 6, 30) }] },
        ],
      },
      { name: 'LIMIT', kind: VARIABLE, range: range(0, 0, 0, 9), children: [{ name: 'make', kind: FUNCTION, range: range(0, 8, 0, 9) }] },
    ];
    expect(flattenSymbols(symbols)).toEqual([
      { name: 'Reader', kind: 'class', range: range(3, 0, 9, 10) },
      { name: 'parse_header', kind: 'method', range: range(5, 4, 7, 20) },
      { name: 'inner', kind: 'function', range: range(6, 8, 6, 30) },
      // found under a symbol that is no definition itself
      { name: 'make', kind: 'function', range: range(0, 8, 0, 9) },
    ]);
  });

  it('reads flat symbol information (location.range) and swaps a reversed range', () => {
    const symbols: SymbolNode[] = [{ name: 'main', kind: FUNCTION, location: { range: range(4, 1, 2, 0) } }];
    expect(flattenSymbols(symbols)).toEqual([{ name: 'main', kind: 'function', range: range(2, 0, 4, 1) }]);
  });

  it('is empty for a language without symbols, and caps a huge answer', () => {
    expect(flattenSymbols(undefined)).toEqual([]);
    expect(flattenSymbols(null)).toEqual([]);
    expect(flattenSymbols([{ name: 'x', kind: FUNCTION }])).toEqual([]); // no range
    const many = Array.from({ length: 50 }, (_, i): SymbolNode => ({ name: `f${i}`, kind: FUNCTION, range: range(i, 0, i, 5) }));
    expect(flattenSymbols(many, 10)).toHaveLength(10);
  });

  it('names only definition kinds', () => {
    expect(Object.values(DEFINITION_KINDS)).toEqual(
      expect.arrayContaining(['function', 'method', 'class', 'constructor', 'interface', 'struct', 'enum', 'module', 'namespace']),
    );
    expect(DEFINITION_KINDS[VARIABLE]).toBeUndefined();
  });
});

const UNITS: CodeUnits = {
  source: 'symbols',
  definitions: [
    { name: 'parse_header', kind: 'method', label: 'def parse_header', range: range(5, 4, 7, 20), weight: 0.6 },
    { name: 'Reader', kind: 'class', label: 'class Reader', range: range(3, 0, 10, 0), weight: 0.1 },
  ],
  outside: 0.3,
  identifiers: [
    { name: 're', count: 3, weight: 0.4, ranges: [range(0, 7, 0, 9), range(6, 17, 6, 19), range(7, 1, 7, 3)] },
    { name: 'data', count: 2, weight: 0.004, ranges: [range(5, 26, 5, 30), range(6, 30, 6, 34)] },
    { name: 'header', count: 1, weight: 0.2, ranges: [range(6, 8, 6, 14)] },
  ],
};

const lineOf = (groups: { startLine: number }[][]): Map<number, number> =>
  new Map(groups.flatMap((ranges, b) => ranges.map((r) => [r.startLine, b] as const)));

describe('unitTintGroups', () => {
  it('tints every occurrence of an identifier in the bucket of its unit weight', () => {
    const groups = unitTintGroups(UNITS, 'identifier', 20, 500);
    expect(groups).toHaveLength(BUCKET_COUNT);
    expect(groups[BUCKET_COUNT - 1].map((r) => [r.startLine, r.startCharacter])).toEqual([
      [0, 7],
      [6, 17],
      [7, 1],
    ]);
    expect(groups[2].map((r) => r.startLine)).toEqual([6]); // header: half of re's weight
    // data is below 2% of the heaviest unit: not tinted
    expect(groups.flat().some((r) => r.startCharacter === 26)).toBe(false);
  });

  it('keeps the heaviest units within the limit and the top count', () => {
    expect(unitTintGroups(UNITS, 'identifier', 20, 2).flat()).toHaveLength(2);
    expect(unitTintGroups(UNITS, 'identifier', 1, 500).flat()).toHaveLength(3);
  });

  it('tints each line of a definition once, in the innermost listed definition', () => {
    const byLine = lineOf(unitTintGroups(UNITS, 'definition', 20, 5000));
    // Reader spans lines 3-9 (its end at column 0 of line 10 holds nothing of that line)
    expect([...byLine.keys()].sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    for (const line of [5, 6, 7]) {
      expect(byLine.get(line), `line ${line}`).toBe(BUCKET_COUNT - 1);
    }
    expect(byLine.get(3)).toBe(0); // 0.1 of 0.6
    const all = unitTintGroups(UNITS, 'definition', 20, 5000).flat();
    expect(all.every((r) => r.startCharacter === 0 && r.endLine === r.startLine)).toBe(true);
  });

  it('paints nothing by unit for tokens, or for an answer without units', () => {
    expect(unitTintGroups(UNITS, 'token', 20, 500).flat()).toEqual([]);
    expect(unitTintGroups(undefined, 'definition', 20, 500).flat()).toEqual([]);
  });
});
