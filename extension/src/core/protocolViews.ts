/**
 * Types of the protocol's requests behind the views beyond the cursor's tints (docs/PROTOCOL.md):
 * the heatmap, the model and neuron views, information flow, accumulative attention and line
 * removal. Positions are LSP positions, as in protocol.ts.
 */
import type { Aggregate, Direction, Faithfulness, Freshness, LineWeight, Position, Prediction, Refinement, Target, TextDocumentIdentifier, TokenRef } from './protocol';

export interface HeatmapParams {
  textDocument: TextDocumentIdentifier;
  layer: number | 'all';
  head: number | 'all';
  refinement?: Refinement;
  aggregate?: Aggregate;
  /** [start, end) token indices; all analysed tokens when absent */
  rows?: [number, number];
  columns?: [number, number];
  /** at most this many bins a side (the server's limit when absent) */
  bins?: number;
}

/** A heatmap tile: exact, so rows and columns are required and bins are tokens. */
export interface HeatmapTileParams extends Omit<HeatmapParams, 'bins'> {
  rows: [number, number];
  columns: [number, number];
}

/** One axis of a heatmap grid: bin b covers tokens [edges[b], edges[b + 1]). */
export interface HeatmapAxis {
  start: number;
  end: number;
  edges: number[];
  /** the first token of each bin */
  first: TokenRef[];
  /** the last token of each bin; absent when every bin is one token */
  last?: TokenRef[];
}

/**
 * A heatmap grid: each cell the largest weight among the token pairs it covers (of the rows
 * read), as uint16 codes: 0 no weight, else w = low * (high / low)^((code - 1) / 65534).
 */
export interface HeatmapResult {
  version: number;
  /** analysed tokens: the matrix is tokens x tokens */
  tokens: number;
  rows: HeatmapAxis;
  columns: HeatmapAxis;
  pooling: 'max';
  /** one token pair a cell and every row read */
  exact: boolean;
  rowsRead: number;
  rowsTotal: number;
  encoding: 'log16';
  /** how `data` is packed: the zlib stream of the codes */
  compression?: 'deflate';
  low: number;
  high: number;
  /** base64 of the (zlib-compressed) little-endian uint16 codes, row-major */
  data: string;
  settings?: Record<string, unknown>;
  elapsedMs?: number;
}

export interface HeadsParams {
  textDocument: TextDocumentIdentifier;
  position: Position;
  refinement?: Refinement;
  direction?: Direction;
  dropSink?: boolean;
}

export interface HeadCell {
  layer: number;
  head: number;
  entropy: number;
  top: TokenRef | null;
  weight: number;
}

export interface HeadsResult extends Freshness {
  version: number;
  token: TokenRef;
  layers: number;
  heads: number;
  cells: HeadCell[];
}

export interface NeuronParams {
  textDocument: TextDocumentIdentifier;
  /** the query token */
  position: Position;
  layer: number;
  head: number;
  /** the source token's index; the head's strongest source when absent */
  source?: number;
  dropSink?: boolean;
}

/** How one head's query and key produce one weight (server: atten_scope/neuron.py). */
export interface NeuronResult extends Freshness {
  version: number;
  layer: number;
  head: number;
  kvHead: number;
  token: TokenRef;
  source: TokenRef;
  /** post-RoPE query and key, and their product per dimension */
  query: number[];
  key: number[];
  products: number[];
  /** dimensions rotated by RoPE (0: none), in rotate-half pairs [t, t + rotaryDims / 2] */
  rotaryDims: number;
  pairs: [number, number][];
  pairSums: number[];
  /** tokens per full turn of each pair, when one base holds for the model */
  wavelengths: number[] | null;
  scale: number;
  score: number;
  lse: number;
  weight: number;
  /** false where the mask forbids the source (outside a sliding window) */
  allowed: boolean;
}

export interface FlowParams {
  textDocument: TextDocumentIdentifier;
  /** the token whose prediction the routes lead to */
  position: Position;
  /** the smallest importance an edge keeps (server default 0.04) */
  threshold?: number;
  /** the most nodes the graph holds (server default 60, 5 to 300) */
  maxNodes?: number;
}

/** Where a node sits: the residual stream (`resid`), after a layer's attention (`mid`), its MLP block (`mlp`). */
export type FlowStage = 'resid' | 'mid' | 'mlp';
export type FlowEdgeKind = 'attention' | 'residual' | 'mlp';

/**
 * One state of one token. Ids are `"<stage>:<layer>:<token>"`: `resid:0:i` is token i's
 * embedding; for layer l >= 1 `mid:l:i` follows its attention, `mlp:l:i` is its MLP block and
 * `resid:l:i` follows the layer.
 */
export interface FlowNode {
  id: string;
  /** the document token index */
  token: number;
  layer: number;
  stage: FlowStage;
}

/**
 * A contribution that the routes keep: attention `resid:l-1:j -> mid:l:i`, residual
 * `resid:l-1:i -> mid:l:i` and `mid:l:i -> resid:l:i`, mlp `mid:l:i -> mlp:l:i -> resid:l:i`.
 */
export interface FlowEdge {
  source: string;
  target: string;
  kind: FlowEdgeKind;
  /** importance, 0 to 1: how close the contribution is to the update it belongs to */
  weight: number;
  /** for attention edges, [head, share of the edge] pairs */
  heads: [number, number][];
}

/** The information-flow routes to one token's prediction (Ferrando & Voita 2024). */
export interface FlowResult {
  version: number;
  token: TokenRef;
  /** the model's layers: node layers run from 0 (embeddings) to `layers` */
  layers: number;
  threshold: number;
  maxNodes: number;
  nodes: FlowNode[];
  edges: FlowEdge[];
  /** every token that has a node */
  tokens: TokenRef[];
  /** the graph reached maxNodes before the threshold stopped it */
  truncated: boolean;
  recomputedTokens: number;
  elapsedMs: number;
}

export interface AltiRolloutParams {
  textDocument: TextDocumentIdentifier;
  position: Position;
  dropSink?: boolean;
  topK?: number;
  workDoneToken?: string | number;
}

/** Accumulative attention (ALTI rollout) of one token, in the attention view's shape. */
export interface AltiRolloutResult {
  version: number;
  token: TokenRef;
  targets: Target[];
  lines: LineWeight[];
  dropSink: boolean;
  /** null: this model was not measured */
  faithfulness: Faithfulness | null;
  recomputedTokens: number;
  elapsedMs: number;
}

export interface LogitLensParams {
  textDocument: TextDocumentIdentifier;
  /** the token after which each layer's prediction is read */
  position: Position;
  /** first choices per layer (server default 5, at most 20) */
  topK?: number;
}

/** One vocabulary token a layer (or the model) would predict. */
export interface PredictedToken {
  id: number;
  /** as `prediction` shows it: whitespace as symbols */
  text: string;
  probability: number;
}

/** The logit lens of one token: per layer (0-based), what it would predict were it the last. */
export interface LogitLensResult extends Freshness {
  version: number;
  token: TokenRef;
  layers: number;
  /** one entry per layer, in order; the last is the model's prediction */
  logitLens: { layer: number; top: PredictedToken[] }[];
  /** the first layer from which every layer's first choice is the last layer's */
  settledAt: number;
  recomputedTokens: number;
  elapsedMs: number;
}

export interface ContrastParams {
  textDocument: TextDocumentIdentifier;
  position: Position;
  /** the token compared with the model's first choice: its id, or its text */
  alternative: number | string;
  /** sources listed, the largest contributions of either sign (server default 20) */
  topK?: number;
}

/**
 * Why the model's first choice and not the alternative: `difference` = z[predicted] - z[alternative]
 * in logits, and attention + mlp + residual + remainder = difference, with the listed sources plus
 * `otherSources` = attention.
 */
export interface ContrastResult {
  version: number;
  token: TokenRef;
  predicted: PredictedToken & { logit: number };
  alternative: PredictedToken & { logit: number };
  difference: number;
  /** each source token's direct part through the attention heads (positive: toward the prediction) */
  sources: { token: TokenRef; contribution: number }[];
  otherSources: number;
  attention: number;
  mlp: number;
  /** the token's own embedding */
  residual: number;
  remainder: number;
  layers: { layer: number; attention: number; mlp: number }[];
  recomputedTokens: number;
  elapsedMs: number;
}

export interface RemoveLinesParams {
  textDocument: TextDocumentIdentifier & { version?: number };
  /** 0-based, inclusive */
  lines: { first: number; last: number };
  /** the token whose prediction is compared; after the removed lines */
  position: Position;
  /** also the change of every later token's surprisal */
  heat?: boolean;
  workDoneToken?: string | number;
}

/** A line removal: the prediction at a token before and after removing lines, and what it cost. */
export interface RemoveLinesResult {
  version: number;
  lines: { first: number; last: number };
  removedCharacters: number;
  token: TokenRef;
  editedToken: number;
  /** null: no predictions (the server could not reproduce the model's logits) */
  before: Prediction | null;
  after: Prediction | null;
  tokens: number;
  reusedTokens: number;
  recomputedTokens: number;
  elapsedMs: number;
  /** per token after the removed lines: the change of its surprisal in bits; null unless asked */
  heat: RemovalHeat | null;
}

export interface RemovalHeat {
  unit: 'bits';
  indices: number[];
  delta: number[];
  /** flat: start line, start character, end line, end character per token */
  ranges: number[];
  totalDelta: number;
}

// ---- completion and its attribution (Requests.complete, Requests.explainCompletion)

/** 0-based inclusive line ranges of the document, [first, last]. */
export type LineRanges = [number, number][];

export interface CompleteParams {
  textDocument: { uri: string; version?: number };
  /** the cursor: where the completion goes */
  position: Position;
  maxNewTokens?: number;
  /** 0: greedy */
  temperature?: number;
  seed?: number;
  /** top alternatives per step */
  alternatives?: number;
  /** token ids the completion must begin with (a branch) */
  forced?: number[];
  /** lines removed before completing; the cursor lies after them */
  withoutLines?: LineRanges;
  workDoneToken?: string | number;
}

export interface CompletionAlternative {
  id: number;
  text: string;
  /** what a reader is shown (whitespace as symbols), where the server sends it */
  label?: string;
  probability: number;
}

export interface CompletionToken {
  /** token index in the completion analysis (the per-token views take it) */
  index: number;
  /** the token's id, where the server sends it (a branch needs the ids before the step) */
  id?: number;
  text: string;
  label: string;
  /** UTF-16 offset of the token in completion.text */
  offset: number;
  probability: number;
  /** bits */
  entropy: number;
  forced: boolean;
  alternatives: CompletionAlternative[];
}

/** Why generation stopped. */
export type CompletionStop = 'limit' | 'endOfSequence' | 'dedent' | 'blankLines';

export interface AttributionLine {
  /** 1-based */
  line: number;
  /** nats: the estimated drop of the completion's log-probability without the line */
  score: number;
}

export interface AttributionUnit {
  kind: 'definition' | 'import' | 'block' | 'identifier';
  name: string;
  /** 1-based first line */
  line: number;
  /** 1-based, inclusive */
  lines: [number, number];
  score: number;
}

/** Which context drove a completion, by one method, and how well that method predicted removals. */
export interface Attribution {
  method: 'attention' | 'removals';
  label: string;
  /** linear datamodeling score (Spearman); null: not measured */
  lds: number | null;
  ldsSource: 'this completion' | 'benchmark' | null;
  /** nats: log p(completion | context) - log p(completion | no context) */
  total: number;
  lines: AttributionLine[];
  units: AttributionUnit[];
}

export interface CompleteResult {
  /** the kept analysis of prefix + completion; the per-token views take it as textDocument.uri */
  completionUri: string;
  position: Position;
  completion: { text: string; stop: CompletionStop | (string & Record<never, never>); tokens: CompletionToken[] };
  attribution: Attribution;
  cost: { seconds: number; reusedTokens: number; computedTokens: number; generatedTokens: number };
  withoutLines?: LineRanges;
}

export interface ExplainCompletionParams {
  textDocument: { uri: string; version?: number };
  completionUri?: string;
  /** the prediction at a position, when no completion is named */
  position?: Position;
  ablations?: number;
  seed?: number;
  workDoneToken?: string | number;
}

export interface ExplainCompletionResult {
  /** method "removals" */
  attribution: Attribution;
  /** the instant method, its LDS measured on the same ablations */
  instant: Attribution;
  cost: { seconds: number; ablations: number; forwardTokens: number };
}
