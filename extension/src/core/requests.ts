/**
 * The protocol's requests as typed objects, declared once, and the one way they are sent: a
 * time limit per method, the caller's cancellation, and failures told apart by their JSON-RPC
 * code. No 'vscode' import: the language client is only something that sends.
 */
import { CancellationTokenSource, NotificationType, RequestType, ResponseError, type CancellationToken, type Disposable } from 'vscode-jsonrpc';
import { errorCode, TimeoutError, withTimeout } from './async';
import { isPosition } from './ranges';
import {
  ErrorCodes,
  Methods,
  type AltiRolloutParams,
  type AltiRolloutResult,
  type AnalyzeParams,
  type AnalyzeResult,
  type AttentionParams,
  type AttentionResult,
  type FlowParams,
  type FlowResult,
  type HeadsParams,
  type HeadsResult,
  type HeatmapParams,
  type HeatmapResult,
  type HeatmapTileParams,
  type NeuronParams,
  type NeuronResult,
  type RemoveLinesParams,
  type RemoveLinesResult,
  type SurpriseParams,
  type SurpriseResult,
  type StaleData,
  type SymbolsParams,
} from './protocol';

export const Requests = {
  analyze: new RequestType<AnalyzeParams, AnalyzeResult, void>(Methods.analyze),
  attention: new RequestType<AttentionParams, AttentionResult, void>(Methods.attention),
  heatmap: new RequestType<HeatmapParams, HeatmapResult, void>(Methods.heatmap),
  heatmapTile: new RequestType<HeatmapTileParams, HeatmapResult, void>(Methods.heatmapTile),
  heads: new RequestType<HeadsParams, HeadsResult, void>(Methods.heads),
  neuron: new RequestType<NeuronParams, NeuronResult, void>(Methods.neuron),
  surprise: new RequestType<SurpriseParams, SurpriseResult, void>(Methods.surprise),
  flow: new RequestType<FlowParams, FlowResult, void>(Methods.flow),
  altiRollout: new RequestType<AltiRolloutParams, AltiRolloutResult, void>(Methods.altiRollout),
  removeLines: new RequestType<RemoveLinesParams, RemoveLinesResult, void>(Methods.removeLines),
} as const;

export const Notifications = {
  symbols: new NotificationType<SymbolsParams>(Methods.symbols),
} as const;

interface Policy {
  /** undefined: no limit */
  timeoutMs?: number;
  /** how a timeout message names the request */
  what: string;
}

/**
 * Per method. Analyze has no limit: it reports progress and the user can cancel it. The views
 * are waited on by someone looking at the screen. A heatmap overview reads rows up to a budget of
 * a few seconds, except rollout, which passes every row through every layer; a tile is at most
 * 1,024 rows. The information flow runs a forward pass over the window up to its token: seconds
 * on a CPU for a long file.
 */
export const REQUEST_POLICY: Readonly<Record<string, Policy>> = {
  [Methods.analyze]: { what: 'The analysis' },
  [Methods.attention]: { timeoutMs: 15_000, what: 'The attention request' },
  [Methods.heads]: { timeoutMs: 30_000, what: 'The model view request' },
  [Methods.neuron]: { timeoutMs: 15_000, what: 'The neuron view request' },
  [Methods.surprise]: { timeoutMs: 15_000, what: 'The surprise request' },
  [Methods.heatmap]: { timeoutMs: 120_000, what: 'The heatmap request' },
  [Methods.heatmapTile]: { timeoutMs: 60_000, what: 'The heatmap tile request' },
  // Both run the model again over the window up to the token (seconds on a CPU at 4,096 tokens).
  [Methods.flow]: { timeoutMs: 120_000, what: 'The information-flow request' },
  [Methods.altiRollout]: { timeoutMs: 120_000, what: 'The ALTI rollout request' },
  // Runs the model again from the removed lines on; it reports progress and the user can cancel it.
  [Methods.removeLines]: { what: 'The line-removal request' },
};

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
export function sendRequest<P, R>(sender: RequestSender, type: RequestType<P, R, void>, params: P, options: SendOptions = {}): Promise<R> {
  const { token } = options;
  if (token?.isCancellationRequested) {
    return Promise.reject(cancelled());
  }
  const policy = REQUEST_POLICY[type.method] ?? { what: `The ${type.method} request` };
  const source = new CancellationTokenSource();
  let link: Disposable | undefined;
  const answer = new Promise<R>((resolve, reject) => {
    link = token?.onCancellationRequested(() => {
      source.cancel();
      reject(cancelled());
    });
    sender.sendRequest(type, params, source.token).then(resolve, reject);
  });
  return withTimeout(answer, options.timeoutMs ?? policy.timeoutMs ?? Infinity, () => source.cancel(), policy.what).finally(() => {
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
