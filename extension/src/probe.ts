/**
 * Whether a URL answers, within a time limit: Set Up asks PyTorch's CPU index before pip does.
 * No 'vscode' import; in the extension host, VS Code's proxy settings apply to these requests.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { ProbeResult } from './core/setup';

/** What stops a probe early; a VS Code or JSON-RPC cancellation token fits. */
export interface ProbeCancellation {
  onCancellationRequested(listener: () => void): { dispose(): void };
}

/**
 * A HEAD request for `url`: its HTTP status, or why none came within `timeoutMs` (the DNS lookup
 * and the connection included), or that `cancel` stopped it.
 */
export function probeUrl(url: string, timeoutMs: number, cancel?: ProbeCancellation): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    // every event below comes asynchronously: `finish` never runs before the constants exist
    const finish = (result: ProbeResult) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        sub?.dispose();
        request.destroy();
        resolve(result);
      }
    };
    const send = url.startsWith('http:') ? http.request : https.request;
    const request = send(url, { method: 'HEAD', timeout: timeoutMs }, (response) => {
      response.resume();
      finish({ status: response.statusCode ?? 0 });
    });
    request.on('timeout', () => finish({ error: 'timed out', timedOut: true }));
    request.on('error', (error: NodeJS.ErrnoException) => finish({ error: error.code ?? error.message, timedOut: false }));
    // the socket's timeout counts idle time only: a slow DNS lookup needs a clock of its own
    const timer = setTimeout(() => finish({ error: 'timed out', timedOut: true }), timeoutMs);
    const sub = cancel?.onCancellationRequested(() => finish({ error: 'cancelled', timedOut: false }));
    request.end();
  });
}
