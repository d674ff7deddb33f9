import { describe, expect, it } from 'vitest';
import { isCompareMessage, isHeatmapMessage, isModelViewMessage } from '../../src/core/messages';
import { isProgressMessage } from '../../src/core/viewMessages';

describe('heatmap messages', () => {
  it('accepts well-formed messages', () => {
    expect(isHeatmapMessage({ type: 'ready' })).toBe(true);
    expect(isHeatmapMessage({ type: 'reveal', row: 5, col: 2 })).toBe(true);
    expect(isHeatmapMessage({ type: 'reveal', row: 0, col: 0 })).toBe(true);
    expect(isHeatmapMessage({ type: 'setView', layer: 'all', head: 3, refinement: 'effective+norm', aggregate: 'headMean' })).toBe(
      true,
    );
    expect(isHeatmapMessage({ type: 'zoom', rows: [100, 900], columns: [0, 900], bins: 800 })).toBe(true);
  });

  it('rejects zooms that are not two increasing token indices and a bin count', () => {
    expect(isHeatmapMessage({ type: 'zoom', rows: [900, 100], columns: [0, 900], bins: 800 })).toBe(false);
    expect(isHeatmapMessage({ type: 'zoom', rows: [5, 5], columns: [0, 900], bins: 800 })).toBe(false);
    expect(isHeatmapMessage({ type: 'zoom', rows: [0, 10, 20], columns: [0, 9], bins: 8 })).toBe(false);
    expect(isHeatmapMessage({ type: 'zoom', rows: [-1, 10], columns: [0, 9], bins: 8 })).toBe(false);
    expect(isHeatmapMessage({ type: 'zoom', rows: [0, 10], columns: [0, 9], bins: 0 })).toBe(false);
    expect(isHeatmapMessage({ type: 'zoom', rows: [0, 10], columns: [0, 9], bins: 1e9 })).toBe(false);
    expect(isHeatmapMessage({ type: 'zoom', rows: [0, 10], columns: [0, 9] })).toBe(false);
    expect(isHeatmapMessage({ type: 'zoom', rows: [0, 10], columns: [0, 9], bins: 8, uri: 'file:///etc' })).toBe(false);
  });

  it('rejects cells above the diagonal, bad numbers and extra keys', () => {
    expect(isHeatmapMessage({ type: 'reveal', row: 1, col: 2 })).toBe(false);
    expect(isHeatmapMessage({ type: 'reveal', row: -1, col: 0 })).toBe(false);
    expect(isHeatmapMessage({ type: 'reveal', row: 1.5, col: 0 })).toBe(false);
    expect(isHeatmapMessage({ type: 'reveal', row: NaN, col: 0 })).toBe(false);
    expect(isHeatmapMessage({ type: 'reveal', row: Infinity, col: 0 })).toBe(false);
    expect(isHeatmapMessage({ type: 'reveal', row: 1e300, col: 0 })).toBe(false);
    expect(isHeatmapMessage({ type: 'reveal', row: '3', col: 0 })).toBe(false);
    expect(isHeatmapMessage({ type: 'reveal', row: 3 })).toBe(false);
    expect(isHeatmapMessage({ type: 'reveal', row: 3, col: 1, html: '<img>' })).toBe(false);
    expect(isHeatmapMessage({ type: 'ready', extra: 1 })).toBe(false);
  });

  it('rejects unknown views', () => {
    expect(isHeatmapMessage({ type: 'setView', layer: 'all', head: 'all', refinement: 'magic', aggregate: 'headMean' })).toBe(false);
    expect(isHeatmapMessage({ type: 'setView', layer: 'some', head: 'all', refinement: 'raw', aggregate: 'headMean' })).toBe(false);
    expect(isHeatmapMessage({ type: 'setView', layer: 0, head: 0, refinement: 'raw', aggregate: 'sum' })).toBe(false);
    expect(isHeatmapMessage({ type: 'setView', layer: 0, head: 0, refinement: 'raw' })).toBe(false);
  });

  it('rejects non-objects and unknown types', () => {
    for (const value of [null, undefined, 0, 'ready', [], [{ type: 'ready' }], { type: 'run', command: 'rm' }, { type: '__proto__' }]) {
      expect(isHeatmapMessage(value)).toBe(false);
    }
  });
});

describe('model view messages', () => {
  it('accepts well-formed messages', () => {
    expect(isModelViewMessage({ type: 'ready' })).toBe(true);
    expect(isModelViewMessage({ type: 'resetHeads' })).toBe(true);
    expect(isModelViewMessage({ type: 'selectHead', layer: 29, head: 8 })).toBe(true);
    expect(isModelViewMessage({ type: 'revealToken', index: 12 })).toBe(true);
  });

  it('rejects malformed ones', () => {
    expect(isModelViewMessage({ type: 'selectHead', layer: 1 })).toBe(false);
    expect(isModelViewMessage({ type: 'selectHead', layer: 1, head: -2 })).toBe(false);
    expect(isModelViewMessage({ type: 'selectHead', layer: 100_000, head: 0 })).toBe(false);
    expect(isModelViewMessage({ type: 'revealToken', index: '1' })).toBe(false);
    expect(isModelViewMessage({ type: 'reveal', row: 1, col: 0 })).toBe(false);
  });
});

describe('compare messages', () => {
  it('accepts and rejects', () => {
    expect(isCompareMessage({ type: 'revealLine', side: 'current', line: 3 })).toBe(true);
    expect(isCompareMessage({ type: 'revealLine', side: 'other', line: 0 })).toBe(true);
    expect(isCompareMessage({ type: 'revealLine', side: 'both', line: 3 })).toBe(false);
    expect(isCompareMessage({ type: 'revealLine', side: 'current', line: -3 })).toBe(false);
  });
});

describe('progress messages to the webviews', () => {
  it('accepts loading and error messages with their text', () => {
    expect(isProgressMessage({ type: 'loading', text: 'Computing…' })).toBe(true);
    expect(isProgressMessage({ type: 'error', message: 'Run Analyze File first.' })).toBe(true);
  });

  it('rejects anything else', () => {
    expect(isProgressMessage({ type: 'loading' })).toBe(false);
    expect(isProgressMessage({ type: 'error', text: 'wrong key' })).toBe(false);
    expect(isProgressMessage({ type: 'data', text: 'x' })).toBe(false);
    expect(isProgressMessage(null)).toBe(false);
    expect(isProgressMessage('loading')).toBe(false);
  });
});
