import { describe, expect, it } from 'vitest';
import { progressForwarder, retryNote, type ProgressStep } from '../../src/core/progress';

describe('progressForwarder', () => {
  it('reports percentages as increments that never go back, and leaves the end to the request', () => {
    const steps: ProgressStep[] = [];
    const forward = progressForwarder((step) => steps.push(step));
    forward({ kind: 'begin', message: 'Loading', percentage: 0 });
    forward({ kind: 'report', message: 'layer 3', percentage: 30 });
    forward({ kind: 'report', message: 'again', percentage: 30 });
    forward({ kind: 'report', message: 'back', percentage: 10 });
    forward({ kind: 'report', message: 'past the end', percentage: 140 });
    forward({ kind: 'report', message: 'no number', percentage: Number.NaN });
    forward({ kind: 'end', message: 'done' });
    expect(steps).toEqual([
      { message: 'Loading', increment: undefined },
      { message: 'layer 3', increment: 30 },
      { message: 'again', increment: undefined },
      { message: 'back', increment: undefined },
      { message: 'past the end', increment: 70 },
      { message: 'no number', increment: undefined },
    ]);
  });
});

describe('retryNote', () => {
  it("says why an analysis runs again in the server's words, without its advice to analyse again", () => {
    expect(retryNote('The model changed while the request ran: ask again once it is loaded.')).toBe(
      'the model changed while the request ran; analysing again',
    );
    expect(retryNote('The document changed during the analysis: analyse it again.')).toBe(
      'the document changed during the analysis; analysing again',
    );
    expect(retryNote('The document was closed during the analysis.')).toBe('the document was closed during the analysis; analysing again');
    expect(retryNote('')).toBe('analysing again');
  });
});
