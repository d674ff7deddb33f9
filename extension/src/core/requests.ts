/**
 * The protocol's requests, each in one entry that holds its method and types, its time limit and
 * how messages name it; and the one way they are sent: that limit, the caller's cancellation, and
 * failures told apart by their JSON-RPC code. No 'vscode' import: the language client is only
 * something that sends.
 */
import { CancellationTokenSource, NotificationType, RequestType, ResponseError, type CancellationToken, type Disposable } from 'vscode-jsonrpc';
import { errorCode, TimeoutError, withTimeout } from './async';
import { isPosition } from './ranges';
import {
  ErrorCodes,
  type AnalyzeParams,
  type AnalyzeResult,
  type AttentionParams,
  type AttentionResult,
  type StaleData,
  type StatusParams,
  type SurpriseParams,
  type SurpriseResult,
  type SymbolsParams,
} from './protocol';
import type {
  AltiRolloutParams,
  AltiRolloutResult,
  CompleteParams,
  CompleteResult,
  ContrastParams,
  ContrastResult,
  ExplainCompletionParams,
  ExplainCompletionResult,
  FlowParams,
  FlowResult,
  HeadsParams,
  HeadsResult,
  HeatmapParams,
  HeatmapResult,
  HeatmapTileParams,
  LogitLensParams,
  LogitLensResult,
  NeuronParams,
  NeuronResult,
  RemoveLinesParams,
  RemoveLinesResult,
} from './protocolViews';

/** One request of the protocol: what it sends and gets back, how long it may take, how messages name it. */
export interface ServerRequest<P, R> {
  readonly type: RequestType<P, R, void>;
  /** undefined: no limit */
  readonly timeoutMs?: number;
  /** what it does for the user, as a timeout message names it */
  readonly what: string;
}

function serverRequest<P, R>(method: string, what: string, timeoutMs?: number): ServerRequest<P, R> {
  return { type: new RequestType<P, R, void>(method), what, ...(timeoutMs === undefined ? {} : { timeoutMs }) };
}

/**
 * Every request the extension sends; its method is named here and nowhere else. Analyze has no
 * limit: it reports progress and the user can cancel it. The views are waited on by someone
 * looking at the screen. A heatmap overview reads rows up to a budget of a few seconds, except
 * rollout, which passes every row through every layer; a tile is at most 1,024 rows. The
 * information flow runs a forward pass over the window up to its token: seconds on a CPU for a
 * long file.
 */
export const Requests = {
  /** runs the model over a document once, for every view after it */
  analyze: serverRequest<AnalyzeParams, AnalyzeResult>('attenScope/analyze', 'The analysis'),
  /** the tints and gutter for the token at the cursor */
  attention: serverRequest<AttentionParams, AttentionResult>('attenScope/attention', 'The attention request', 15_000),
  /** the heatmap view's token-by-token matrix, max-pooled */
  heatmap: serverRequest<HeatmapParams, HeatmapResult>('attenScope/heatmap', 'The heatmap request', 120_000),
  /** the exact weights of a zoomed-in part of the heatmap */
  heatmapTile: serverRequest<HeatmapTileParams, HeatmapResult>('attenScope/heatmapTile', 'The heatmap tile request', 60_000),
  /** the model view: per layer and head, for the token at the cursor */
  heads: serverRequest<HeadsParams, HeadsResult>('attenScope/heads', 'The model view request', 30_000),
  /** the neuron view: one head's query and key, for one pair of tokens */
  neuron: serverRequest<NeuronParams, NeuronResult>('attenScope/neuron', 'The neuron view request', 15_000),
  /** how surprised the model was by each token (the surprise heat) */
  surprise: serverRequest<SurpriseParams, SurpriseResult>('attenScope/surprise', 'The surprise request', 15_000),
  /** the information-flow routes to one token's prediction; runs the model again up to the token (seconds on a CPU at 4,096 tokens) */
  flow: serverRequest<FlowParams, FlowResult>('attenScope/flow', 'The information-flow request', 120_000),
  /** accumulative attention (ALTI rollout) for the token at the cursor: a pass, then every row in every layer (minutes at 4,096 tokens on a CPU); it reports progress and the user can cancel it */
  altiRollout: serverRequest<AltiRolloutParams, AltiRolloutResult>('attenScope/altiRollout', 'The ALTI rollout request'),
  /** what each layer would predict after the token at the cursor: one token's pass over the window's cache */
  logitLens: serverRequest<LogitLensParams, LogitLensResult>('attenScope/logitLens', 'The logit lens request', 30_000),
  /** why the model's first choice and not another token; runs the model again up to the token, as flow does */
  contrast: serverRequest<ContrastParams, ContrastResult>('attenScope/contrast', 'The contrast request', 120_000),
  /** the prediction at a token with some lines removed; it reports progress and the user can cancel it */
  removeLines: serverRequest<RemoveLinesParams, RemoveLinesResult>('attenScope/removeLines', 'The line-removal request'),
  /** the model completes the code at the cursor, with the context that drove it; it reports progress and the user can cancel it */
  complete: serverRequest<CompleteParams, CompleteResult>('attenScope/complete', 'The completion request'),
  /** a completion's attribution measured by removing lines (many forward passes); progress and Cancel, as the line removal */
  explainCompletion: serverRequest<ExplainCompletionParams, ExplainCompletionResult>('attenScope/explainCompletion', 'The explanation with removals'),
  /** stops the model load in progress (a first-use conversion included); answers at once */
  cancelLoad: serverRequest<CancelLoadParams, CancelLoadResult>('attenScope/cancelLoad', 'The request to stop loading the model', 10_000),
} as const;

export type CancelLoadParams = Record<string, never>;
/** the model whose load stopped; null when none was loading */
export interface CancelLoadResult {
  stopped: string | null;
}

/** The protocol's notifications, each method named here and nowhere else. */
export const Notifications = {
  /** to the server: the editor's definitions in one version of a document, for the code-unit sums */
  symbols: new NotificationType<SymbolsParams>('attenScope/symbols'),
  /** from the server: its state (loading a model, analysing, ready, failed) */
  status: new NotificationType<StatusParams>('attenScope/status'),
} as const;

/** What the language client offers; LanguageClient fits it. */
export interface RequestSender {
  sendRequest<P, R, E>(type: RequestType<P, R, E>, params: P, token?: CancellationToken): Promise<R>;
}

export interface SendOptions {
  token?: CancellationToken;
  /** replaces the method's limit (a comparison asks for two answers of many targets at once) */
  timeoutMs?: number;
}

function cancelled(): ResponseError<void> {
  return new ResponseError(ErrorCodes.RequestCancelled, 'The request was cancelled.');
}

/**
 * Sends a request. The answer is dropped and the server told to stop ($/cancelRequest) when the
 * caller cancels (rejects with a RequestCancelled error at once) or the time limit passes
 * (rejects with TimeoutError).
 */
export function sendRequest<P, R>(sender: RequestSender, request: ServerRequest<P, R>, params: P, options: SendOptions = {}): Promise<R> {
  const { token } = options;
  if (token?.isCancellationRequested) {
    return Promise.reject(cancelled());
  }
  const source = new CancellationTokenSource();
  let link: Disposable | undefined;
  const answer = new Promise<R>((resolve, reject) => {
    link = token?.onCancellationRequested(() => {
      source.cancel();
      reject(cancelled());
    });
    sender.sendRequest(request.type, params, source.token).then(resolve, reject);
  });
  return withTimeout(answer, options.timeoutMs ?? request.timeoutMs ?? Infinity, () => source.cancel(), request.what).finally(() => {
    link?.dispose();
    source.dispose();
  });
}

/** What a failed request means to the caller. */
export type Failure = 'cancelled' | 'contentModified' | 'notAnalysed' | 'timedOut' | 'failed';

/** Where the edited part begins, from a ContentModified answer for a token edited after the analysis. */
export function staleDataOf(error: unknown): StaleData | undefined {
  if (errorCode(error) !== ErrorCodes.ContentModified || typeof error !== 'object' || error === null || !('data' in error)) {
    return undefined;
  }
  const data = error.data;
  if (typeof data !== 'object' || data === null) {
    return undefined;
  }
  const { freshTokens, staleFrom } = data as Record<string, unknown>;
  if (!Number.isSafeInteger(freshTokens) || !isPosition(staleFrom)) {
    return undefined;
  }
  return { freshTokens: freshTokens as number, staleFrom };
}

/** Told apart by code (and TimeoutError, which this side raises), never by the message text. */
export function failureOf(error: unknown): Failure {
  if (error instanceof TimeoutError) {
    return 'timedOut';
  }
  switch (errorCode(error)) {
    case ErrorCodes.RequestCancelled:
      return 'cancelled';
    case ErrorCodes.ContentModified:
      return 'contentModified';
    case ErrorCodes.NotAnalysed:
      return 'notAnalysed';
    default:
      return 'failed';
  }
}
