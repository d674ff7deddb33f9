/** After an edit: where the part of a document that still shows its attention ends, without 'vscode'. */

/**
 * Where the tokens that still show their attention end, as a person reads it: "line 3" or
 * "line 3, column 9" (1-based), from the server's `staleFrom` (0-based) and the rest of its line.
 * When only whitespace follows `staleFrom` on its line, the next line: a tokenizer joins the line
 * break and indentation to the next line's first token, so typing at the start of line 3 changes a
 * token that starts at the end of line 2, while all a person sees on line 2 is unchanged. The
 * server's hover says the same (protocol/encode.py, unchanged_before).
 */
export function unchangedBefore(from: { line: number; character: number }, restOfLine: string): string {
  if (from.character === 0) {
    return `line ${from.line + 1}`;
  }
  if (restOfLine.trim() === '') {
    return `line ${from.line + 2}`;
  }
  return `line ${from.line + 1}, column ${from.character + 1}`;
}
