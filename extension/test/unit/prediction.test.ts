import { describe, expect, it } from 'vitest';
import { isCompletionMessage } from '../../src/core/completionView';
import { predictedProbability, predictionQuery, predictionView, readPredictionResult, type PredictionAnswer } from '../../src/core/prediction';

const lines = [
  { line: 1, score: 0.8 },
  { line: 2, score: -0.3 },
  { line: 3, score: 0 },
];

const attribution = (method: 'removals' | 'attention', lds: number | null) => ({
  method,
  label: method === 'removals' ? 'Lasso on random removals' : 'norm-weighted attention',
  lds,
  ldsSource: lds === null ? null : 'this completion',
  total: 1.5,
  lines,
  units: [{ kind: 'definition', name: 'parse', line: 1, lines: [1, 2], score: 0.5 }],
});

const after = { index: 7, range: { start: { line: 2, character: 4 }, end: { line: 2, character: 10 } }, text: 'return', label: 'return' };

const raw = {
  attribution: attribution('removals', 0.62),
  instant: attribution('attention', 0.41),
  cost: { seconds: 3.25, ablations: 32, forwardTokens: 12345 },
  prediction: { id: 42, label: '␣x', after },
};

function answer(): PredictionAnswer {
  const read = readPredictionResult(raw);
  if (typeof read === 'string') {
    throw new Error(read);
  }
  return read;
}

describe('the answer for a prediction', () => {
  it('reads both attributions, the cost and the predicted token', () => {
    const a = answer();
    expect(a.prediction).toEqual({ id: 42, label: '␣x', after });
    expect(a.explain.attribution.method).toBe('removals');
    expect(a.explain.instant.lds).toBe(0.41);
    expect(a.explain.cost).toEqual({ seconds: 3.25, ablations: 32, forwardTokens: 12345 });
  });

  it('says what is wrong when the prediction is missing or malformed', () => {
    expect(readPredictionResult({ ...raw, prediction: undefined })).toBe('the explanation names no predicted token');
    expect(readPredictionResult({ ...raw, prediction: { id: -1, label: 'x', after } })).toBe('the explanation names no predicted token');
    expect(readPredictionResult({ ...raw, prediction: { id: 3, label: 'x', after: { index: 1 } } })).toMatch(/after which token/);
    expect(readPredictionResult({ ...raw, instant: null })).toBe('the explanation lacks an attribution');
    expect(readPredictionResult(null)).toBe('the server sent no explanation');
  });

  it('labels a token without a label by its id, and its predecessor by its text', () => {
    const read = readPredictionResult({ ...raw, prediction: { id: 5, after: { ...after, label: '' } } });
    expect(typeof read).toBe('object');
    if (typeof read !== 'string') {
      expect(read.prediction.label).toBe('#5');
      expect(read.prediction.after.label).toBe('return');
    }
  });
});

describe('the probability of the predicted token', () => {
  const predicted = { id: 42, label: '␣x' };
  it('is the entry with its id', () => {
    const top = [
      { id: 9, text: 'a', probability: 0.5 },
      { id: 42, text: '␣x', probability: 0.3 },
    ];
    expect(predictedProbability({ top, actual: null }, predicted)).toBe(0.3);
  });

  it('is the first choice when the entries carry no id and it has the same text', () => {
    expect(predictedProbability({ top: [{ text: '␣x', probability: 0.7 }], actual: null }, predicted)).toBe(0.7);
    expect(predictedProbability({ top: [{ text: 'y', probability: 0.7 }], actual: null }, predicted)).toBeUndefined();
  });

  it('is unknown without a prediction or with a value out of range', () => {
    expect(predictedProbability(undefined, predicted)).toBeUndefined();
    expect(predictedProbability(null, predicted)).toBeUndefined();
    expect(predictedProbability({ top: [{ id: 42, text: '␣x', probability: 1.5 }], actual: null }, predicted)).toBeUndefined();
  });

  it('is asked at the start of the token the prediction follows', () => {
    expect(predictionQuery(answer().prediction)).toEqual({ line: 2, character: 4 });
  });
});

describe('the panel in its prediction mode', () => {
  it('shows the token, its probability, both attributions with their LDS and the cost, and no completion tokens', () => {
    const view = predictionView({ title: 'a.py, line 3', answer: answer(), probability: 0.3 });
    expect(view.type).toBe('data');
    expect(view.tokens).toEqual([]);
    expect(view.explaining).toBe(false);
    expect(view.prediction).toEqual({ label: '␣x', probability: '30%', after: 'after return (line 3); the whole context: +1.50 nats' });
    expect(view.text).toBe('␣x');
    expect(view.explain?.removals.method).toBe('removals');
    expect(view.explain?.removals.lds).toBe('LDS 0.62, measured on this completion');
    expect(view.explain?.instantLds).toBe('The instant method on the same removals: LDS 0.41, measured on this completion.');
    expect(view.instant.method).toBe('attention (instant)');
    expect(view.explain?.cost).toBe('32 removals, 12,345 tokens through the model, 3.3 s');
    expect(view.caption).toBe('predicts ␣x (30%) after return on line 3; 32 removals, 12,345 tokens through the model, 3.3 s');
    // the strongest line first; the zero score has no tint
    expect(view.explain?.removals.lines.map((l) => [l.first, l.label, l.score])).toEqual([
      [0, 'line 1', '+0.80 nats'],
      [1, 'line 2', '-0.30 nats'],
      [2, 'line 3', '+0.00 nats'],
    ]);
    expect(view.explain?.removals.lines[0].tint?.sign).toBe('pos');
    expect(view.explain?.removals.lines[1].tint?.sign).toBe('neg');
    expect(view.note).toBeUndefined();
  });

  it('says when the probability is not known, and carries a note', () => {
    const view = predictionView({ title: 't', answer: answer(), note: 'The file changed.' });
    expect(view.prediction?.probability).toBe('probability not known');
    expect(view.caption).toMatch(/^predicts ␣x \(probability not known\)/);
    expect(view.note).toBe('The file changed.');
  });

  it('a click on a listed line is a message the panel accepts', () => {
    const view = predictionView({ title: 't', answer: answer(), probability: 0.3 });
    const row = view.explain?.removals.lines[0];
    expect(isCompletionMessage({ type: 'revealLines', first: row?.first, last: row?.last })).toBe(true);
  });
});
