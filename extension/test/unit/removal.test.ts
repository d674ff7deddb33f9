import { describe, expect, it } from 'vitest';
import type { RemoveLinesResult } from '../../src/core/protocolViews';
import {
  comparedPosition,
  EFFECT_MIN_BITS,
  effectGroups,
  effectLegend,
  effectSentence,
  effectTokens,
  linesLabel,
  removalSummary,
  selectedLines,
} from '../../src/core/removal';

const at = (line: number, character: number) => ({ line, character });

function answer(overrides: Partial<RemoveLinesResult> = {}): RemoveLinesResult {
  return {
    version: 3,
    lines: { first: 39, last: 41 },
    removedCharacters: 80,
    token: { index: 500, range: { start: at(60, 4), end: at(60, 7) }, text: 'for', label: 'for' },
    editedToken: 470,
    before: {
      top: [{ text: 'all', probability: 0.62 }],
      actual: { text: 'all', probability: 0.62, rank: 1 },
    },
    after: {
      top: [
        { text: '(', probability: 0.41 },
        { text: 'x', probability: 0.09 },
        { text: 'all', probability: 0.18 },
        { text: 'y', probability: 0.05 },
      ],
      actual: { text: 'all', probability: 0.18, rank: 3 },
    },
    tokens: 2030,
    reusedTokens: 1720,
    recomputedTokens: 310,
    elapsedMs: 2100,
    heat: null,
    ...overrides,
  };
}

describe('which lines and which token', () => {
  it('takes the cursor line of an empty selection, and whole lines without the one a selection ends at column 0', () => {
    expect(selectedLines({ start: at(4, 2), end: at(4, 2), active: at(4, 2) })).toEqual({ first: 4, last: 4 });
    expect(selectedLines({ start: at(4, 0), end: at(7, 0), active: at(7, 0) })).toEqual({ first: 4, last: 6 });
    expect(selectedLines({ start: at(4, 3), end: at(7, 1), active: at(4, 3) })).toEqual({ first: 4, last: 7 });
  });

  it('compares at the cursor when it is after the lines, else at the last character of the last non-blank line', () => {
    const lines = ['a = 1', 'b = 2', 'c = a + b  ', '', '   ', ''];
    expect(comparedPosition({ first: 0, last: 0 }, at(2, 4), lines)).toEqual(at(2, 4));
    expect(comparedPosition({ first: 0, last: 1 }, at(0, 3), lines)).toEqual(at(2, 8)); // trailing spaces skipped
    expect(comparedPosition({ first: 0, last: 1 }, at(1, 0), lines)).toEqual(at(2, 8));
    expect(comparedPosition({ first: 2, last: 2 }, at(2, 0), lines)).toBeUndefined(); // only blank lines follow
    // a selection of whole lines leaves the cursor at the start of the next line: not a choice
    expect(comparedPosition({ first: 0, last: 0 }, at(1, 0), lines)).toEqual(at(2, 8));
    expect(comparedPosition({ first: 0, last: 0 }, at(1, 1), lines)).toEqual(at(1, 1));
  });

  it('names lines as the editor numbers them', () => {
    expect(linesLabel({ first: 39, last: 41 })).toBe('lines 40-42');
    expect(linesLabel({ first: 0, last: 0 })).toBe('line 1');
  });
});

describe('the summary', () => {
  it('states the actual token before and after, the new top predictions and the cost', () => {
    expect(removalSummary(answer())).toBe(
      'Without lines 40-42 after `for` (line 61): `all` 62% (rank 1) -> 18% (rank 3), +1.78 bits of surprise; now predicts `(` 41%, `x` 9.0%, `all` 18%, ... ' +
        'Recomputed 310 tokens, reused 1,720, 2.1 s.',
    );
  });

  it('names the actual token again when the join changed it, and says when nothing follows or nothing is predicted', () => {
    const changed = answer({ after: { top: [{ text: 'b', probability: 0.5 }], actual: { text: 'b', probability: 0.5, rank: 1 } } });
    expect(removalSummary(changed)).toContain('`all` 62% (rank 1) -> `b` 50% (rank 1); now predicts `b` 50%.');
    const end = answer({ before: { top: [], actual: null }, after: { top: [], actual: null } });
    expect(removalSummary(end)).toContain(': nothing follows -> nothing follows.');
    expect(removalSummary(answer({ before: null, after: null }))).toContain(': this model keeps no predictions.');
  });
});

describe('the effect heat', () => {
  const heat = {
    unit: 'bits' as const,
    indices: [10, 11, 12, 13],
    delta: [2.5, -0.75, 0.25, 4],
    ranges: [5, 0, 5, 3, 5, 3, 5, 4, 5, 4, 5, 9, 6, 0, 6, 2],
    totalDelta: 6,
  };

  it('reads the tokens with their change and range, skipping malformed entries', () => {
    const tokens = effectTokens(heat);
    expect(tokens).toHaveLength(4);
    expect(tokens[1]).toEqual({ index: 11, startLine: 5, startCharacter: 3, endLine: 5, endCharacter: 4, delta: -0.75 });
    expect(effectTokens({ ...heat, delta: [1, Number.NaN, 1, 1], ranges: heat.ranges.slice(0, 12) }).map((t) => t.index)).toEqual([10, 12]);
    expect(effectTokens(null)).toEqual([]);
  });

  it('tints the tokens that moved by at least the threshold, strongest first: red where the lines helped', () => {
    const { helped, hindered } = effectGroups(effectTokens(heat));
    expect(helped.map((t) => t.index)).toEqual([13, 10]);
    expect(hindered.map((t) => t.index)).toEqual([11]);
    expect(effectGroups(effectTokens(heat), EFFECT_MIN_BITS, 1).helped.map((t) => t.index)).toEqual([13]);
  });

  it('explains a token and the colours', () => {
    const tokens = effectTokens(heat);
    const span = { first: 2, last: 3 };
    expect(effectSentence(tokens[0], span)).toBe('Without lines 3-4 this token is 2.5 bits more surprising: the lines helped predict it.');
    expect(effectSentence(tokens[1], span)).toContain('0.8 bits less surprising');
    expect(effectLegend(span, tokens)).toBe(
      'Effect of removing lines 3-4: red tokens (2) are more surprising without them (the lines helped), green ones (1) less; ' +
        'changes under 0.5 bits are not tinted. Over the 4 tokens after them: +6.0 bits in all.',
    );
  });
});
