/**
 * The logit lens (Requests.logitLens) without 'vscode': the sentence on where the prediction
 * settles, and one quick-pick row per layer with what that layer would predict.
 *
 * Layer l (0-based in the protocol) reads the residual stream after it through the final norm and
 * the LM head, p = softmax(W_U N(x)); the last layer's is the model's prediction. People read
 * layers counted from 1, "layer 14 of 30", as the server's sentences do.
 */
import type { LogitLensResult, PredictedToken } from './protocolViews';
import { tokenLabel } from './ranges';
import { formatProbability } from './surprise';

/** What a lens sentence and rows read of an answer. */
export type LensAnswer = Pick<LogitLensResult, 'logitLens' | 'settledAt'>;

/** A token as the lens shows it: `)` */
function quoted(token: PredictedToken): string {
  return `\`${tokenLabel(token.text, 30)}\``;
}

/** Whether the answer holds a first choice in every layer and a settling layer among them. */
function readable(result: LensAnswer): boolean {
  const layers = Array.isArray(result.logitLens) ? result.logitLens : [];
  return (
    layers.length > 0 &&
    layers.every((entry) => Array.isArray(entry.top) && entry.top.length > 0) &&
    Number.isSafeInteger(result.settledAt) &&
    result.settledAt >= 0 &&
    result.settledAt < layers.length
  );
}

/**
 * "settles on `)` at layer 14 of 30": the last layer's first choice and the first layer (counted
 * from 1) from which every layer's first choice is it; undefined for an answer without layers.
 */
export function settlesSentence(result: LensAnswer): string | undefined {
  if (!readable(result)) {
    return undefined;
  }
  const layers = result.logitLens;
  const final = layers[layers.length - 1].top[0];
  return `settles on ${quoted(final)} at layer ${result.settledAt + 1} of ${layers.length}`;
}

/** One row of the lens's quick pick. */
export interface LensItem {
  /** 0-based, as the protocol counts */
  layer: number;
  /** "layer 14: `)` 62%" */
  label: string;
  /** "then `,` 10%, `]` 5%" */
  description: string;
  /** on the settling layer only */
  detail?: string;
}

/** The rows of the lens, first layer first; the settling layer says so, and so does every later one by its mark. */
export function lensItems(result: LensAnswer): LensItem[] {
  if (!readable(result)) {
    return [];
  }
  const count = result.logitLens.length;
  const final = result.logitLens[count - 1].top[0];
  return result.logitLens.map((entry, index) => {
    const [first, ...rest] = entry.top;
    const mark = index >= result.settledAt ? '$(check) ' : '';
    const item: LensItem = {
      layer: index,
      label: `${mark}layer ${index + 1}: ${quoted(first)} ${formatProbability(first.probability)}`,
      description: rest.length ? `then ${rest.map((t) => `${quoted(t)} ${formatProbability(t.probability)}`).join(', ')}` : '',
    };
    if (index === result.settledAt) {
      item.detail =
        index === count - 1
          ? `The model's own prediction: the last layer is the first to choose ${quoted(final)}.`
          : `From here on every layer's first choice is ${quoted(final)}, the model's prediction.`;
    }
    return item;
  });
}
