/** The two sides of a diff editor, without 'vscode' (URIs compared by their string form). */

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
