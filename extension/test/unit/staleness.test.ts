import { describe, expect, it } from 'vitest';
import { unchangedBefore } from '../../src/core/staleness';

describe('unchangedBefore', () => {
  it('names the first edited line in 1-based numbers', () => {
    expect(unchangedBefore({ line: 2, character: 0 }, 'z = 3')).toBe('line 3');
  });

  it('keeps a line whose only change is its line break (typing at the start of the next line)', () => {
    // the edited token is the line break and indentation at the end of line 1: line 1 still shows
    expect(unchangedBefore({ line: 0, character: 5 }, '')).toBe('line 2');
    expect(unchangedBefore({ line: 0, character: 5 }, '  \r')).toBe('line 2');
  });

  it('names the column of an edit inside a line', () => {
    expect(unchangedBefore({ line: 1, character: 8 }, 'x + 2')).toBe('line 2, column 9');
  });
});
