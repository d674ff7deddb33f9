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

  it('shows the server\'s words for a measured view, in the status bar and its tooltip', () => {
    expect(faithfulnessLabel(measured)).toBe(measured.text);
    expect(faithfulnessSentence(measured)).toBe(measured.sentence);
    const standsIn = { ...measured, text: 'ρ +0.38 vs ablation (measured on Python, standing in for C; interior tokens)' };
    expect(faithfulnessLabel(standsIn)).toContain('standing in for C');
  });

  it('adds the per-line figure of the gutter where it was measured', () => {
    const tokens = { ...measured, position: 'interior', unit: 'token' } as const;
    const lines = {
      ...measured,
      position: 'interior',
      unit: 'line',
      sentence: 'Line sums (the gutter): ρ = +0.58 [+0.50, +0.64] against ablating whole lines at interior tokens.',
    } as const;
    expect(faithfulnessSentence(tokens, lines)).toBe(`${measured.sentence} ${lines.sentence}`);
    const notPerLine = { ...tokens, asked: { position: 'interior', unit: 'line' } } as const;
    expect(faithfulnessSentence(tokens, notPerLine)).toBe(measured.sentence);
    expect(faithfulnessSentence(tokens, null)).toBe(measured.sentence);
  });

  it('says when a view was not measured', () => {
    expect(faithfulnessSentence(null)).toBe(
      "Faithfulness of this view: not measured (only the embedded model's attendsTo views over all layers and heads " +
        'are benchmarked; see bench/RESULTS.md).',
    );
  });
});
