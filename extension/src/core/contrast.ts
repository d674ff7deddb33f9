/**
 * "Why This and Not That?" (Requests.contrast) without 'vscode': the alternatives offered, the
 * tokens tinted and the sentence that says where the logit difference comes from.
 *
 * The server splits d = z[predicted] - z[alternative] (logits) into each source token's direct part
 * through the attention heads, the MLPs, the token's own embedding and a remainder, which add up
 * to d exactly (docs/PROTOCOL.md). A source above 0 pushed the model toward its own choice, one
 * below 0 toward the alternative.
 */
import { signed } from './format';
import type { Prediction } from './protocol';
import type { ContrastResult } from './protocolViews';
import { tokenLabel, toPlainRange, type PlainRange } from './ranges';
import { formatProbability } from './surprise';

/** One alternative in the quick pick: a choice of the hover's prediction list after the first. */
export interface AlternativeItem {
  /** "`5`" */
  label: string;
  /** "21%, second choice" */
  description: string;
  /** what the request names: the id when the server sent it, else the text it shows */
  alternative: number | string;
}

const ORDINALS = ['first', 'second', 'third', 'fourth', 'fifth'];

function ordinal(rank: number): string {
  return ORDINALS[rank - 1] ?? `choice ${rank}`;
}

/** The alternatives to the model's first choice, in its order; none without a prediction. */
export function alternativeItems(prediction: Prediction | null | undefined): AlternativeItem[] {
  const top = prediction && Array.isArray(prediction.top) ? prediction.top : [];
  return top.slice(1).flatMap((choice, index) => {
    const alternative = typeof choice.id === 'number' && Number.isSafeInteger(choice.id) ? choice.id : choice.text;
    if (typeof alternative === 'string' && alternative === '') {
      return [];
    }
    const rank = index + 2;
    return [{ label: `\`${tokenLabel(choice.text, 40)}\``, description: `${formatProbability(choice.probability)}, ${ordinal(rank)} choice`, alternative }];
  });
}

/** A tinted source token. */
export interface ContrastToken extends PlainRange {
  index: number;
  /** what a reader is shown */
  label: string;
  /** its part of the logit difference */
  contribution: number;
}

/** The answer's sources with a range and a finite contribution; malformed entries are skipped. */
export function contrastTokens(result: Pick<ContrastResult, 'sources'>): ContrastToken[] {
  const sources = Array.isArray(result.sources) ? result.sources : [];
  return sources.flatMap((source) => {
    const range = toPlainRange(source?.token?.range);
    const { contribution } = source ?? {};
    if (!range || typeof contribution !== 'number' || !Number.isFinite(contribution) || !Number.isSafeInteger(source.token.index)) {
      return [];
    }
    const label = typeof source.token.label === 'string' && source.token.label !== '' ? source.token.label : String(source.token.text ?? '');
    return [{ ...range, index: source.token.index, label, contribution }];
  });
}

/**
 * The tokens by sign, strongest first, at most `cap` a side: `toward` pushed the model toward its
 * own choice, `against` toward the alternative; a part of 0 is not tinted.
 */
export function contrastGroups(tokens: readonly ContrastToken[], cap = Infinity): { toward: ContrastToken[]; against: ContrastToken[] } {
  const strongest = (a: ContrastToken, b: ContrastToken): number => Math.abs(b.contribution) - Math.abs(a.contribution) || a.index - b.index;
  return {
    toward: tokens.filter((t) => t.contribution > 0).sort(strongest).slice(0, cap),
    against: tokens.filter((t) => t.contribution < 0).sort(strongest).slice(0, cap),
  };
}

function named(token: { text: string }): string {
  return `\`${tokenLabel(token.text, 30)}\``;
}

/** "`add` (line 4) +0.85" for the strongest sources on one side. */
function strongestSources(tokens: ContrastToken[], count: number): string {
  return tokens
    .slice(0, count)
    .map((t) => `${named({ text: t.label })} (line ${t.startLine + 1}) ${signed(t.contribution)}`)
    .join(', ');
}

/**
 * Where the difference comes from, for the message after a contrast: "Why `1` and not `5` after
 * `add` (line 4): 0.62 logits apart (39% against 21%). Attention +1.44 (toward `1`: ...; toward
 * `5`: ...), the MLPs -0.85, the token's own embedding +0.03, the rest +0.00. ..."
 */
export function contrastSummary(result: ContrastResult): string {
  const predicted = named(result.predicted);
  const alternative = named(result.alternative);
  const after = result.token ? ` after ${named({ text: result.token.label ?? result.token.text })} (line ${result.token.range.start.line + 1})` : '';
  const odds = `${formatProbability(result.predicted.probability)} against ${formatProbability(result.alternative.probability)}`;
  const { toward, against } = contrastGroups(contrastTokens(result));
  const sides = [
    toward.length ? `toward ${predicted}: ${strongestSources(toward, 3)}` : '',
    against.length ? `toward ${alternative}: ${strongestSources(against, 3)}` : '',
  ].filter(Boolean);
  const attention = `attention ${signed(result.attention)}${sides.length ? ` (${sides.join('; ')})` : ''}`;
  return (
    `Why ${predicted} and not ${alternative}${after}: ${result.difference.toFixed(2)} logits apart (${odds}). ` +
    `From ${attention}, the MLPs ${signed(result.mlp)}, the token's own embedding ${signed(result.residual)}, the rest ${signed(result.remainder)}. ` +
    `Green tokens pushed toward ${predicted}, red ones toward ${alternative}, until the cursor moves.`
  );
}

/** The share of the difference the attention, the MLPs and the token's own stream bring, for the status bar: "attention 232% · MLPs -137% · own 5%". */
export function contrastShares(result: Pick<ContrastResult, 'difference' | 'attention' | 'mlp' | 'residual'>): string | undefined {
  if (!Number.isFinite(result.difference) || Math.abs(result.difference) < 1e-9) {
    return undefined;
  }
  const share = (part: number): string => `${Math.round((100 * part) / result.difference)}%`;
  return `attention ${share(result.attention)} · MLPs ${share(result.mlp)} · own embedding ${share(result.residual)}`;
}
