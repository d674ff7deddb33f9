/** The two sides of a diff editor, and the diff of two token sequences, without 'vscode' (URIs compared by their string form). */

export interface DiffSides<U extends { toString(): string }> {
  original: U;
  modified: U;
}

/** The side of `diff` that is not `uri`; undefined when `uri` is neither side or both are the same. */
export function otherSide<U extends { toString(): string }>(diff: DiffSides<U>, uri: U): U | undefined {
  const key = uri.toString();
  const original = diff.original.toString();
  const modified = diff.modified.toString();
  if (original === modified) {
    return undefined;
  }
  if (key === original) {
    return diff.modified;
  }
  return key === modified ? diff.original : undefined;
}

/** One run of a sequence diff: kept in both, only in the first (removed) or only in the second (added). */
export interface DiffPart {
  op: 'same' | 'removed' | 'added';
  /** the items of the run, joined */
  text: string;
}

/**
 * The shortest diff of two token sequences (a longest common subsequence, O(n m): completions are
 * at most a few hundred tokens), as runs in reading order; a removal comes before the addition
 * that replaces it.
 */
export function sequenceDiff(before: readonly string[], after: readonly string[]): DiffPart[] {
  const n = before.length;
  const m = after.length;
  // lcs[i][j]: the longest common subsequence of before[i..] and after[j..]
  const lcs = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = before[i] === after[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const parts: DiffPart[] = [];
  const push = (op: DiffPart['op'], text: string): void => {
    const last = parts[parts.length - 1];
    if (last?.op === op) {
      last.text += text;
    } else {
      parts.push({ op, text });
    }
  };
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && before[i] === after[j]) {
      push('same', before[i++]);
      j++;
    } else if (j >= m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1])) {
      push('removed', before[i++]);
    } else {
      push('added', after[j++]);
    }
  }
  return parts;
}
