import { describe, expect, it } from 'vitest';
import { attributionView, completionView, isCompletionMessage, LISTED_LINES } from '../../src/core/completionView';
import { sequenceDiff } from '../../src/core/diff';
import type { Attribution, CompleteResult } from '../../src/core/protocolViews';

const attribution: Attribution = {
  method: 'attention',
  label: 'norm-weighted attention',
  lds: 0.5,
  ldsSource: 'this completion',
  total: 2,
  lines: Array.from({ length: 20 }, (_, i) => ({ line: i + 1, score: i % 2 ? -i / 10 : i / 10 })),
  units: [
    { kind: 'definition', name: 'render', line: 4, lines: [4, 10], score: 1.25 },
    { kind: 'import', name: 'os', line: 1, lines: [1, 1], score: -0.5 },
  ],
};

function result(texts: string[], forced = 0): CompleteResult {
  let offset = 0;
  const tokens = texts.map((text, i) => {
    const t = {
      index: 40 + i,
      text,
      label: text,
      offset,
      probability: 0.25,
      entropy: 2,
      forced: i < forced,
      alternatives: [{ id: i, text, probability: 0.25 }],
    };
    offset += text.length;
    return t;
  });
  return {
    completionUri: 'atten-scope-completion:///2',
    position: { line: 20, character: 0 },
    completion: { text: texts.join(''), stop: 'limit', tokens },
    attribution,
    cost: { seconds: 2.25, reusedTokens: 300, computedTokens: 4, generatedTokens: texts.length },
  };
}

describe('the sequence diff', () => {
  it('keeps what both share and marks what went and came, in reading order', () => {
    expect(sequenceDiff(['a', 'b', 'c', 'd'], ['a', 'x', 'c', 'd', 'e'])).toEqual([
      { op: 'same', text: 'a' },
      { op: 'removed', text: 'b' },
      { op: 'added', text: 'x' },
      { op: 'same', text: 'cd' },
      { op: 'added', text: 'e' },
    ]);
    expect(sequenceDiff([], ['a'])).toEqual([{ op: 'added', text: 'a' }]);
    expect(sequenceDiff(['a'], [])).toEqual([{ op: 'removed', text: 'a' }]);
    expect(sequenceDiff(['a', 'b'], ['a', 'b'])).toEqual([{ op: 'same', text: 'ab' }]);
  });
});

describe('the panel view model', () => {
  it('lists the strongest lines and units, 0-based for the reveal, with their tints', () => {
    const view = attributionView(attribution);
    expect(view.lines).toHaveLength(LISTED_LINES);
    expect(view.lines[0]).toEqual({ first: 19, last: 19, label: 'line 20', score: '-1.90 nats', tint: { sign: 'neg', bucket: 4 } });
    expect(view.lines[1]).toMatchObject({ label: 'line 19', score: '+1.80 nats', tint: { sign: 'pos', bucket: 4 } });
    expect(view.units[0]).toEqual({ first: 3, last: 9, label: 'definition render (lines 4-10)', score: '+1.25 nats', tint: { sign: 'pos', bucket: 4 } });
    expect(view.units[1].label).toBe('import os (line 1)');
    expect(view.lds).toBe('LDS 0.50, measured on this completion');
    expect(view.method).toBe('attention (instant)');
  });

  it('shows the tokens with their probabilities, the forced ones and the cost', () => {
    const view = completionView({ result: result(['def', ' f', '():'], 1), title: 'sample.py, line 21' });
    expect(view.tokens.map((t) => [t.label, t.probability, t.forced, t.branchable])).toEqual([
      ['def', '25%', true, true],
      [' f', '25%', false, true],
      ['():', '25%', false, true],
    ]);
    expect(view.caption).toBe('3 tokens, stopped at the token limit (attenScope.completion.maxNewTokens); the first 1 forced (a branch); 2.3 s; 3 tokens generated, 300 reused, 4 computed');
    expect(view.explain).toBeUndefined();
    expect(view.regenerate).toBeUndefined();
  });

  it('tints the completion tokens the selected token read, and marks it', () => {
    const view = completionView({
      result: result(['a', 'b', 'c']),
      title: 't',
      selected: { step: 2, weights: new Map([[0, 0.4], [1, 0.1], [2, 0.001]]), sentence: 'c reads most: a' },
    });
    expect(view.tokens.map((t) => t.tint)).toEqual([4, 1, undefined]);
    expect(view.tokens.map((t) => t.selected)).toEqual([false, false, true]);
    expect(view.attention).toBe('c reads most: a');
  });

  it('shows the removals with the instant method measured on them, and a regeneration as a diff', () => {
    const view = completionView({
      result: result(['a', 'y']),
      title: 't',
      explain: {
        attribution: { ...attribution, method: 'removals' },
        instant: { ...attribution, lds: 0.31 },
        cost: { seconds: 12.5, ablations: 32, forwardTokens: 12345 },
      },
      regenerated: { original: result(['a', 'b']), leftOut: { ranges: [[2, 2]], reason: 'the selected line 3' } },
    });
    expect(view.explain?.removals.method).toBe('removals');
    expect(view.explain?.instantLds).toBe('The instant method on the same removals: LDS 0.31, measured on this completion.');
    expect(view.explain?.cost).toBe('32 removals, 12,345 tokens through the model, 12.5 s');
    expect(view.regenerate).toEqual({
      reason: 'Without the selected line 3',
      diff: [
        { op: 'same', text: 'a' },
        { op: 'removed', text: 'b' },
        { op: 'added', text: 'y' },
      ],
      same: false,
    });
  });
});

describe("the page's messages", () => {
  it('accepts the well-formed ones only', () => {
    expect(isCompletionMessage({ type: 'ready' })).toBe(true);
    expect(isCompletionMessage({ type: 'branch', step: 2, alternative: 0 })).toBe(true);
    expect(isCompletionMessage({ type: 'revealLines', first: 3, last: 5 })).toBe(true);
    expect(isCompletionMessage({ type: 'insert' })).toBe(true);
    expect(isCompletionMessage({ type: 'branch', step: -1, alternative: 0 })).toBe(false);
    expect(isCompletionMessage({ type: 'branch', step: 1 })).toBe(false);
    expect(isCompletionMessage({ type: 'revealLines', first: 5, last: 3 })).toBe(false);
    expect(isCompletionMessage({ type: 'insert', text: 'rm -rf /' })).toBe(false);
    expect(isCompletionMessage({ type: 'toString' })).toBe(false);
    expect(isCompletionMessage([{ type: 'ready' }])).toBe(false);
    expect(isCompletionMessage(null)).toBe(false);
  });
});
