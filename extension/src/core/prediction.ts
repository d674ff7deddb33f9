/**
 * "Which Code Does This Prediction Need?" without 'vscode': the answer of explainCompletion for
 * the prediction at the cursor (no completionUri) read defensively, the probability of the
 * predicted token, and the Completion panel's data in its prediction mode.
 */
import { formatNats, ldsSentence, readExplainResult } from './completion';
import { attributionView, type CompletionDataMessage } from './completionView';
import type { Position, Prediction, Range } from './protocol';
import type { ExplainCompletionResult } from './protocolViews';
import { isIndex, isRange, tokenLabel } from './ranges';
import { formatProbability } from './surprise';

/** The model's first choice after the token at the position (`prediction` of the answer). */
export interface PredictedToken {
  id: number;
  /** what a reader is shown (whitespace as symbols) */
  label: string;
  /** the token after which the model predicts: the one that ends at (or holds) the position */
  after: { index: number; range: Range; text: string; label: string };
}

export interface PredictionAnswer {
  explain: ExplainCompletionResult;
  prediction: PredictedToken;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readAfter(value: unknown): PredictedToken['after'] | undefined {
  if (!isRecord(value) || !isIndex(value.index) || !isRange(value.range) || typeof value.text !== 'string') {
    return undefined;
  }
  const label = typeof value.label === 'string' && value.label !== '' ? value.label : value.text;
  return { index: value.index, range: value.range, text: value.text, label };
}

/** The answer for a prediction, or a sentence saying what is wrong with it. */
export function readPredictionResult(value: unknown): PredictionAnswer | string {
  const explain = readExplainResult(value);
  if (typeof explain === 'string') {
    return explain;
  }
  const raw = isRecord(value) ? value.prediction : undefined;
  if (!isRecord(raw) || !isIndex(raw.id)) {
    return 'the explanation names no predicted token';
  }
  const after = readAfter(raw.after);
  if (!after) {
    return 'the explanation does not say after which token the model predicts';
  }
  const label = typeof raw.label === 'string' && raw.label !== '' ? raw.label : `#${raw.id}`;
  return { explain, prediction: { id: raw.id, label, after } };
}

/**
 * The probability the model gave the predicted token, from the attention answer's prediction at
 * the same token: the entry with its id, else the first choice when it carries no id and the same
 * text. Undefined when neither says it.
 */
export function predictedProbability(prediction: Prediction | null | undefined, predicted: Pick<PredictedToken, 'id' | 'label'>): number | undefined {
  const top = prediction && Array.isArray(prediction.top) ? prediction.top : [];
  const byId = top.find((t) => t.id === predicted.id);
  const first = top[0];
  const found = byId ?? (first && first.id === undefined && first.text === predicted.label ? first : undefined);
  return found && Number.isFinite(found.probability) && found.probability >= 0 && found.probability <= 1 ? found.probability : undefined;
}

/** Where the attention request asks for the prediction: the start of the token it follows. */
export function predictionQuery(prediction: PredictedToken): Position {
  return prediction.after.range.start;
}

/** What the panel holds in its prediction mode. */
export interface PredictionState {
  title: string;
  answer: PredictionAnswer;
  /** undefined: not known (the attention answer did not say it) */
  probability?: number;
  note?: string;
}

/** The page's data for the prediction: the token, both attributions (the removals' first) and the cost. */
export function predictionView(state: PredictionState): CompletionDataMessage {
  const { explain, prediction } = state.answer;
  const probability = state.probability === undefined ? 'probability not known' : formatProbability(state.probability);
  const after = tokenLabel(prediction.after.label, 30);
  const line = prediction.after.range.end.line + 1;
  const cost = `${explain.cost.ablations} removals, ${explain.cost.forwardTokens.toLocaleString('en-US')} tokens through the model, ${explain.cost.seconds.toFixed(1)} s`;
  const view: CompletionDataMessage = {
    type: 'data',
    title: state.title,
    text: prediction.label,
    caption: `predicts ${tokenLabel(prediction.label, 30)} (${probability}) after ${after} on line ${line}; ${cost}`,
    tokens: [],
    instant: attributionView(explain.instant),
    explain: {
      removals: attributionView(explain.attribution),
      instantLds: `The instant method on the same removals: ${ldsSentence(explain.instant)}.`,
      cost,
    },
    explaining: false,
    prediction: {
      label: prediction.label,
      probability,
      after: `after ${after} (line ${line}); the whole context: ${formatNats(explain.attribution.total)}`,
    },
  };
  if (state.note) {
    view.note = state.note;
  }
  return view;
}
