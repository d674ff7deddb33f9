/**
 * Code units on the extension's side: the editor's document symbols as the definitions the server
 * sums attention over, and the ranges a per-unit tint paints. No 'vscode' import.
 */
import { BUCKET_COUNT, bucketize, groupByBucket } from './buckets';
import type { CodeUnits, Position, UnitSymbol } from './protocol';
import { toPlainRange, type PlainRange } from './ranges';

/** What `attenScope.tintUnit` tints: single tokens, every occurrence of a name, whole definitions. */
export const TINT_UNITS = ['token', 'identifier', 'definition'] as const;
export type TintUnit = (typeof TINT_UNITS)[number];

/** At most this many symbols are sent (the server keeps as many). */
export const MAX_SYMBOLS = 10_000;

/**
 * The definition kinds, by `vscode.SymbolKind` value (0-based: File = 0, Module = 1, ...). Variables,
 * fields, constants and the like are not units: their tokens count in the definition around them.
 */
export const DEFINITION_KINDS: Readonly<Record<number, string>> = Object.freeze({
  1: 'module',
  2: 'namespace',
  3: 'package',
  4: 'class',
  5: 'method',
  8: 'constructor',
  9: 'enum',
  10: 'interface',
  11: 'function',
  22: 'struct',
});

/** A `vscode.DocumentSymbol` or `vscode.SymbolInformation`, as far as this module reads it. */
export interface SymbolNode {
  name: string;
  kind: number;
  range?: { start: Position; end: Position };
  location?: { range: { start: Position; end: Position } };
  children?: readonly SymbolNode[];
}

/**
 * The definitions among `symbols` (a document-symbol provider's answer, nested or flat), each as
 * {name, kind, range} with a plain range (a `vscode.Range` would serialise as an array), parents
 * before their children. Children are searched under every symbol, a definition or not.
 */
export function flattenSymbols(symbols: readonly SymbolNode[] | undefined | null, max = MAX_SYMBOLS): UnitSymbol[] {
  const out: UnitSymbol[] = [];
  const walk = (nodes: readonly SymbolNode[] | undefined): void => {
    for (const node of nodes ?? []) {
      if (out.length >= max) {
        return;
      }
      const kind = DEFINITION_KINDS[node.kind];
      const range = toPlainRange(node.range ?? node.location?.range);
      if (kind !== undefined && range && typeof node.name === 'string') {
        out.push({
          name: node.name,
          kind,
          range: {
            start: { line: range.startLine, character: range.startCharacter },
            end: { line: range.endLine, character: range.endCharacter },
          },
        });
      }
      walk(node.children);
    }
  };
  walk(Array.isArray(symbols) ? symbols : []);
  return out;
}

/**
 * The ranges a per-unit tint paints, by colour bucket (`groups[b]`, b = 0 lightest), each unit in
 * the bucket of its weight among the `top` heaviest: for `identifier`, every occurrence the server
 * listed; for `definition`, whole lines (empty ranges at column 0), each line in the innermost
 * listed definition that holds it, so nested definitions do not paint over each other, as the
 * server's sums do not double count. `limit` caps the ranges in all, heaviest units first;
 * `token` paints none here.
 */
export function unitTintGroups(units: CodeUnits | undefined, unit: TintUnit, top: number, limit: number): PlainRange[][] {
  const groups: PlainRange[][] = Array.from({ length: BUCKET_COUNT }, () => []);
  if (!units || unit === 'token') {
    return groups;
  }
  const given: unknown = unit === 'identifier' ? units.identifiers : units.definitions;
  const list: readonly { weight: number; ranges?: unknown; range?: unknown }[] = Array.isArray(given)
    ? (given as { weight: number }[])
    : [];
  const buckets = bucketize(
    list.map((u) => u.weight),
    { topK: top },
  );
  // heaviest first, so the limit keeps the units that matter most
  const order = groupByBucket(buckets)
    .flatMap((members, b) => members.map((i) => [i, b] as const))
    .sort((x, y) => list[y[0]].weight - list[x[0]].weight || x[0] - y[0]);
  let left = Math.max(0, Math.floor(limit));
  const push = (b: number, range: PlainRange): void => {
    if (left > 0) {
      groups[b].push(range);
      left -= 1;
    }
  };
  if (unit === 'identifier') {
    for (const [i, b] of order) {
      const ranges = Array.isArray(list[i].ranges) ? (list[i].ranges as unknown[]) : [];
      for (const raw of ranges) {
        const range = toPlainRange(raw);
        if (range) {
          push(b, range);
        }
      }
    }
    return groups;
  }
  // Outer definitions first: an inner one then takes its own lines over.
  const spans = order
    .map(([i, b]) => ({ b, weight: list[i].weight, range: toPlainRange(list[i].range) }))
    .filter((s): s is { b: number; weight: number; range: PlainRange } => s.range !== undefined)
    .sort((x, y) => y.range.endLine - y.range.startLine - (x.range.endLine - x.range.startLine));
  const owner = new Map<number, { b: number; weight: number }>();
  for (const span of spans) {
    const { startLine, endLine, endCharacter } = span.range;
    const last = endCharacter === 0 && endLine > startLine ? endLine - 1 : endLine; // an end at column 0 holds nothing of its line
    for (let line = startLine; line <= last; line++) {
      owner.set(line, span);
    }
  }
  const lines = [...owner.entries()].sort((x, y) => y[1].weight - x[1].weight || x[0] - y[0]);
  for (const [line, { b }] of lines) {
    push(b, { startLine: line, startCharacter: 0, endLine: line, endCharacter: 0 });
  }
  return groups;
}
