import { describe, expect, it } from 'vitest';
import { isModelViewMessage, isNeuronMessage } from '../../src/core/messages';
import { neuronParts, neuronView, parseHead } from '../../src/core/neuron';
import type { NeuronResult } from '../../src/core/protocolViews';

const token = (index: number) => ({
  index,
  text: `t${index}`,
  label: `t${index}`,
  range: { start: { line: 0, character: index }, end: { line: 0, character: index + 1 } },
});

/** d = 6, RoPE over the first 4 dimensions: pairs (0, 2) and (1, 3); dims 4 and 5 unrotated. */
function result(overrides: Partial<NeuronResult> = {}): NeuronResult {
  const query = [1, -2, 0.5, 3, 1, -1];
  const key = [2, 1, -4, 0.5, 0.25, 2];
  return {
    version: 1,
    layer: 3,
    head: 2,
    kvHead: 1,
    token: token(9),
    source: token(4),
    query,
    key,
    products: query.map((q, i) => q * key[i]),
    rotaryDims: 4,
    pairs: [
      [0, 2],
      [1, 3],
    ],
    pairSums: [2 - 2, -2 + 1.5],
    wavelengths: [6.28, 628],
    scale: 0.5,
    score: 0.5 * (2 - 2 - 2 + 1.5 + 0.25 - 2),
    lse: 0.1,
    weight: Math.exp(0.5 * (2 - 2 - 2 + 1.5 + 0.25 - 2) - 0.1),
    allowed: true,
    ...overrides,
  };
}

describe('the neuron view', () => {
  it('splits the logit into rotary pairs and unrotated dimensions that add up to it', () => {
    const r = result();
    const parts = neuronParts(r);
    expect(parts.map((p) => p.label)).toEqual(['dims 0 & 2', 'dims 1 & 3', 'dim 4', 'dim 5']);
    expect(parts[0]).toMatchObject({ dims: [0, 2], query: [1, 0.5], key: [2, -4], wavelength: 6.28 });
    expect(parts[2].wavelength).toBeUndefined();
    const total = parts.reduce((acc, p) => acc + p.contribution, 0);
    expect(total).toBeCloseTo(r.score, 12);
  });

  it('shows the largest parts first, sums the rest, and states the arithmetic', () => {
    const r = result();
    const view = neuronView(r, 2);
    expect(view.parts.map((p) => p.label)).toEqual(['dim 5', 'dims 1 & 3']);
    expect(view.rest.count).toBe(2);
    expect(view.rest.contribution + view.parts.reduce((a, p) => a + p.contribution, 0)).toBeCloseTo(r.score, 12);
    expect(view.scaleMax).toBeCloseTo(1, 12);
    expect(view.lines[0]).toBe(`logit = scale × Σ q·k = 0.5000 × -2.250 = -1.125`);
    expect(view.lines[1]).toContain('= 29.38 %');
    expect(view.lines[2]).toContain('RoPE rotates 4 of 6 dimensions');
  });

  it('says why a masked source has no weight, and that a model without RoPE compares content', () => {
    const view = neuronView(result({ allowed: false, weight: 0, rotaryDims: 0, pairs: [], pairSums: [], wavelengths: null }));
    expect(view.lines[1]).toContain('outside the sliding window');
    expect(view.lines[2]).toContain('No rotary embedding');
    expect(view.parts).toHaveLength(6);
  });

  it('reads a layer and a head as the model view labels them, and explains a bad one', () => {
    expect(parseHead('20 3', 30, 9)).toEqual({ layer: 20, head: 3 });
    expect(parseHead(' L20, H3 ', 30, 9)).toEqual({ layer: 20, head: 3 });
    expect(parseHead('l0 h8', 30, 9)).toEqual({ layer: 0, head: 8 });
    expect(parseHead('30 0', 30, 9)).toBe('Layer 30 does not exist: the model has 30 (0 to 29).');
    expect(parseHead('0 9', 30, 9)).toBe('Head 9 does not exist: the model has 9 (0 to 8).');
    expect(parseHead('twenty', 30, 9)).toMatch(/^Type a layer and a head/);
    expect(parseHead('-1 2', 30, 9)).toMatch(/^Type a layer and a head/);
  });

  it('accepts only well-formed messages from its page and from the model view', () => {
    expect(isNeuronMessage({ type: 'revealEnd', end: 'source' })).toBe(true);
    expect(isNeuronMessage({ type: 'revealEnd', end: 'elsewhere' })).toBe(false);
    expect(isNeuronMessage({ type: 'revealEnd', end: 'token', extra: 1 })).toBe(false);
    expect(isModelViewMessage({ type: 'neuronView', layer: 2, head: 1, source: 40 })).toBe(true);
    expect(isModelViewMessage({ type: 'neuronView', layer: 2, head: 1 })).toBe(false);
    expect(isModelViewMessage({ type: 'neuronView', layer: -1, head: 1, source: 4 })).toBe(false);
  });
});
