import { describe, expect, it } from 'vitest';
import { compactList, modelLabel, parseIndexList, selectionLabel, stateLabel, viewLabel } from '../../src/core/format';
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
    expect(viewLabel(DEFAULTS)).toBe('effective+norm · headMean · attendsTo');
  });

  it('adds layer and head filters', () => {
    expect(viewLabel({ ...DEFAULTS, layers: [3], heads: [0, 1, 2] })).toBe('effective+norm · headMean · attendsTo · L3 · H0-2');
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
