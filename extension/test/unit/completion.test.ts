import { describe, expect, it } from 'vitest';
import {
  alternativeLabel,
  branchForced,
  canBranchAt,
  completionStart,
  documentLine,
  formatNats,
  ldsSentence,
  linesToLeaveOut,
  mergeLines,
  positionAfter,
  previewText,
  rangesLabel,
  readAttribution,
  readCompleteResult,
  readExplainResult,
  scoreTints,
  tokenId,
  tokenPosition,
} from '../../src/core/completion';
import type { Attribution, CompleteResult, CompletionToken } from '../../src/core/protocolViews';

function attribution(method: 'attention' | 'removals' = 'attention'): Attribution {
  return {
    method,
    label: 'norm-weighted attention',
    lds: 0.61,
    ldsSource: 'benchmark',
    total: 3.2,
    lines: [
      { line: 1, score: 0.1 },
      { line: 4, score: 1.5 },
      { line: 5, score: -0.7 },
      { line: 7, score: 0.9 },
      { line: 8, score: 0.8 },
    ],
    units: [{ kind: 'definition', name: 'render', line: 4, lines: [4, 10], score: 2.1 }],
  };
}

function token(index: number, text: string, offset: number, extra: Partial<CompletionToken> = {}): CompletionToken {
  return {
    index,
    text,
    label: text,
    offset,
    probability: 0.5,
    entropy: 1.25,
    forced: false,
    alternatives: [
      { id: 100 + index, text, probability: 0.5 },
      { id: 200 + index, text: 'x', probability: 0.2 },
    ],
    ...extra,
  };
}

/** "    return total\n" completed at line 9, character 4 of the document. */
function result(extra: Partial<CompleteResult> = {}): CompleteResult {
  return {
    completionUri: 'atten-scope-completion:///1',
    position: { line: 9, character: 4 },
    completion: {
      text: 'return total\n',
      stop: 'dedent',
      tokens: [token(50, 'return', 0), token(51, ' total', 6), token(52, '\n', 12)],
    },
    attribution: attribution(),
    cost: { seconds: 1.5, reusedTokens: 50, computedTokens: 0, generatedTokens: 3 },
    ...extra,
  };
}

describe('reading a complete answer', () => {
  it('accepts a well-formed answer and keeps what it says', () => {
    const read = readCompleteResult(JSON.parse(JSON.stringify(result())));
    expect(read).toEqual(result());
  });

  it('refuses an answer without a completion, with a malformed token, or with tokens out of order', () => {
    expect(readCompleteResult(null)).toMatch(/no completion/);
    const bad = result();
    (bad.completion.tokens[1] as unknown as Record<string, unknown>).probability = 2;
    expect(readCompleteResult(bad)).toMatch(/malformed/);
    const swapped = result();
    swapped.completion.tokens.reverse();
    expect(readCompleteResult(swapped)).toMatch(/in order/);
    const beyond = result();
    beyond.completion.tokens[2].offset = 40;
    expect(readCompleteResult(beyond)).toMatch(/in order/);
    expect(readCompleteResult({ ...result(), attribution: { method: 'magic' } })).toMatch(/attribution/);
  });

  it('labels a token by its text when the server sends no label, and drops malformed alternatives', () => {
    const raw = JSON.parse(JSON.stringify(result())) as { completion: { tokens: Record<string, unknown>[] } };
    delete raw.completion.tokens[0].label;
    (raw.completion.tokens[0].alternatives as unknown[]).push({ id: -1, text: 'bad', probability: 0.1 });
    const read = readCompleteResult(raw) as CompleteResult;
    expect(read.completion.tokens[0].label).toBe('return');
    expect(read.completion.tokens[0].alternatives).toHaveLength(2);
  });

  it('reads a completion that stopped at once, which has no attribution', () => {
    const empty = { ...result(), completion: { text: '', stop: 'endOfSequence', tokens: [] } } as Record<string, unknown>;
    delete empty.attribution;
    const read = readCompleteResult(empty) as CompleteResult;
    expect(read.completion.tokens).toEqual([]);
    expect(read.attribution.lines).toEqual([]);
  });

  it('keeps the label the server gives an alternative', () => {
    const raw = JSON.parse(JSON.stringify(result())) as { completion: { tokens: { alternatives: Record<string, unknown>[] }[] } };
    raw.completion.tokens[1].alternatives[0].label = '·total';
    const read = readCompleteResult(raw) as CompleteResult;
    expect(read.completion.tokens[1].alternatives[0].label).toBe('·total');
    expect(read.completion.tokens[0].alternatives[0].label).toBeUndefined();
  });

  it('keeps withoutLines only when it is well formed', () => {
    expect((readCompleteResult({ ...result(), withoutLines: [[2, 3]] }) as CompleteResult).withoutLines).toEqual([[2, 3]]);
    expect((readCompleteResult({ ...result(), withoutLines: [[3, 2]] }) as CompleteResult).withoutLines).toBeUndefined();
  });
});

describe('reading an attribution', () => {
  it('drops malformed lines and units, and an LDS outside [-1, 1]', () => {
    const a = readAttribution({
      ...attribution(),
      lds: 3,
      lines: [{ line: 0, score: 1 }, { line: 2, score: Number.NaN }, { line: 3, score: 0.5 }],
      units: [{ kind: 'definition', name: 'f', line: 1, lines: [4, 2], score: 1 }, { kind: 'other', name: 'g', line: 1, lines: [1, 1], score: 1 }],
    });
    expect(a?.lines).toEqual([{ line: 3, score: 0.5 }]);
    expect(a?.units).toEqual([]);
    expect(a?.lds).toBeNull();
    expect(a?.ldsSource).toBeNull();
  });

  it('reads an explanation: both attributions and the cost', () => {
    const e = readExplainResult({ attribution: attribution('removals'), instant: attribution(), cost: { seconds: 4, ablations: 32, forwardTokens: 9000 } });
    expect(typeof e === 'string' ? e : e.cost.ablations).toBe(32);
    expect(readExplainResult({ attribution: attribution('removals') })).toMatch(/lacks/);
  });
});

describe('branching', () => {
  it('forces the ids of the tokens before the step, then the alternative', () => {
    const { tokens } = result().completion;
    expect(branchForced(tokens, 0, 1)).toEqual([250]);
    expect(branchForced(tokens, 2, 1)).toEqual([150, 151, 252]);
    expect(branchForced(tokens, 2, 9)).toBeUndefined();
    expect(branchForced(tokens, 7, 0)).toBeUndefined();
  });

  it('prefers the id the server sent, and cannot branch after a token whose id is unknown', () => {
    const tokens = [token(1, 'a', 0, { id: 7, alternatives: [] }), token(2, 'b', 1, { alternatives: [] }), token(3, 'c', 2)];
    expect(tokenId(tokens[0])).toBe(7);
    expect(tokenId(tokens[1])).toBeUndefined();
    expect(canBranchAt(tokens, 1)).toBe(true);
    expect(canBranchAt(tokens, 2)).toBe(false);
    expect(branchForced(tokens, 2, 1)).toBeUndefined();
  });
});

describe('the lines a regeneration leaves out', () => {
  it('merges lines into ranges and names them as the editor numbers them', () => {
    expect(mergeLines([7, 2, 3, 3])).toEqual([[2, 3], [7, 7]]);
    expect(rangesLabel([[2, 3], [7, 7]])).toBe('lines 3-4, 8');
    expect(rangesLabel([[4, 4]])).toBe('line 5');
  });

  it('takes the top 3 lines by score before the cursor when nothing is selected', () => {
    expect(linesToLeaveOut(undefined, attribution(), 9)).toEqual({ ranges: [[3, 3], [6, 7]], reason: 'the top 3 lines by score: lines 4, 7-8' });
    // line 8 lies at the cursor's line: it cannot go
    expect(linesToLeaveOut(undefined, attribution(), 7)).toEqual({ ranges: [[0, 0], [3, 3], [6, 6]], reason: 'the top 3 lines by score: lines 1, 4, 7' });
  });

  it('takes the selected lines, cut before the cursor, and refuses a selection at or after it', () => {
    expect(linesToLeaveOut({ first: 2, last: 12 }, attribution(), 9)).toEqual({ ranges: [[2, 8]], reason: 'the selected lines 3-9' });
    expect(linesToLeaveOut({ first: 9, last: 9 }, attribution(), 9)).toMatch(/above the completion/);
    expect(linesToLeaveOut(undefined, { ...attribution(), lines: [{ line: 2, score: -1 }] }, 9)).toMatch(/select the lines/);
  });
});

describe('positions in the completion analysis', () => {
  it('walks a text to an offset', () => {
    expect(positionAfter({ line: 3, character: 4 }, 'ab\ncd', 1)).toEqual({ line: 3, character: 5 });
    expect(positionAfter({ line: 3, character: 4 }, 'ab\ncd', 4)).toEqual({ line: 4, character: 1 });
    expect(positionAfter({ line: 3, character: 4 }, 'a\r\nb', 4)).toEqual({ line: 4, character: 1 });
  });

  it("asks about a token one unit inside it, after the cursor moved up by the lines left out", () => {
    expect(tokenPosition(result(), 1)).toEqual({ line: 9, character: 11 });
    expect(tokenPosition(result(), 2)).toEqual({ line: 9, character: 16 });
    const without = result({ withoutLines: [[2, 3], [5, 5]] });
    expect(completionStart(without)).toEqual({ line: 6, character: 4 });
    expect(tokenPosition(without, 0)).toEqual({ line: 6, character: 5 });
    expect(tokenPosition(without, 5)).toBeUndefined();
  });

  it('maps a prefix line of the analysis back to the document', () => {
    const without = result({ withoutLines: [[5, 5], [2, 3]] });
    expect([0, 1, 2, 3, 4, 6].map((l) => documentLine(l, without))).toEqual([0, 1, 4, 6, 7, 9]);
    expect(documentLine(7, without)).toBeUndefined();
    expect(documentLine(4, result())).toBe(4);
  });
});

describe('scores for people', () => {
  it('tints both signs on one scale and leaves the smallest out', () => {
    expect(scoreTints([2, -1, 0.05, -2, Number.NaN])).toEqual([
      { sign: 'pos', bucket: 4 },
      { sign: 'neg', bucket: 2 },
      undefined,
      { sign: 'neg', bucket: 4 },
      undefined,
    ]);
    expect(scoreTints([0, 0])).toEqual([undefined, undefined]);
  });

  it('writes nats, the LDS and the ghost text', () => {
    expect(formatNats(0.4213)).toBe('+0.42 nats');
    expect(formatNats(-12.34)).toBe('-12.3 nats');
    expect(ldsSentence({ lds: 0.613, ldsSource: 'this completion' })).toBe('LDS 0.61, measured on this completion');
    expect(ldsSentence({ lds: null, ldsSource: null })).toBe('LDS not measured');
    expect(previewText('a\n  b')).toBe('a ⏎   b');
    expect([' foo', '\n', '\t', ''].map(alternativeLabel)).toEqual(['·foo', '↵', '⇥', '∅']);
    expect(previewText('x'.repeat(500))).toHaveLength(160);
  });
});
