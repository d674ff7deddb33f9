import { describe, expect, it } from 'vitest';
import {
  compactList,
  faithfulnessLabel,
  faithfulnessSentence,
  modelLabel,
  parseIndexList,
  selectionLabel,
  signed,
  stateLabel,
  viewLabel,
} from '../../src/core/format';
import { readFaithfulness } from '../../src/core/faithfulness';
import { measuredFaithfulness } from './fixtures';
import { DEFAULTS } from '../../src/core/settings';

describe('index lists', () => {
  it('compacts runs', () => {
    expect(compactList([0, 1, 2, 3, 7, 9, 10])).toBe('0-3,7,9-10');
    expect(compactList([])).toBe('');
    expect(compactList([5, 5, 4])).toBe('4-5');
  });

  it('parses lists and ranges', () => {
    expect(parseIndexList('0-3, 7')).toEqual([0, 1, 2, 3, 7]);
    expect(parseIndexList(' all ')).toBe('all');
    expect(parseIndexList('')).toBe('all');
    expect(parseIndexList('3 1 1')).toEqual([1, 3]);
  });

  it('rejects bad input', () => {
    expect(parseIndexList('3-1')).toBeUndefined();
    expect(parseIndexList('-1')).toBeUndefined();
    expect(parseIndexList('a')).toBeUndefined();
    expect(parseIndexList('1.5')).toBeUndefined();
    expect(parseIndexList('0-999999999')).toBeUndefined();
  });
});

describe('labels', () => {
  it('describes the default view', () => {
    expect(viewLabel(DEFAULTS)).toBe('norm · lastLayers · attendsTo');
  });

  it('adds layer and head filters', () => {
    expect(viewLabel({ ...DEFAULTS, layers: [3], heads: [0, 1, 2] })).toBe('norm · lastLayers · attendsTo · L3 · H0-2');
    expect(selectionLabel('all', 'layer')).toBe('all layers');
  });

  it('shortens model names', () => {
    expect(modelLabel('embedded:smollm2-135m')).toBe('smollm2-135m');
    expect(modelLabel('Qwen/Qwen2.5-Coder-1.5B')).toBe('Qwen2.5-Coder-1.5B');
    expect(modelLabel('C:\\models\\llama\\')).toBe('llama');
    expect(modelLabel('')).toBe('model');
  });

  it('names states', () => {
    expect(stateLabel('loadingModel')).toBe('loading model');
    expect(stateLabel('ready')).toBe('ready');
  });
});

const measured = measuredFaithfulness;

describe('faithfulness', () => {
  it('always shows the sign, with two decimals', () => {
    expect(signed(0.316)).toBe('+0.32');
    expect(signed(-0.045)).toBe('-0.04');
    expect(signed(-0.0549)).toBe('-0.05');
    expect(signed(0)).toBe('+0.00');
    expect(signed(-0.001)).toBe('+0.00');
    expect(signed(1)).toBe('+1.00');
    expect(signed(0.2851, 3)).toBe('+0.285');
  });

  it('labels a measured view', () => {
    expect(faithfulnessLabel(measured)).toBe('ρ +0.32');
    expect(faithfulnessLabel({ ...measured, rho: -0.12 })).toBe('ρ -0.12');
  });

  it('explains a measured view', () => {
    expect(faithfulnessSentence(measured)).toBe(
      'Faithfulness of this view: ρ = +0.32 (95% CI +0.21 to +0.41) against leave-one-out ablation on 33 code snippets; ' +
        'rank 1 of 27 measured views (best: norm / lastLayers, ρ = +0.32).',
    );
  });

  it('keeps the signs of a view that ranks low', () => {
    const weak = { ...measured, rho: -0.04, low: -0.13, high: 0.036, rank: 24, snippets: 1 };
    expect(faithfulnessSentence(weak)).toBe(
      'Faithfulness of this view: ρ = -0.04 (95% CI -0.13 to +0.04) against leave-one-out ablation on 1 code snippet; ' +
        'rank 24 of 27 measured views (best: norm / lastLayers, ρ = +0.32).',
    );
  });

  it('names the situation a figure was measured in', () => {
    const interior = { ...measured, rho: 0.36, position: 'interior', unit: 'token' } as const;
    expect(faithfulnessLabel(interior)).toBe('ρ +0.36 at interior tokens');
    expect(faithfulnessLabel({ ...measured, position: 'last', unit: 'token' })).toBe('ρ +0.32 at the last token');
    expect(faithfulnessLabel({ ...measured, position: 'interior', unit: 'line' })).toBe(
      'ρ +0.32 per line, at interior tokens',
    );
    expect(faithfulnessSentence({ ...interior, asked: { position: 'interior', unit: 'token' } })).toBe(
      'Faithfulness of this view: ρ = +0.36 (95% CI +0.21 to +0.41) at interior tokens against leave-one-out ' +
        'ablation on 33 code snippets; rank 1 of 27 measured views (best: norm / lastLayers, ρ = +0.32).',
    );
  });

  it('names the code a figure was measured on when it is not the benchmark\'s own', () => {
    const stdlib = { ...measured, position: 'interior', unit: 'token', corpus: 'Python 3.11.7 standard library' } as const;
    expect(faithfulnessSentence(stdlib)).toContain(
      'on 33 code snippets of the Python 3.11.7 standard library; rank 1 of 27',
    );
    expect(faithfulnessSentence({ ...stdlib, corpus: 'bench/corpus' })).toContain('on 33 code snippets; rank 1');
    expect(readFaithfulness({ ...stdlib, corpus: 3 })).toBeUndefined();
    expect(readFaithfulness(stdlib)).toEqual(stdlib);
  });

  it('says when the figure is for another situation than the one on screen', () => {
    const fallback = {
      ...measured,
      position: 'last',
      unit: 'token',
      asked: { position: 'interior', unit: 'token' },
    } as const;
    expect(faithfulnessSentence(fallback)).toContain(
      'ρ = +0.32 (95% CI +0.21 to +0.41) at the last token (not measured at interior tokens; ' +
        'this is the figure at the last token) against',
    );
  });

  it('adds the per-line figure of the gutter where it was measured', () => {
    const tokens = { ...measured, position: 'interior', unit: 'token' } as const;
    const lines = { ...measured, rho: 0.45, low: 0.4, high: 0.5, position: 'interior', unit: 'line' } as const;
    expect(faithfulnessSentence(tokens, lines)).toMatch(
      / Line sums \(the gutter\): ρ = \+0\.45 \(95% CI \+0\.40 to \+0\.50\) against ablating whole lines\.$/,
    );
    const notPerLine = { ...tokens, asked: { position: 'interior', unit: 'line' } } as const;
    expect(faithfulnessSentence(tokens, notPerLine)).not.toContain('Line sums');
    expect(faithfulnessSentence(tokens, null)).not.toContain('Line sums');
  });

  it('says when a view was not measured', () => {
    expect(faithfulnessSentence(null)).toBe(
      "Faithfulness of this view: not measured (only the embedded model's attendsTo views over all layers and heads " +
        'are benchmarked; see bench/RESULTS.md).',
    );
  });
});
