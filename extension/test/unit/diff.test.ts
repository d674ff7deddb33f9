import { describe, expect, it } from 'vitest';
import { otherSide } from '../../src/core/diff';

const original = 'git:/repo/review.py?%7B%22path%22%3A%22%2Frepo%2Freview.py%22%2C%22ref%22%3A%22~%22%7D';
const modified = 'file:///repo/review.py';

describe('otherSide', () => {
  it('gives the changed file for the original side and the original for the changed side', () => {
    expect(otherSide({ original, modified }, original)).toBe(modified);
    expect(otherSide({ original, modified }, modified)).toBe(original);
  });

  it('gives nothing for a document that is not in the diff, or a diff of a file with itself', () => {
    expect(otherSide({ original, modified }, 'file:///repo/other.py')).toBeUndefined();
    expect(otherSide({ original: modified, modified }, modified)).toBeUndefined();
  });

  it('compares URIs by their string form', () => {
    const uri = (s: string) => ({ toString: () => s });
    const sides = { original: uri(original), modified: uri(modified) };
    expect(otherSide(sides, uri(modified))).toBe(sides.original);
  });
});
