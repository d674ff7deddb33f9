/**
 * Messages between the webviews and the extension. Everything that comes from a webview is
 * untrusted input: the guards below accept only well-formed messages.
 */
import { AGGREGATES, REFINEMENTS, type Aggregate, type Refinement } from './protocol';

/** Upper bound for indices a webview may send (tokens, layers, heads). */
export const MAX_INDEX = 10_000_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIndex(value: unknown, max = MAX_INDEX): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= max;
}

function hasOnlyKeys(value: Record<string, unknown>, keys: readonly string[]): boolean {
  return Object.keys(value).every((k) => keys.includes(k));
}

// ---- heatmap webview -> extension

export interface ReadyMessage {
  type: 'ready';
}

/** Click on a cell: row = query token, col = source token (document token indices). */
export interface RevealMessage {
  type: 'reveal';
  row: number;
  col: number;
}

export interface SetHeatmapViewMessage {
  type: 'setView';
  layer: number | 'all';
  head: number | 'all';
  refinement: Refinement;
  aggregate: Aggregate;
}

export type HeatmapMessage = ReadyMessage | RevealMessage | SetHeatmapViewMessage;

export function isHeatmapMessage(value: unknown): value is HeatmapMessage {
  if (!isRecord(value)) {
    return false;
  }
  switch (value.type) {
    case 'ready':
      return hasOnlyKeys(value, ['type']);
    case 'reveal':
      return hasOnlyKeys(value, ['type', 'row', 'col']) && isIndex(value.row) && isIndex(value.col) && value.col <= value.row;
    case 'setView':
      return (
        hasOnlyKeys(value, ['type', 'layer', 'head', 'refinement', 'aggregate']) &&
        (value.layer === 'all' || isIndex(value.layer, 10_000)) &&
        (value.head === 'all' || isIndex(value.head, 10_000)) &&
        REFINEMENTS.includes(value.refinement as Refinement) &&
        AGGREGATES.includes(value.aggregate as Aggregate)
      );
    default:
      return false;
  }
}

// ---- model view webview -> extension

export interface SelectHeadMessage {
  type: 'selectHead';
  layer: number;
  head: number;
}

export interface ResetHeadsMessage {
  type: 'resetHeads';
}

export interface RevealTokenMessage {
  type: 'revealToken';
  index: number;
}

export type ModelViewMessage = ReadyMessage | SelectHeadMessage | ResetHeadsMessage | RevealTokenMessage;

export function isModelViewMessage(value: unknown): value is ModelViewMessage {
  if (!isRecord(value)) {
    return false;
  }
  switch (value.type) {
    case 'ready':
    case 'resetHeads':
      return hasOnlyKeys(value, ['type']);
    case 'selectHead':
      return hasOnlyKeys(value, ['type', 'layer', 'head']) && isIndex(value.layer, 10_000) && isIndex(value.head, 10_000);
    case 'revealToken':
      return hasOnlyKeys(value, ['type', 'index']) && isIndex(value.index);
    default:
      return false;
  }
}

// ---- compare webview -> extension

export interface RevealLineMessage {
  type: 'revealLine';
  side: 'current' | 'other';
  line: number;
}

export type CompareMessage = ReadyMessage | RevealLineMessage;

export function isCompareMessage(value: unknown): value is CompareMessage {
  if (!isRecord(value)) {
    return false;
  }
  switch (value.type) {
    case 'ready':
      return hasOnlyKeys(value, ['type']);
    case 'revealLine':
      return (
        hasOnlyKeys(value, ['type', 'side', 'line']) &&
        (value.side === 'current' || value.side === 'other') &&
        isIndex(value.line)
      );
    default:
      return false;
  }
}
