import { describe, expect, it } from 'vitest';
import { accumulativeSummary } from '../../src/core/accumulative';
import type { AltiRolloutResult } from '../../src/core/protocolViews';

const range = (line: number) => ({ start: { line, character: 0 }, end: { line, character: 4 } });

function result(faithfulness: AltiRolloutResult['faithfulness']): AltiRolloutResult {
  return {
    version: 1,
    token: { index: 40, range: range(9), text: 'total', label: 'total' },
    targets: [
      { index: 12, range: range(6), text: ' total', label: '·total', weight: 0.315 },
      { index: 3, range: range(3), text: 'def', label: 'def', weight: 0.12 },
      { index: 30, range: range(8), text: ' item', label: '·item', weight: 0.05 },
      { index: 31, range: range(8), text: ')', label: ')', weight: 0.01 },
    ],
    lines: [],
    dropSink: true,
    faithfulness,
    recomputedTokens: 41,
    elapsedMs: 2345,
  };
}

describe('accumulativeSummary', () => {
  it('names the token, its three strongest sources, the measured figure and the cost', () => {
    const text = accumulativeSummary(
      result({ rho: 0.292, low: 0.219, high: 0.356, snippets: 33, rank: 14, methods: 40, best: 'norm / lastLayers', bestRho: 0.331, model: 'embedded:smollm2-135m', text: '', sentence: '' }),
    );
    expect(text).toContain('of total (line 10)');
    expect(text).toContain('·total (line 7) 31.5%, def (line 4) 12.0%, ·item (line 9) 5.0%');
    expect(text).not.toContain('1.0%'); // three sources, not four
    expect(text).toContain('ρ +0.29 (95% CI +0.22 to +0.36)');
    expect(text).toContain('rank 14 of 40 (best: norm / lastLayers, ρ +0.33)');
    expect(text).toContain('over 41 tokens in 2.3 s');
  });

  it('says when the model was not measured, and when nothing outside the sink was drawn on', () => {
    const text = accumulativeSummary({ ...result(null), targets: [] });
    expect(text).toContain('not measured for this model');
    expect(text).toContain('no source outside the sink');
  });
});
