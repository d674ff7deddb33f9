/**
 * "Complete Here and Explain" without 'vscode': the completion and attribution answers read
 * defensively (everything from the server is checked before it is shown), the ids a branch forces,
 * the lines a regeneration leaves out, positions in the completion analysis and back, and the
 * colour bucket of a score.
 *
 * The completion analysis (completionUri) holds the document's text before the cursor, without the
 * removed lines when some were left out, followed by the completion's text (docs/PROTOCOL.md).
 */
import { BUCKET_COUNT } from './buckets';
import type { Position } from './protocol';
import type {
  Attribution,
  AttributionLine,
  AttributionUnit,
  CompleteResult,
  CompletionAlternative,
  CompletionToken,
  ExplainCompletionResult,
  LineRanges,
} from './protocolViews';
import { isIndex, isPosition } from './ranges';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isProbability = (v: unknown): v is number => isNumber(v) && v >= 0 && v <= 1;

const UNIT_KINDS: readonly AttributionUnit['kind'][] = ['definition', 'import', 'block', 'identifier'];

function readAlternative(value: unknown): CompletionAlternative | undefined {
  if (!isRecord(value) || !isIndex(value.id) || typeof value.text !== 'string' || !isProbability(value.probability)) {
    return undefined;
  }
  const label = typeof value.label === 'string' && value.label !== '' ? { label: value.label } : {};
  return { id: value.id, text: value.text, ...label, probability: value.probability };
}

function readToken(value: unknown): CompletionToken | undefined {
  if (!isRecord(value)) {
    return undefined;
  }
  const { index, id, text, label, offset, probability, entropy, forced, alternatives } = value;
  if (!isIndex(index) || typeof text !== 'string' || !isIndex(offset) || !isProbability(probability) || !isNumber(entropy)) {
    return undefined;
  }
  const alts = Array.isArray(alternatives) ? alternatives.map(readAlternative).filter((a) => a !== undefined) : [];
  return {
    index,
    ...(isIndex(id) ? { id } : {}),
    text,
    label: typeof label === 'string' && label !== '' ? label : text,
    offset,
    probability,
    entropy,
    forced: forced === true,
    alternatives: alts,
  };
}

function readLine(value: unknown): AttributionLine | undefined {
  return isRecord(value) && isIndex(value.line) && value.line >= 1 && isNumber(value.score) ? { line: value.line, score: value.score } : undefined;
}

function readUnit(value: unknown): AttributionUnit | undefined {
  if (!isRecord(value) || !UNIT_KINDS.includes(value.kind as AttributionUnit['kind']) || typeof value.name !== 'string') {
    return undefined;
  }
  const lines = value.lines;
  if (!isIndex(value.line) || !Array.isArray(lines) || lines.length !== 2 || !isIndex(lines[0]) || !isIndex(lines[1]) || lines[0] > lines[1] || !isNumber(value.score)) {
    return undefined;
  }
  return { kind: value.kind as AttributionUnit['kind'], name: value.name, line: value.line, lines: [lines[0], lines[1]], score: value.score };
}

/** An Attribution object, or undefined when it is not one; malformed lines and units are left out. */
export function readAttribution(value: unknown): Attribution | undefined {
  if (!isRecord(value) || (value.method !== 'attention' && value.method !== 'removals') || !isNumber(value.total)) {
    return undefined;
  }
  const ldsSource = value.ldsSource === 'this completion' || value.ldsSource === 'benchmark' ? value.ldsSource : null;
  const lds = isNumber(value.lds) && value.lds >= -1 && value.lds <= 1 ? value.lds : null;
  return {
    method: value.method,
    label: typeof value.label === 'string' ? value.label : '',
    lds,
    ldsSource: lds === null ? null : ldsSource,
    total: value.total,
    lines: Array.isArray(value.lines) ? value.lines.map(readLine).filter((l) => l !== undefined) : [],
    units: Array.isArray(value.units) ? value.units.map(readUnit).filter((u) => u !== undefined) : [],
  };
}

function readRanges(value: unknown): LineRanges | undefined {
  if (!Array.isArray(value)) {
    return undefined;
  }
  const ok = value.every((r) => Array.isArray(r) && r.length === 2 && isIndex(r[0]) && isIndex(r[1]) && r[0] <= r[1]);
  return ok ? (value as [number, number][]).map(([a, b]) => [a, b]) : undefined;
}

function emptyAttribution(): Attribution {
  return { method: 'attention', label: '', lds: null, ldsSource: null, total: 0, lines: [], units: [] };
}

/** A complete answer, or a sentence saying what is wrong with it. Tokens must lie in order inside the text. */
export function readCompleteResult(value: unknown): CompleteResult | string {
  if (!isRecord(value) || typeof value.completionUri !== 'string' || !isPosition(value.position) || !isRecord(value.completion)) {
    return 'the server sent no completion';
  }
  const { text, stop, tokens } = value.completion;
  if (typeof text !== 'string' || !Array.isArray(tokens)) {
    return 'the completion has no text or tokens';
  }
  const read = tokens.map(readToken);
  if (read.some((t) => t === undefined)) {
    return 'a token of the completion is malformed';
  }
  const kept = read as CompletionToken[];
  const inOrder = kept.every((t, i) => t.offset + t.text.length <= text.length && (i === 0 || (t.offset >= kept[i - 1].offset && t.index > kept[i - 1].index)));
  if (!inOrder) {
    return "the completion's tokens do not lie in order in its text";
  }
  // a completion that stopped at once has nothing to attribute: the server sends no attribution
  const attribution = kept.length === 0 && value.attribution === undefined ? emptyAttribution() : readAttribution(value.attribution);
  if (!attribution) {
    return 'the completion has no attribution';
  }
  const cost = isRecord(value.cost) ? value.cost : {};
  const num = (v: unknown): number => (isNumber(v) ? v : 0);
  const withoutLines = readRanges(value.withoutLines);
  return {
    completionUri: value.completionUri,
    position: { line: value.position.line, character: value.position.character },
    completion: { text, stop: typeof stop === 'string' ? stop : 'limit', tokens: kept },
    attribution,
    cost: { seconds: num(cost.seconds), reusedTokens: num(cost.reusedTokens), computedTokens: num(cost.computedTokens), generatedTokens: num(cost.generatedTokens) },
    ...(withoutLines?.length ? { withoutLines } : {}),
  };
}

/** An explainCompletion answer, or a sentence saying what is wrong with it. */
export function readExplainResult(value: unknown): ExplainCompletionResult | string {
  if (!isRecord(value)) {
    return 'the server sent no explanation';
  }
  const attribution = readAttribution(value.attribution);
  const instant = readAttribution(value.instant);
  if (!attribution || !instant) {
    return 'the explanation lacks an attribution';
  }
  const cost = isRecord(value.cost) ? value.cost : {};
  const num = (v: unknown): number => (isNumber(v) ? v : 0);
  return { attribution, instant, cost: { seconds: num(cost.seconds), ablations: num(cost.ablations), forwardTokens: num(cost.forwardTokens) } };
}

/**
 * A token's id: the one the server sent, else the alternative of its step with the same text
 * (the greedy choice is among the top alternatives). Undefined when neither says it.
 */
export function tokenId(token: CompletionToken): number | undefined {
  if (token.id !== undefined) {
    return token.id;
  }
  return token.alternatives.find((a) => a.text === token.text)?.id;
}

/**
 * The ids a branch forces: the tokens before `step`, then the chosen alternative. Undefined when
 * the step or the alternative does not exist, or an earlier token's id is unknown.
 */
export function branchForced(tokens: readonly CompletionToken[], step: number, alternative: number): number[] | undefined {
  const chosen = tokens[step]?.alternatives[alternative];
  if (!chosen) {
    return undefined;
  }
  const before = tokens.slice(0, step).map(tokenId);
  return before.every((id) => id !== undefined) ? [...before, chosen.id] : undefined;
}

/** Whether a branch can start at `step` (the ids of every earlier token are known). */
export function canBranchAt(tokens: readonly CompletionToken[], step: number): boolean {
  return tokens.slice(0, step).every((t) => tokenId(t) !== undefined);
}

/** Sorted 0-based lines merged into inclusive ranges: [2, 3, 7] -> [[2, 3], [7, 7]]. */
export function mergeLines(lines: readonly number[]): LineRanges {
  const sorted = [...new Set(lines)].filter((l) => isIndex(l)).sort((a, b) => a - b);
  const out: LineRanges = [];
  for (const line of sorted) {
    const last = out[out.length - 1];
    if (last && line === last[1] + 1) {
      last[1] = line;
    } else {
      out.push([line, line]);
    }
  }
  return out;
}

/** "line 3", "lines 3-4, 8" (1-based, as the editor shows them). */
export function rangesLabel(ranges: LineRanges): string {
  const parts = ranges.map(([a, b]) => (a === b ? `${a + 1}` : `${a + 1}-${b + 1}`));
  const single = ranges.length === 1 && ranges[0][0] === ranges[0][1];
  return `${single ? 'line' : 'lines'} ${parts.join(', ')}`;
}

/** The lines a regeneration leaves out, and how they were chosen. */
export interface LeftOut {
  ranges: LineRanges;
  /** "the selected lines 3-4" / "the top 3 lines by score: lines 2, 5, 7" */
  reason: string;
}

/**
 * The lines "Regenerate without these lines" leaves out: the selected lines (0-based inclusive,
 * `selection`) when there is a selection, else the `count` lines with the highest score. Only
 * lines before the cursor's line may go (the completion is made after them); a sentence when none
 * is left.
 */
export function linesToLeaveOut(selection: { first: number; last: number } | undefined, attribution: Attribution, cursorLine: number, count = 3): LeftOut | string {
  if (selection) {
    if (selection.first >= cursorLine) {
      return 'select lines above the completion: it is made after the lines it leaves out';
    }
    const ranges: LineRanges = [[selection.first, Math.min(selection.last, cursorLine - 1)]];
    return { ranges, reason: `the selected ${rangesLabel(ranges)}` };
  }
  const top = attribution.lines
    .filter((l) => l.line - 1 < cursorLine && l.score > 0)
    .sort((a, b) => b.score - a.score || a.line - b.line)
    .slice(0, count);
  if (!top.length) {
    return 'no line before the cursor raised the completion: select the lines to leave out';
  }
  const ranges = mergeLines(top.map((l) => l.line - 1));
  return { ranges, reason: `the top ${top.length} ${top.length === 1 ? 'line' : 'lines'} by score: ${rangesLabel(ranges)}` };
}

/** The position `offset` UTF-16 units into `text`, when `text` starts at `start`. */
export function positionAfter(start: Position, text: string, offset: number): Position {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const breaks = before.split(/\r\n|\r|\n/);
  if (breaks.length === 1) {
    return { line: start.line, character: start.character + before.length };
  }
  return { line: start.line + breaks.length - 1, character: breaks[breaks.length - 1].length };
}

/** How many of the left-out lines lie before a document line. */
function removedBefore(line: number, withoutLines: LineRanges | undefined): number {
  return (withoutLines ?? []).reduce((n, [a, b]) => n + (b < line ? b - a + 1 : 0), 0);
}

/** Where the completion begins in the completion analysis (the cursor, moved up by the lines left out). */
export function completionStart(result: Pick<CompleteResult, 'position' | 'withoutLines'>): Position {
  return { line: result.position.line - removedBefore(result.position.line, result.withoutLines), character: result.position.character };
}

/**
 * A position of the completion analysis at which the attention view is asked about a token: one
 * unit inside the token where it has two or more, so the token's own start is never read as the
 * end of the one before it.
 */
export function tokenPosition(result: Pick<CompleteResult, 'position' | 'withoutLines' | 'completion'>, step: number): Position | undefined {
  const token = result.completion.tokens[step];
  if (!token) {
    return undefined;
  }
  const inside = token.text.length >= 2 ? 1 : 0;
  return positionAfter(completionStart(result), result.completion.text, token.offset + inside);
}

/**
 * The document line of a line of the completion analysis' prefix (0-based); undefined for a line
 * at or after the completion's start, which the document does not hold.
 */
export function documentLine(analysisLine: number, result: Pick<CompleteResult, 'position' | 'withoutLines'>): number | undefined {
  if (!isIndex(analysisLine) || analysisLine > completionStart(result).line) {
    return undefined;
  }
  let line = analysisLine;
  for (const [a, b] of [...(result.withoutLines ?? [])].sort((x, y) => x[0] - y[0])) {
    if (a <= line) {
      line += b - a + 1;
    }
  }
  return line;
}

/** A score's tint: its sign and a bucket 0..buckets-1 of |score| against the largest |score|; undefined: too small to tint. */
export interface ScoreTint {
  sign: 'pos' | 'neg';
  bucket: number;
}

/** Scores under this fraction of the largest are not tinted: the tints show what mattered. */
export const MIN_TINT_FRACTION = 0.05;

/**
 * The tints of a list of scores on one scale for both signs (so a red and a blue line of the same
 * depth moved the log-probability by about as much); undefined where |score| is under
 * MIN_TINT_FRACTION of the largest, or not finite.
 */
export function scoreTints(scores: readonly number[], buckets = BUCKET_COUNT): (ScoreTint | undefined)[] {
  const max = scores.reduce((m, s) => (Number.isFinite(s) ? Math.max(m, Math.abs(s)) : m), 0);
  return scores.map((s) => {
    if (!(max > 0) || !Number.isFinite(s) || Math.abs(s) < MIN_TINT_FRACTION * max) {
      return undefined;
    }
    const bucket = Math.min(buckets - 1, Math.max(0, Math.ceil((Math.abs(s) / max) * buckets) - 1));
    return { sign: s > 0 ? 'pos' : 'neg', bucket };
  });
}

/** "+0.42 nats" */
export function formatNats(score: number): string {
  if (!Number.isFinite(score)) {
    return 'n/a';
  }
  const digits = Math.abs(score) >= 10 ? 1 : 2;
  return `${score >= 0 ? '+' : '-'}${Math.abs(score).toFixed(digits)} nats`;
}

/** "LDS 0.61, measured on this completion" / "LDS not measured". */
export function ldsSentence(a: Pick<Attribution, 'lds' | 'ldsSource'>): string {
  if (a.lds === null) {
    return 'LDS not measured';
  }
  const where = a.ldsSource === 'this completion' ? ', measured on this completion' : a.ldsSource === 'benchmark' ? ', measured on the benchmark' : '';
  return `LDS ${a.lds.toFixed(2)}${where}`;
}

/** Why the generation stopped, for the panel. */
export function stopSentence(stop: string): string {
  switch (stop) {
    case 'limit':
      return 'stopped at the token limit (attenScope.completion.maxNewTokens)';
    case 'endOfSequence':
      return 'stopped at the end-of-sequence token';
    case 'dedent':
      return 'stopped where the next line would leave the block';
    case 'blankLines':
      return 'stopped at two blank lines';
    default:
      return `stopped (${stop})`;
  }
}

/** An alternative's text as the panel shows it: spaces as ·, line breaks as ↵, tabs as ⇥, nothing as ∅. */
export function alternativeLabel(text: string): string {
  return text === '' ? '∅' : text.replace(/\r\n|\r|\n/g, '↵').replace(/\t/g, '⇥').replace(/ /g, '·');
}

/** The ghost text is cut here: a long completion is read in the panel. */
const PREVIEW_CHARS = 160;

/** The completion as one line of ghost text: line breaks as ⏎, cut at PREVIEW_CHARS. */
export function previewText(text: string): string {
  const flat = text.replace(/\r\n|\r|\n/g, ' ⏎ ');
  return flat.length > PREVIEW_CHARS ? `${flat.slice(0, PREVIEW_CHARS - 1)}…` : flat;
}
