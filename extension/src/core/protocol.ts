/**
 * Types of the Atten-Scope language-server protocol (docs/PROTOCOL.md).
 * All positions are LSP positions: 0-based line, UTF-16 code units.
 */

export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** The built-in lists: what package.json offers and what is shown before the server says its own. */
export const REFINEMENTS = ['raw', 'norm', 'effective', 'effective+norm'] as const;
export const AGGREGATES = ['headMean', 'headMax', 'lastLayers', 'rollout', 'learned', 'perHead'] as const;
export const DIRECTIONS = ['attendsTo', 'attendedBy'] as const;
export const DEVICES = ['auto', 'cpu', 'cuda', 'mps'] as const;

export type BuiltinRefinement = (typeof REFINEMENTS)[number];
export type BuiltinAggregate = (typeof AGGREGATES)[number];
/**
 * A running server may offer refinements and aggregates the built-in lists lack
 * (capabilities.experimental.attenScope): the names stay open, the built-in ones are the known spellings.
 */
export type Refinement = BuiltinRefinement | (string & Record<never, never>);
export type Aggregate = BuiltinAggregate | (string & Record<never, never>);
export type Direction = (typeof DIRECTIONS)[number];
export type Device = (typeof DEVICES)[number];
export type IndexSelection = 'all' | number[];

/**
 * Refinement and aggregate names a value is checked against: the built-in lists, or those the
 * running server offers. Directions stay the built-in two (Toggle Direction flips between them).
 */
export interface KnownNames {
  refinements: readonly string[];
  aggregates: readonly string[];
  /** per measured model id, the view the server's evidence recommends when the user chose none */
  recommendedViews?: Readonly<Record<string, RecommendedView>>;
}

export interface RecommendedView {
  refinement: Refinement;
  aggregate: Aggregate;
  /** its measured Spearman rho against leave-one-out ablation */
  rho: number;
}

export const BUILTIN_NAMES: KnownNames = { refinements: REFINEMENTS, aggregates: AGGREGATES };

/** JSON-RPC / LSP error codes the extension reacts to. */
export const ErrorCodes = {
  /** a view request for a document the server does not hold (never analysed, restart, cache eviction) */
  NotAnalysed: -31001,
  InvalidParams: -32602,
  RequestCancelled: -32800,
  ContentModified: -32801,
} as const;

export interface TextDocumentIdentifier {
  uri: string;
}

export interface ModelInfo {
  id: string;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

/** A file the model reads before the document, with its text as the editor holds it. */
export interface ContextFile {
  uri: string;
  text: string;
}

export interface AnalyzeParams {
  textDocument: TextDocumentIdentifier;
  workDoneToken?: string | number;
  /** read before the document, in this order (docs/PROTOCOL.md, "Context files") */
  contextFiles?: ContextFile[];
}

/** A context file of an analysis: its name as its header line says it, and its tokens [start, end). */
export interface AnalysedContextFile {
  uri: string;
  name: string;
  tokens: [number, number];
}

export interface AnalyzeResult {
  uri: string;
  version: number;
  model: ModelInfo;
  tokens: number;
  windows: { start: number; end: number }[];
  truncated: boolean;
  reusedTokens?: number;
  elapsedMs: number;
  /** read from the server's analysis cache on disk: the model did not run */
  restored?: boolean;
  /** absent: the document was read alone */
  contextFiles?: AnalysedContextFile[];
}

export interface TokenRef {
  index: number;
  /** in the document; for a token of a context file (`uri` set), in that file */
  range: Range;
  /** the exact source span (empty for a piece of a character that an earlier token owns) */
  text: string;
  /** what a reader is shown: whitespace as symbols, `折 (part)` for a piece of a character */
  label?: string;
  /** set for a token of a context file: the file it lies in, and its name */
  uri?: string;
  name?: string;
  /** a token of the header line that names a context file, not of its text */
  header?: boolean;
}

export interface Target extends TokenRef {
  weight: number;
}

export interface LineWeight {
  line: number;
  weight: number;
}

export interface ViewParams {
  direction?: Direction;
  refinement?: Refinement;
  aggregate?: Aggregate;
  layers?: IndexSelection;
  heads?: IndexSelection;
  dropSink?: boolean;
  topK?: number;
}

export interface AttentionParams extends ViewParams {
  textDocument: TextDocumentIdentifier;
  position: Position;
  /** false: no prediction or surprisal (they read the LM head; the tints do not need them) */
  prediction?: boolean;
}

/** How well a view agreed with leave-one-out ablation in the benchmark (bench/RESULTS.md). */
export interface Faithfulness {
  /** mean Spearman correlation with the ablation ranking */
  rho: number;
  /** 95% bootstrap interval of rho */
  low: number;
  high: number;
  /** code snippets measured */
  snippets: number;
  /** 1-based rank of this view among the measured views */
  rank: number;
  /** how many views were measured */
  methods: number;
  /** the best measured view, e.g. "norm / lastLayers" */
  best: string;
  bestRho: number;
  /** the model the numbers were measured on */
  model: string;
  /** the situation the figure was measured in (absent from older servers: the last token, token level) */
  position?: QueryPosition;
  unit?: FaithfulnessUnit;
  /** the situation asked for (the one on screen); differs from position/unit where it was not measured */
  asked?: { position: QueryPosition; unit: FaithfulnessUnit };
  /** the code measured: "bench/corpus" (the benchmark's snippets) or e.g. "Python 3.11.7 standard library" */
  corpus?: string;
  /** the language ids of the snippets measured, e.g. ["python"] (empty where the table does not name them) */
  languages?: string[];
  /** the document's language id the figure was asked for (null: not known) */
  language?: string | null;
  /** the figure was measured on other languages than the document's: it stands in for it */
  standsIn?: boolean;
  /** the server's words for the figure, the same in the CLI, the HTML report and the hover:
   *  one short line ("ρ +0.38 vs ablation (Python, interior tokens)") and the full sentence */
  text: string;
  sentence: string;
}

/** What the model predicted after a token (docs/PROTOCOL.md); texts are labels. */
export interface Prediction {
  top: { id?: number; text: string; probability: number }[];
  /** null: the document's last token, which nothing follows */
  actual: { id?: number; text: string; probability: number; rank: number } | null;
}

/** Where the query token is: the document's last analysed token, or any other. */
export type QueryPosition = 'last' | 'interior';
/** token: a token's weight against ablating that token; line: a line's summed weight against ablating the line. */
export type FaithfulnessUnit = 'token' | 'line';

/**
 * What the views about one token add: the analysis they were answered from, and where the
 * document was first edited after it (null when the analysis is current). Tokens before
 * `staleFrom` are answered exactly from the older analysis.
 */
export interface Freshness {
  analysedVersion?: number;
  staleFrom?: Position | null;
}

/** The data of a ContentModified answer for a token edited after the analysis. */
export interface StaleData {
  freshTokens: number;
  staleFrom: Position;
}

/** Every occurrence of one name, and the weight of the tokens they touch. */
export interface IdentifierUnit {
  name: string;
  /** occurrences in the document */
  count: number;
  weight: number;
  /** the first occurrences (at most 64) */
  ranges: Range[];
}

/**
 * A definition from the editor's symbols or the server's parse, a block of lines where there are
 * neither, or a parsed statement.
 */
export interface DefinitionUnit {
  name: string;
  /**
   * "function", "class", ... (the symbol's kind); "block" for a block of lines; for a statement,
   * "import", "control" (for, if, while, ...) or "statement"
   */
  kind: string;
  /** how it reads in the source: "def parse_header", "for item in items", or a block's first line */
  label: string;
  range: Range;
  weight: number;
}

/** The attention summed over code units (docs/PROTOCOL.md). */
export interface CodeUnits {
  /**
   * "symbols": definitions are the editor's; "syntax": the server parsed them (no symbols, a
   * language it has a grammar for); "blocks": runs of non-blank lines stand in
   */
  source: 'symbols' | 'syntax' | 'blocks';
  definitions: DefinitionUnit[];
  /** weight of the tokens outside every definition */
  outside: number;
  /** the top-level statements of the file and of each definition's body; empty without a grammar; absent: an older server */
  statements?: DefinitionUnit[];
  identifiers: IdentifierUnit[];
}

/** A definition as the extension sends it: its name, kind and range. */
export interface UnitSymbol {
  name: string;
  kind: string;
  range: Range;
}

/** The symbols notification: the definitions the editor found in one version of a document. */
export interface SymbolsParams {
  textDocument: { uri: string; version: number };
  symbols: UnitSymbol[];
}

export interface AttentionResult extends Freshness {
  version: number;
  token: TokenRef;
  /** null: the server keeps no predictions for this model; absent: a server that does not send them */
  prediction?: Prediction | null;
  /** -log2 p of the token given the text before it; null for the first token */
  surprisal?: { bits: number; probability: number } | null;
  targets: Target[];
  lines: LineWeight[];
  /** absent: a server that does not report units */
  units?: CodeUnits;
  settings?: Record<string, unknown>;
  elapsedMs?: number;
  /** null: this model or view was not measured; absent: a server that does not report it */
  faithfulness?: Faithfulness | null;
  /** the same for the per-line weights (the gutter) */
  lineFaithfulness?: Faithfulness | null;
  /** the share of the context files read before the document; absent: it was read alone */
  context?: ContextShare;
}

/** A line of a context file and its weight; `line` is 0-based, `definition` the one holding it. */
export interface ContextLine {
  uri: string;
  name: string;
  line: number;
  weight: number;
  text: string;
  definition: string | null;
}

/** Where one token's attention falls in the context files (docs/PROTOCOL.md, "Context files"). */
export interface ContextShare {
  /** on everything read before the document */
  weight: number;
  files: { uri: string; name: string; weight: number }[];
  targets: Target[];
  lines: ContextLine[];
}

export interface SurpriseParams {
  textDocument: TextDocumentIdentifier;
  /** [start, end) token indices; all analysed tokens when absent */
  rows?: [number, number];
}

/** The surprise heat of a range of tokens: per token of [start, end), its surprisal in bits and its range as 4 numbers. */
export interface SurpriseResult {
  version: number;
  tokens: number;
  start: number;
  end: number;
  unit: 'bits';
  /** null: the first token of the document */
  bits: (number | null)[];
  /** flat: start line, start character, end line, end character per token */
  ranges: number[];
  elapsedMs?: number;
}

export type ServerState = 'loadingModel' | 'ready' | 'analyzing' | 'error';

export interface StatusParams {
  state: ServerState;
  message?: string;
  model?: string;
}
