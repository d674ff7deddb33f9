/**
 * The Completion panel's view model and its messages, without 'vscode': what the page shows is
 * computed here from the answers (the page only draws), and what the page sends is checked here
 * (everything from a webview is untrusted).
 */
import {
  alternativeLabel,
  canBranchAt,
  formatNats,
  ldsSentence,
  scoreTints,
  stopSentence,
  type LeftOut,
  type ScoreTint,
} from './completion';
import { sequenceDiff, type DiffPart } from './diff';
import { formatProbability } from './surprise';
import type { Attribution, CompleteResult, ExplainCompletionResult } from './protocolViews';
import type { ErrorMessage, LoadingMessage } from './viewMessages';

/** The most lines and units listed: the strongest, by |score|. */
export const LISTED_LINES = 12;
export const LISTED_UNITS = 10;

export interface AlternativeView {
  /** shown with its whitespace visible */
  text: string;
  probability: string;
  /** 0..1, the bar's length */
  bar: number;
}

export interface TokenView {
  label: string;
  probability: string;
  bar: number;
  /** bits */
  entropy: string;
  forced: boolean;
  alternatives: AlternativeView[];
  /** false: an earlier token's id is unknown, so no branch starts here */
  branchable: boolean;
  /** the attention of the selected token on this one (completion tokens only) */
  tint?: number;
  selected: boolean;
}

export interface ScoredView {
  /** 0-based document lines it covers (a click reveals them) */
  first: number;
  last: number;
  /** "line 12" / "def parse (lines 3-9)" */
  label: string;
  score: string;
  tint?: ScoreTint;
}

export interface AttributionView {
  method: string;
  label: string;
  lds: string;
  total: string;
  lines: ScoredView[];
  units: ScoredView[];
}

export interface ExplainView {
  removals: AttributionView;
  /** the instant method's LDS on the same removals */
  instantLds: string;
  cost: string;
}

export interface RegenerateView {
  reason: string;
  diff: DiffPart[];
  same: boolean;
}

/** Everything the page shows. */
export interface CompletionDataMessage {
  type: 'data';
  title: string;
  text: string;
  /** one line: how it stopped, what it cost, what forced it */
  caption: string;
  tokens: TokenView[];
  instant: AttributionView;
  explain?: ExplainView;
  /** "Explain with removals" runs */
  explaining: boolean;
  regenerate?: RegenerateView;
  /** the selected token's attention: what it says */
  attention?: string;
  /** a sentence about the last action (a failure, a refusal) */
  note?: string;
  /** the prediction mode ("Which code does this prediction need?"): the predicted token; no completion tokens, no actions */
  prediction?: PredictionView;
}

/** The predicted token, its probability ("62%") and what it follows. */
export interface PredictionView {
  label: string;
  probability: string;
  after: string;
}

export type ToCompletionView = LoadingMessage | ErrorMessage | CompletionDataMessage;

/** What the panel holds besides the completion: the answers and choices the view shows. */
export interface CompletionState {
  result: CompleteResult;
  title: string;
  explain?: ExplainCompletionResult;
  explaining?: boolean;
  /** the completion before a regeneration, and the lines left out */
  regenerated?: { original: CompleteResult; leftOut: LeftOut };
  /** the selected token (step) and the attention weights of the completion tokens, by step */
  selected?: { step: number; weights: ReadonlyMap<number, number>; sentence: string };
  note?: string;
}

function scored(items: { first: number; last: number; label: string; score: number }[], max: number): ScoredView[] {
  const top = [...items].sort((a, b) => Math.abs(b.score) - Math.abs(a.score) || a.first - b.first).slice(0, max);
  const tints = scoreTints(top.map((i) => i.score));
  return top.map((i, k) => ({ first: i.first, last: i.last, label: i.label, score: formatNats(i.score), ...(tints[k] ? { tint: tints[k] } : {}) }));
}

/** The attribution as the panel lists it: the strongest lines and units, 0-based for the reveal. */
export function attributionView(a: Attribution): AttributionView {
  const lines = a.lines.map((l) => ({ first: l.line - 1, last: l.line - 1, label: `line ${l.line}`, score: l.score }));
  const units = a.units.map((u) => ({
    first: u.lines[0] - 1,
    last: u.lines[1] - 1,
    label: `${u.kind} ${u.name} (${u.lines[0] === u.lines[1] ? `line ${u.lines[0]}` : `lines ${u.lines[0]}-${u.lines[1]}`})`,
    score: u.score,
  }));
  return {
    method: a.method === 'removals' ? 'removals' : 'attention (instant)',
    label: a.label,
    lds: ldsSentence(a),
    total: `the whole context: ${formatNats(a.total)}`,
    lines: scored(lines, LISTED_LINES),
    units: scored(units, LISTED_UNITS),
  };
}

/** The bucket 0..4 of each completion token's attention weight (the largest is 4); the rest have none. */
function weightTints(weights: ReadonlyMap<number, number>): Map<number, number> {
  const max = Math.max(0, ...weights.values());
  const out = new Map<number, number>();
  for (const [step, w] of weights) {
    if (max > 0 && w >= 0.02 * max) {
      out.set(step, Math.min(4, Math.max(0, Math.ceil((w / max) * 5) - 1)));
    }
  }
  return out;
}

/** The cost of a completion: "3.1 s; 41 tokens generated, 380 reused, 12 computed". */
export function costSentence(result: CompleteResult): string {
  const c = result.cost;
  return `${c.seconds.toFixed(1)} s; ${c.generatedTokens} tokens generated, ${c.reusedTokens} reused, ${c.computedTokens} computed`;
}

/** The page's data for a state. */
export function completionView(state: CompletionState): CompletionDataMessage {
  const { result } = state;
  const tokens = result.completion.tokens;
  const tints = state.selected ? weightTints(state.selected.weights) : new Map<number, number>();
  const forced = tokens.filter((t) => t.forced).length;
  const caption = [
    `${tokens.length} tokens, ${stopSentence(result.completion.stop)}`,
    forced ? `the first ${forced} forced (a branch)` : '',
    costSentence(result),
  ]
    .filter(Boolean)
    .join('; ');
  const view: CompletionDataMessage = {
    type: 'data',
    title: state.title,
    text: result.completion.text,
    caption,
    tokens: tokens.map((t, step) => ({
      label: t.label,
      probability: formatProbability(t.probability),
      bar: t.probability,
      entropy: `${t.entropy.toFixed(2)} bits`,
      forced: t.forced,
      alternatives: t.alternatives.map((a) => ({ text: a.label ?? alternativeLabel(a.text), probability: formatProbability(a.probability), bar: a.probability })),
      branchable: canBranchAt(tokens, step),
      ...(tints.has(step) ? { tint: tints.get(step) } : {}),
      selected: state.selected?.step === step,
    })),
    instant: attributionView(result.attribution),
    explaining: state.explaining === true,
  };
  if (state.explain) {
    view.explain = {
      removals: attributionView(state.explain.attribution),
      instantLds: `The instant method on the same removals: ${ldsSentence(state.explain.instant)}.`,
      cost: `${state.explain.cost.ablations} removals, ${state.explain.cost.forwardTokens.toLocaleString('en-US')} tokens through the model, ${state.explain.cost.seconds.toFixed(1)} s`,
    };
  }
  if (state.regenerated) {
    const before = state.regenerated.original.completion.tokens.map((t) => t.text);
    const diff = sequenceDiff(
      before,
      tokens.map((t) => t.text),
    );
    view.regenerate = { reason: `Without ${state.regenerated.leftOut.reason}`, diff, same: diff.every((p) => p.op === 'same') };
  }
  if (state.selected) {
    view.attention = state.selected.sentence;
  }
  if (state.note) {
    view.note = state.note;
  }
  return view;
}

// ---- page -> extension

export type CompletionMessage =
  | { type: 'ready' }
  | { type: 'branch'; step: number; alternative: number }
  | { type: 'selectToken'; step: number }
  | { type: 'revealLines'; first: number; last: number }
  | { type: 'explain' }
  | { type: 'regenerate' }
  | { type: 'original' }
  | { type: 'insert' };

const MAX_STEP = 100_000;
const isStep = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_STEP;
const isLine = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= 10_000_000;

/** Accepts only a well-formed message of the Completion page, with no other keys. */
export function isCompletionMessage(value: unknown): value is CompletionMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return false;
  }
  const m = value as Record<string, unknown>;
  const keys = (...allowed: string[]): boolean => Object.keys(m).every((k) => k === 'type' || allowed.includes(k));
  switch (m.type) {
    case 'ready':
    case 'explain':
    case 'regenerate':
    case 'original':
    case 'insert':
      return keys();
    case 'branch':
      return keys('step', 'alternative') && isStep(m.step) && isStep(m.alternative);
    case 'selectToken':
      return keys('step') && isStep(m.step);
    case 'revealLines':
      return keys('first', 'last') && isLine(m.first) && isLine(m.last) && m.first <= m.last;
    default:
      return false;
  }
}
