import { describe, expect, it } from 'vitest';
import { lensItems, settlesSentence, type LensAnswer } from '../../src/core/lens';

/** A lens whose layers' first choices are `firsts` (second choice `·x` at 10% each). */
function lens(firsts: string[], settledAt: number): LensAnswer {
  return {
    logitLens: firsts.map((text, layer) => ({
      layer,
      top: [
        { id: layer, text, probability: 0.62 },
        { id: 900, text: '·x', probability: 0.1 },
      ],
    })),
    settledAt,
  };
}

describe('settlesSentence', () => {
  it('names the final choice and the settling layer counted from 1', () => {
    expect(settlesSentence(lens(['a', 'b', ')', ')'], 2))).toBe('settles on `)` at layer 3 of 4');
    expect(settlesSentence(lens(['a', ')'], 1))).toBe('settles on `)` at layer 2 of 2');
  });

  it('says nothing for an answer it cannot read', () => {
    expect(settlesSentence({ logitLens: [], settledAt: 0 })).toBeUndefined();
    expect(settlesSentence(lens(['a', ')'], 2))).toBeUndefined(); // past the last layer
    expect(settlesSentence({ logitLens: [{ layer: 0, top: [] }], settledAt: 0 })).toBeUndefined();
  });
});

describe('lensItems', () => {
  it('lists every layer with its choices and marks the layers from the settling one', () => {
    const items = lensItems(lens(['def', ')', ')'], 1));
    expect(items.map((i) => i.layer)).toEqual([0, 1, 2]);
    expect(items[0].label).toBe('layer 1: `def` 62%');
    expect(items[1].label).toBe('$(check) layer 2: `)` 62%');
    expect(items[2].label).toBe('$(check) layer 3: `)` 62%');
    expect(items[0].description).toBe('then `·x` 10%');
    expect(items.filter((i) => i.detail !== undefined).map((i) => i.layer)).toEqual([1]);
    expect(items[1].detail).toContain('every layer');
  });

  it('says when only the last layer chooses the prediction', () => {
    const items = lensItems(lens(['a', 'b', ')'], 2));
    expect(items[2].detail).toContain('the last layer is the first');
    expect(items.slice(0, 2).every((i) => !i.label.startsWith('$(check)'))).toBe(true);
  });

  it('lists nothing for an answer it cannot read', () => {
    expect(lensItems({ logitLens: [], settledAt: 0 })).toEqual([]);
  });
});
