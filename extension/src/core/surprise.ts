/**
 * The surprise heat without 'vscode': a surprise answer (Requests.surprise) read into tokens, their
 * colour buckets on a fixed scale in bits, and the per-line sums the gutter shows.
 *
 * A token's surprisal is s_i = -log2 p(x_i | x_<i): how unexpected the token was to the model given
 * the text before it (docs/PROTOCOL.md). 1 bit is a coin flip; 7 bits, odds of 1 in 128. The
 * scales are fixed, so colours mean the same in every file:
 * - tokens: 0 to 16 bits in BUCKET_COUNT equal steps (3.2 bits each), the last open-ended: the
 *   darkest is 12.8 bits and more (p <= about 1/7,100);
 * - lines (gutter): the sum of the line's token surprisals, 0 to 64 bits in equal steps (12.8 bits
 *   each); a line of several surprising tokens reaches the darkest.
 */
import { BUCKET_COUNT } from './buckets';
import type { SurpriseResult } from './protocol';
import { isIndex, type PlainRange } from './ranges';

export const TOKEN_MAX_BITS = 16;
export const LINE_MAX_BITS = 64;

export interface SurpriseToken extends PlainRange {
  /** token index in the document */
  index: number;
  bits: number;
}

/** The tokens of an answer that have a surprisal (the first token of a file has none); malformed entries are skipped. */
export function surpriseTokens(result: SurpriseResult | undefined): SurpriseToken[] {
  if (!result || !Array.isArray(result.bits) || !Array.isArray(result.ranges) || !isIndex(result.start)) {
    return [];
  }
  const tokens: SurpriseToken[] = [];
  result.bits.forEach((bits, k) => {
    const r = result.ranges.slice(4 * k, 4 * k + 4);
    if (typeof bits !== 'number' || !Number.isFinite(bits) || r.length !== 4 || !r.every(isIndex)) {
      return;
    }
    const [startLine, startCharacter, endLine, endCharacter] = r;
    tokens.push({ index: result.start + k, startLine, startCharacter, endLine, endCharacter, bits: Math.max(0, bits) });
  });
  return tokens;
}

/** Bucket 0 (lightest) .. buckets-1 (darkest) of `bits` on the fixed scale [0, max): equal steps, the last open-ended. */
export function scaleBucket(bits: number, max: number, buckets = BUCKET_COUNT): number {
  if (!Number.isFinite(bits) || bits <= 0) {
    return 0;
  }
  return Math.min(buckets - 1, Math.floor((bits / max) * buckets));
}

export function tokenBucket(bits: number, buckets = BUCKET_COUNT): number {
  return scaleBucket(bits, TOKEN_MAX_BITS, buckets);
}

export function lineBucket(bits: number, buckets = BUCKET_COUNT): number {
  return scaleBucket(bits, LINE_MAX_BITS, buckets);
}

/** The summed surprisal of each line, by the line each token starts on, in line order. */
export function lineSums(tokens: readonly SurpriseToken[]): { line: number; bits: number }[] {
  const sums = new Map<number, number>();
  for (const t of tokens) {
    sums.set(t.startLine, (sums.get(t.startLine) ?? 0) + t.bits);
  }
  return [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([line, bits]) => ({ line, bits }));
}

/** The token whose range holds the position (start inclusive, end exclusive), by binary search over tokens in document order. */
export function tokenAt(tokens: readonly SurpriseToken[], line: number, character: number): SurpriseToken | undefined {
  const before = (l: number, c: number): boolean => l < line || (l === line && c <= character);
  let lo = 0;
  let hi = tokens.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (before(tokens[mid].startLine, tokens[mid].startCharacter)) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (found < 0) {
    return undefined;
  }
  const t = tokens[found];
  const inside = t.endLine > line || (t.endLine === line && t.endCharacter > character);
  return inside ? t : undefined;
}

/** A probability as people read it: "62%", "0.7%", "0.0015%". */
export function formatProbability(p: number): string {
  const pct = 100 * p;
  if (!Number.isFinite(pct) || pct <= 0) {
    return '0%';
  }
  if (pct >= 9.95) {
    return `${pct.toFixed(0)}%`;
  }
  if (pct >= 0.995) {
    return `${pct.toFixed(1)}%`;
  }
  return `${Number(pct.toPrecision(2))}%`;
}

/** What a token's colour means, for the hover: "surprisal 7.2 bits: the model gave the actual token 0.7%". */
export function surpriseSentence(bits: number): string {
  return `surprisal ${bits.toFixed(1)} bits: the model gave the actual token ${formatProbability(2 ** -bits)}`;
}

/** The scale, for the hover and the status bar: which range of bits each colour step covers. */
export function scaleSentence(buckets = BUCKET_COUNT): string {
  const step = TOKEN_MAX_BITS / buckets;
  const lineStep = LINE_MAX_BITS / buckets;
  return (
    `Surprise heat: a token is tinted by -log2 p of it given the text before it, ${step.toFixed(1)} bits a step ` +
    `from the lightest (under ${step.toFixed(1)} bits) to the darkest (${(TOKEN_MAX_BITS - step).toFixed(1)} bits and more); ` +
    `the gutter by the line's summed bits, ${lineStep.toFixed(1)} bits a step.`
  );
}
