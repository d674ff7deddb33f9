import { describe, expect, it } from 'vitest';
import { BUCKET_COUNT, bucketize, capItems, formatWeight, groupByBucket } from '../../src/core/buckets';

describe('bucketize', () => {
  it('returns nothing for an empty list', () => {
    expect(bucketize([])).toEqual([]);
  });

  it('puts the heaviest weight in the top bucket and scales the rest linearly', () => {
    expect(bucketize([1, 0.5, 0.1, 0.81, 0.2])).toEqual([4, 2, 0, 4, 0]);
    expect(bucketize([0.4, 0.2])).toEqual([4, 2]);
  });

  it('is relative: scaling all weights does not change buckets', () => {
    const w = [0.3, 0.25, 0.1, 0.05];
    expect(bucketize(w.map((x) => x * 1e-9))).toEqual(bucketize(w));
    expect(bucketize(w.map((x) => x * 1e300))).toEqual(bucketize(w));
  });

  it('ignores NaN, infinities, zero and negative weights', () => {
    expect(bucketize([NaN, Infinity, -Infinity, 0, -0.5, 0.2])).toEqual([-1, -1, -1, -1, -1, 4]);
  });

  it('returns all -1 when nothing is positive', () => {
    expect(bucketize([0, NaN, -1])).toEqual([-1, -1, -1]);
  });

  it('handles the largest finite values', () => {
    expect(bucketize([Number.MAX_VALUE, Number.MAX_VALUE / 2])).toEqual([4, 2]);
  });

  it('keeps only the top K, by weight, ties by position', () => {
    expect(bucketize([0.1, 0.5, 0.3, 0.5], { topK: 2 })).toEqual([-1, 4, -1, 4]);
    expect(bucketize([0.2, 0.2, 0.2], { topK: 1 })).toEqual([4, -1, -1]);
    expect(bucketize([0.2, 0.1], { topK: 0 })).toEqual([-1, -1]);
  });

  it('drops weights below the minimum fraction of the heaviest', () => {
    expect(bucketize([1, 0.01, 0.03])).toEqual([4, -1, 0]);
    expect(bucketize([1, 0.01], { minFraction: 0 })).toEqual([4, 0]);
  });

  it('supports other bucket counts and clamps a bad count to 1', () => {
    expect(bucketize([1, 0.5, 0.26], { buckets: 2 })).toEqual([1, 0, 0]);
    expect(bucketize([1, 0.5], { buckets: 0 })).toEqual([0, 0]);
  });

  it('never returns a bucket outside the range', () => {
    const weights = Array.from({ length: 1000 }, (_, i) => Math.abs(Math.sin(i)) * 10 ** ((i % 20) - 10));
    for (const b of bucketize(weights)) {
      expect(b).toBeGreaterThanOrEqual(-1);
      expect(b).toBeLessThan(BUCKET_COUNT);
    }
  });
});

describe('groupByBucket', () => {
  it('groups item indices per bucket and skips hidden items', () => {
    expect(groupByBucket([4, -1, 0, 4, 2])).toEqual([[2], [], [4], [], [0, 3]]);
  });

  it('ignores buckets out of range', () => {
    expect(groupByBucket([7, 1], 2)).toEqual([[], [1]]);
  });
});

describe('capItems', () => {
  it('keeps the first items', () => {
    expect(capItems([1, 2, 3], 2)).toEqual([1, 2]);
    expect(capItems([1, 2, 3], 10)).toEqual([1, 2, 3]);
    expect(capItems([1, 2, 3], 0)).toEqual([]);
    expect(capItems([1, 2, 3], -1)).toEqual([]);
    expect(capItems([1, 2, 3], NaN)).toEqual([]);
    expect(capItems([1, 2, 3], Infinity)).toEqual([1, 2, 3]);
    expect(capItems([1, 2, 3], 1.9)).toEqual([1]);
  });
});

describe('formatWeight', () => {
  it('formats percentages', () => {
    expect(formatWeight(0.123)).toBe('12.3%');
    expect(formatWeight(0.0123)).toBe('1.23%');
    expect(formatWeight(1)).toBe('100.0%');
    expect(formatWeight(0)).toBe('0.00%');
    expect(formatWeight(0.00000001)).toBe('<0.01%');
    expect(formatWeight(NaN)).toBe('n/a');
    expect(formatWeight(Infinity)).toBe('n/a');
  });
});
