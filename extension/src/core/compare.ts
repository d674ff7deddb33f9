/** Comparing two attention answers: line mapping between two versions of a text, target deltas. */
import type { LineWeight, Target } from './protocol';

export function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

/** Largest middle section (lines x lines) compared with the quadratic LCS. */
const MAX_LCS_CELLS = 4_000_000;

/**
 * Maps each line of `from` to the line of `to` with the same content in a longest common
 * subsequence of lines (undefined for changed lines). Common prefix and suffix are matched
 * first; a very large changed middle is left unmatched rather than compared quadratically.
 */
export function mapLines(from: readonly string[], to: readonly string[]): (number | undefined)[] {
  const result: (number | undefined)[] = new Array<number | undefined>(from.length).fill(undefined);
  let prefix = 0;
  while (prefix < from.length && prefix < to.length && from[prefix] === to[prefix]) {
    result[prefix] = prefix;
    prefix++;
  }
  let suffix = 0;
  while (
    suffix < from.length - prefix &&
    suffix < to.length - prefix &&
    from[from.length - 1 - suffix] === to[to.length - 1 - suffix]
  ) {
    result[from.length - 1 - suffix] = to.length - 1 - suffix;
    suffix++;
  }
  const a = from.slice(prefix, from.length - suffix);
  const b = to.slice(prefix, to.length - suffix);
  if (a.length === 0 || b.length === 0 || a.length * b.length > MAX_LCS_CELLS) {
    return result;
  }
  // LCS table, suffix form: lcs[i][j] = LCS length of a[i..] and b[j..]
  const width = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * width + j] =
        a[i] === b[j] ? lcs[(i + 1) * width + j + 1] + 1 : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
    }
  }
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      result[prefix + i] = prefix + j;
      i++;
      j++;
    } else if (lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
      i++;
    } else {
      j++;
    }
  }
  return result;
}

export interface TargetDelta {
  key: string;
  text: string;
  /** the server's label of the target (see TokenRef.label) */
  label?: string;
  /** target on the current side (undefined: only on the other side) */
  current?: Target;
  /** target on the other side */
  other?: Target;
  currentWeight: number;
  otherWeight: number;
  /** currentWeight - otherWeight */
  delta: number;
}

function weightOf(t: Target | undefined): number {
  return t && Number.isFinite(t.weight) ? t.weight : 0;
}

/**
 * Pairs the targets of two answers by key and returns the differences, largest change first.
 * Targets missing on one side count as weight 0 there (they were below that side's top K).
 */
export function diffTargets(
  current: readonly Target[],
  other: readonly Target[],
  keyOfCurrent: (t: Target) => string | undefined,
  keyOfOther: (t: Target) => string | undefined,
): TargetDelta[] {
  const byKey = new Map<string, TargetDelta>();
  const entry = (key: string, t: Target): TargetDelta => {
    let e = byKey.get(key);
    if (!e) {
      e = { key, text: t.text, label: t.label, currentWeight: 0, otherWeight: 0, delta: 0 };
      byKey.set(key, e);
    }
    return e;
  };
  for (const t of current) {
    const key = keyOfCurrent(t);
    if (key !== undefined && !byKey.get(key)?.current) {
      entry(key, t).current = t;
    }
  }
  for (const t of other) {
    const key = keyOfOther(t);
    if (key !== undefined && !byKey.get(key)?.other) {
      entry(key, t).other = t;
    }
  }
  const out = [...byKey.values()];
  for (const e of out) {
    e.currentWeight = weightOf(e.current);
    e.otherWeight = weightOf(e.other);
    e.delta = e.currentWeight - e.otherWeight;
  }
  return out.sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta) || x.key.localeCompare(y.key));
}

/** Key of a target by position (line mapped into the other version) and text. */
export function positionKey(t: Target, mapLine: (line: number) => number | undefined = (l) => l): string | undefined {
  const line = mapLine(t.range.start.line);
  return line === undefined ? undefined : `${line}:${t.range.start.character}:${t.text}`;
}

/** Key of a target by its text and its rank among same-text targets (documents that differ). */
export function textOccurrenceKeys(targets: readonly Target[]): Map<Target, string> {
  const seen = new Map<string, number>();
  const sorted = [...targets].sort((a, b) => a.index - b.index);
  const keys = new Map<Target, string>();
  for (const t of sorted) {
    const n = seen.get(t.text) ?? 0;
    seen.set(t.text, n + 1);
    keys.set(t, `${t.text}#${n}`);
  }
  return keys;
}

export interface LineDelta {
  line: number;
  otherLine?: number;
  current: number;
  other: number;
  delta: number;
}

/** Per-line weight differences for lines of the current version. */
export function diffLines(
  current: readonly LineWeight[],
  other: readonly LineWeight[],
  mapLine: (line: number) => number | undefined,
): LineDelta[] {
  const otherByLine = new Map<number, number>();
  for (const l of other) {
    if (Number.isFinite(l.weight)) {
      otherByLine.set(l.line, (otherByLine.get(l.line) ?? 0) + l.weight);
    }
  }
  const out: LineDelta[] = [];
  for (const l of current) {
    const w = Number.isFinite(l.weight) ? l.weight : 0;
    const otherLine = mapLine(l.line);
    const o = otherLine === undefined ? 0 : (otherByLine.get(otherLine) ?? 0);
    out.push({ line: l.line, otherLine, current: w, other: o, delta: w - o });
  }
  return out.sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta) || a.line - b.line);
}
