import { describe, expect, it } from 'vitest';
import { BUCKET_COUNT } from '../../src/core/buckets';
import type { SurpriseResult } from '../../src/core/protocol';
import { applyOverrides, DEFAULTS, resolveSettings, serverSettings } from '../../src/core/settings';
import {
  formatProbability,
  LINE_MAX_BITS,
  lineBucket,
  lineSums,
  scaleSentence,
  surpriseSentence,
  surpriseTokens,
  TOKEN_MAX_BITS,
  tokenAt,
  tokenBucket,
} from '../../src/core/surprise';

function answer(bits: (number | null)[], ranges: number[], start = 0): SurpriseResult {
  return { version: 1, tokens: 10, start, end: start + bits.length, unit: 'bits', bits, ranges };
}

// "def f(x):\n  return x\n": tokens def | ·f | ( | x | ): | ↵·· | return | ·x | ↵
const RANGES = [0, 0, 0, 3, 0, 3, 0, 5, 0, 5, 0, 6, 0, 6, 0, 7, 0, 7, 0, 9, 0, 9, 1, 2, 1, 2, 1, 8, 1, 8, 1, 10, 1, 10, 2, 0];
const BITS = [null, 9.5, 1.25, 0.5, 2, 0.1, 3, 30, 0.25];

describe('surprise answers', () => {
  it('reads the tokens that have a surprisal, with their document index and range', () => {
    const tokens = surpriseTokens(answer(BITS, RANGES));
    expect(tokens.map((t) => t.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]); // the first token has none
    expect(tokens[0]).toEqual({ index: 1, startLine: 0, startCharacter: 3, endLine: 0, endCharacter: 5, bits: 9.5 });
    expect(surpriseTokens(answer([1, 2], [0, 0, 0, 1, 0, 1, 0, 2], 40)).map((t) => t.index)).toEqual([40, 41]);
  });

  it('skips malformed entries and answers', () => {
    expect(surpriseTokens(undefined)).toEqual([]);
    expect(surpriseTokens({ ...answer([1], [0, 0, 0, 1]), ranges: 'x' } as unknown as SurpriseResult)).toEqual([]);
    const tokens = surpriseTokens(answer([1, Number.NaN, 2, 3], [0, 0, 0, 1, 0, 1, 0, 2, 0, -2, 0, 3]));
    expect(tokens.map((t) => t.index)).toEqual([0]); // NaN, a negative column and a missing range are dropped
  });
});

describe('surprise scales', () => {
  it('colours tokens on a fixed 0-16 bit scale in equal steps, the last open-ended', () => {
    const step = TOKEN_MAX_BITS / BUCKET_COUNT;
    expect(tokenBucket(0)).toBe(0);
    expect(tokenBucket(step - 0.01)).toBe(0);
    expect(tokenBucket(step)).toBe(1);
    expect(tokenBucket(7.2)).toBe(2);
    expect(tokenBucket(TOKEN_MAX_BITS - 0.01)).toBe(BUCKET_COUNT - 1);
    expect(tokenBucket(40)).toBe(BUCKET_COUNT - 1);
    expect(tokenBucket(Number.NaN)).toBe(0);
  });

  it('sums each line by the line its tokens start on and colours it on a 0-64 bit scale', () => {
    const sums = lineSums(surpriseTokens(answer(BITS, RANGES)));
    expect(sums).toEqual([
      { line: 0, bits: 9.5 + 1.25 + 0.5 + 2 + 0.1 },
      { line: 1, bits: 3 + 30 + 0.25 },
    ]);
    expect(sums.map((l) => lineBucket(l.bits))).toEqual([1, 2]); // 13.35 and 33.25 bits
    expect(lineBucket(LINE_MAX_BITS)).toBe(BUCKET_COUNT - 1);
    expect(lineBucket(LINE_MAX_BITS / BUCKET_COUNT)).toBe(1);
  });

  it('finds the token under a position', () => {
    const tokens = surpriseTokens(answer(BITS, RANGES));
    expect(tokenAt(tokens, 0, 4)?.index).toBe(1);
    expect(tokenAt(tokens, 0, 5)?.index).toBe(2); // an end is exclusive
    expect(tokenAt(tokens, 1, 9)?.index).toBe(7);
    expect(tokenAt(tokens, 0, 1)).toBeUndefined(); // the first token has no surprisal
    expect(tokenAt([], 0, 0)).toBeUndefined();
  });

  it('explains a colour in bits and as a probability', () => {
    expect(surpriseSentence(7.16)).toBe('surprisal 7.2 bits: the model gave the actual token 0.7%');
    expect(formatProbability(0.62)).toBe('62%');
    expect(formatProbability(0.0123)).toBe('1.2%');
    expect(formatProbability(2 ** -16)).toBe('0.0015%');
    expect(scaleSentence()).toContain('3.2 bits a step');
    expect(scaleSentence()).toContain('12.8 bits a step');
  });
});

describe('the heat mode setting', () => {
  it('defaults to attention, accepts surprise, and stays in the extension', () => {
    expect(DEFAULTS.heatMode).toBe('attention');
    const { settings, warnings } = resolveSettings({ heatMode: { globalValue: 'surprise' } }, true);
    expect(settings.heatMode).toBe('surprise');
    expect(warnings).toEqual([]);
    const bad = resolveSettings({ heatMode: { globalValue: 'loud' } }, true);
    expect(bad.settings.heatMode).toBe('attention');
    expect(bad.warnings).toHaveLength(1);
    expect(serverSettings(settings)).not.toHaveProperty('heatMode');
    expect(applyOverrides(DEFAULTS, { heatMode: 'surprise' }).heatMode).toBe('surprise');
  });
});
