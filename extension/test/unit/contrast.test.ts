import { describe, expect, it } from 'vitest';
import { alternativeItems, contrastGroups, contrastShares, contrastSummary, contrastTokens } from '../../src/core/contrast';
import type { ContrastResult } from '../../src/core/protocolViews';

const range = (line: number, character = 0) => ({ start: { line, character }, end: { line, character: character + 3 } });

function result(overrides: Partial<ContrastResult> = {}): ContrastResult {
  return {
    version: 2,
    token: { index: 40, range: range(3, 6), text: 'add', label: 'add' },
    predicted: { id: 33, text: '1', probability: 0.39, logit: 34.3 },
    alternative: { id: 37, text: '5', probability: 0.21, logit: 33.7 },
    difference: 0.62,
    sources: [
      { token: { index: 2, range: range(0, 4), text: 'add', label: 'add' }, contribution: 0.852 },
      { token: { index: 0, range: range(0), text: 'def', label: 'def' }, contribution: -0.333 },
      { token: { index: 3, range: range(0, 7), text: '(', label: '(' }, contribution: 0.253 },
      { token: { index: 9, range: range(1, 4), text: ' b', label: '·b' }, contribution: -0.01 },
    ],
    otherSources: 0.678,
    attention: 1.44,
    mlp: -0.854,
    residual: 0.032,
    remainder: 0.002,
    layers: [],
    recomputedTokens: 41,
    elapsedMs: 180,
    ...overrides,
  };
}

describe('alternativeItems', () => {
  it("offers the prediction's choices after the first, by id where the server sent one", () => {
    const items = alternativeItems({
      top: [
        { id: 33, text: '1', probability: 0.39 },
        { id: 37, text: '5', probability: 0.21 },
        { text: '·x', probability: 0.05 },
      ],
      actual: null,
    });
    expect(items).toEqual([
      { label: '`5`', description: '21%, second choice', alternative: 37 },
      { label: '`·x`', description: '5.0%, third choice', alternative: '·x' },
    ]);
  });

  it('offers nothing without a prediction', () => {
    expect(alternativeItems(null)).toEqual([]);
    expect(alternativeItems({ top: [{ id: 1, text: 'a', probability: 1 }], actual: null })).toEqual([]);
  });
});

describe('contrastGroups', () => {
  it('splits the sources by sign, strongest first, capped a side', () => {
    const { toward, against } = contrastGroups(contrastTokens(result()));
    expect(toward.map((t) => t.index)).toEqual([2, 3]);
    expect(against.map((t) => t.index)).toEqual([0, 9]);
    expect(toward[0]).toMatchObject({ startLine: 0, startCharacter: 4, endLine: 0, endCharacter: 7, label: 'add' });
    const capped = contrastGroups(contrastTokens(result()), 1);
    expect([capped.toward.length, capped.against.length]).toEqual([1, 1]);
  });

  it('skips malformed sources and leaves a part of 0 untinted', () => {
    const tokens = contrastTokens(
      result({
        sources: [
          { token: { index: 1, range: range(0), text: 'a' }, contribution: 0 },
          { token: { index: 2, range: range(0), text: 'b' }, contribution: Number.NaN },
          { token: { index: 3, text: 'c' } as never, contribution: 1 },
        ],
      }),
    );
    expect(tokens.map((t) => t.index)).toEqual([1]);
    const { toward, against } = contrastGroups(tokens);
    expect([toward.length, against.length]).toEqual([0, 0]);
  });
});

describe('contrastSummary', () => {
  it('says the difference, each part and the strongest sources on each side', () => {
    const text = contrastSummary(result());
    expect(text).toContain('Why `1` and not `5` after `add` (line 4): 0.62 logits apart (39% against 21%).');
    expect(text).toContain('attention +1.44 (toward `1`: `add` (line 1) +0.85, `(` (line 1) +0.25; toward `5`: `def` (line 1) -0.33, `·b` (line 2) -0.01)');
    expect(text).toContain('the MLPs -0.85, the token\'s own embedding +0.03, the rest +0.00.');
    expect(text).toContain('Green tokens pushed toward `1`, red ones toward `5`');
  });

  it('leaves out a side without sources', () => {
    const text = contrastSummary(result({ sources: [] }));
    expect(text).toContain('From attention +1.44, the MLPs');
  });
});

describe('contrastShares', () => {
  it('gives each part as a share of the difference', () => {
    expect(contrastShares(result())).toBe('attention 232% · MLPs -138% · own embedding 5%');
  });

  it('gives none for a difference of 0', () => {
    expect(contrastShares(result({ difference: 0 }))).toBeUndefined();
  });
});
