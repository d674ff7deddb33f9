/**
 * Messages between the webviews and the extension. Everything that comes from a webview is
 * untrusted input: the guards below accept only well-formed messages.
 */
import { validMaxNodes, validThreshold } from './flow';
import { BUILTIN_NAMES, type Aggregate, type KnownNames, type Refinement } from './protocol';

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

/** Per message type, the check of the rest of the message; a type not listed is refused. */
type Checks = Record<string, (message: Record<string, unknown>) => boolean>;

function accepts(value: unknown, checks: Checks): boolean {
  // own keys only: a type such as "__proto__" or "toString" must not find a check
  return isRecord(value) && typeof value.type === 'string' && Object.hasOwn(checks, value.type) && checks[value.type](value);
}

const bare = (m: Record<string, unknown>): boolean => hasOnlyKeys(m, ['type']);

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

/**
 * The page zoomed in: the token ranges [start, end) on screen, to be drawn at `bins` cells a side
 * (an exact tile when they are short enough, else a finer pooled grid).
 */
export interface ZoomMessage {
  type: 'zoom';
  rows: [number, number];
  columns: [number, number];
  bins: number;
}

export type HeatmapMessage = ReadyMessage | RevealMessage | SetHeatmapViewMessage | ZoomMessage;

function isSpan(value: unknown): value is [number, number] {
  return Array.isArray(value) && value.length === 2 && isIndex(value[0]) && isIndex(value[1]) && value[0] < value[1];
}

/** `names`: the refinements and aggregates the page was offered (the running server's lists). */
export function isHeatmapMessage(value: unknown, names: KnownNames = BUILTIN_NAMES): value is HeatmapMessage {
  return accepts(value, {
    ready: bare,
    reveal: (m) => hasOnlyKeys(m, ['type', 'row', 'col']) && isIndex(m.row) && isIndex(m.col) && m.col <= m.row,
    setView: (m) =>
      hasOnlyKeys(m, ['type', 'layer', 'head', 'refinement', 'aggregate']) &&
      (m.layer === 'all' || isIndex(m.layer, 10_000)) &&
      (m.head === 'all' || isIndex(m.head, 10_000)) &&
      typeof m.refinement === 'string' &&
      names.refinements.includes(m.refinement) &&
      typeof m.aggregate === 'string' &&
      names.aggregates.includes(m.aggregate),
    zoom: (m) => hasOnlyKeys(m, ['type', 'rows', 'columns', 'bins']) && isSpan(m.rows) && isSpan(m.columns) && isIndex(m.bins, 65_536) && m.bins > 0,
  });
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

/** Shift-click on a cell: that head's neuron view for the cursor token and the cell's top token. */
export interface NeuronViewMessage {
  type: 'neuronView';
  layer: number;
  head: number;
  source: number;
}

export type ModelViewMessage = ReadyMessage | SelectHeadMessage | ResetHeadsMessage | RevealTokenMessage | NeuronViewMessage;

const isHead = (m: Record<string, unknown>): boolean => isIndex(m.layer, 10_000) && isIndex(m.head, 10_000);

export function isModelViewMessage(value: unknown): value is ModelViewMessage {
  return accepts(value, {
    ready: bare,
    resetHeads: bare,
    selectHead: (m) => hasOnlyKeys(m, ['type', 'layer', 'head']) && isHead(m),
    revealToken: (m) => hasOnlyKeys(m, ['type', 'index']) && isIndex(m.index),
    neuronView: (m) => hasOnlyKeys(m, ['type', 'layer', 'head', 'source']) && isHead(m) && isIndex(m.source),
  });
}

// ---- neuron webview -> extension

/** Click on the query or the source: reveal it in the editor. */
export interface RevealEndMessage {
  type: 'revealEnd';
  end: 'token' | 'source';
}

export type NeuronMessage = ReadyMessage | RevealEndMessage;

export function isNeuronMessage(value: unknown): value is NeuronMessage {
  return accepts(value, {
    ready: bare,
    revealEnd: (m) => hasOnlyKeys(m, ['type', 'end']) && (m.end === 'token' || m.end === 'source'),
  });
}

// ---- information-flow webview -> extension

/** The threshold or node budget changed: trace the routes again. */
export interface SetFlowOptionsMessage {
  type: 'setOptions';
  threshold: number;
  maxNodes: number;
}

/**
 * Click on an attention edge: the neuron view of one of its heads, for the edge's reading token
 * (`target`) and the token read (`source`); `layer` is the flow's (1 to the model's layers).
 */
export interface FlowHeadMessage {
  type: 'openHead';
  layer: number;
  head: number;
  source: number;
  target: number;
}

/** Click on a node or a token label: reveal that token (`RevealTokenMessage`). */
export type FlowMessage = ReadyMessage | RevealTokenMessage | SetFlowOptionsMessage | FlowHeadMessage;

export function isFlowMessage(value: unknown): value is FlowMessage {
  return accepts(value, {
    ready: bare,
    revealToken: (m) => hasOnlyKeys(m, ['type', 'index']) && isIndex(m.index),
    setOptions: (m) => hasOnlyKeys(m, ['type', 'threshold', 'maxNodes']) && validThreshold(m.threshold) && validMaxNodes(m.maxNodes),
    openHead: (m) =>
      hasOnlyKeys(m, ['type', 'layer', 'head', 'source', 'target']) && isIndex(m.layer, 10_000) && m.layer >= 1 && isIndex(m.head, 10_000) && isIndex(m.source) && isIndex(m.target),
  });
}

// ---- compare webview -> extension

export interface RevealLineMessage {
  type: 'revealLine';
  side: 'current' | 'other';
  line: number;
}

export type CompareMessage = ReadyMessage | RevealLineMessage;

export function isCompareMessage(value: unknown): value is CompareMessage {
  return accepts(value, {
    ready: bare,
    revealLine: (m) => hasOnlyKeys(m, ['type', 'side', 'line']) && (m.side === 'current' || m.side === 'other') && isIndex(m.line),
  });
}
