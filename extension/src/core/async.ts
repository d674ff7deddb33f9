/** Debouncing, latest-request-wins cancellation and timeouts, with no 'vscode' import. */

export interface Cancellable {
  cancel(): void;
  dispose?(): void;
}

/** Runs the last scheduled callback once `delayMs` passed without another schedule. */
export class Debouncer {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly delayMs: number) {}

  schedule(callback: () => void): void {
    this.cancel();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      callback();
    }, Math.max(0, this.delayMs));
  }

  get pending(): boolean {
    return this.timer !== undefined;
  }

  cancel(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  dispose(): void {
    this.cancel();
  }
}

export interface Ticket<S extends Cancellable> {
  readonly seq: number;
  readonly source: S;
  /** true while no newer request started and this one was not cancelled */
  isLatest(): boolean;
  /** releases the source; safe to call twice */
  done(): void;
}

/**
 * Hands out one cancellation source per request and cancels the previous one, so only the
 * newest request's answer is used.
 */
export class LatestOnly<S extends Cancellable> {
  private seq = 0;
  private current: { seq: number; source: S } | undefined;

  constructor(private readonly createSource: () => S) {}

  next(): Ticket<S> {
    this.cancel();
    const seq = ++this.seq;
    const source = this.createSource();
    this.current = { seq, source };
    let released = false;
    return {
      seq,
      source,
      isLatest: () => this.current?.seq === seq,
      done: () => {
        if (released) {
          return;
        }
        released = true;
        if (this.current?.seq === seq) {
          this.current = undefined;
        }
        source.dispose?.();
      },
    };
  }

  /** Cancels the in-flight request, if any. */
  cancel(): void {
    const current = this.current;
    this.current = undefined;
    if (current) {
      current.source.cancel();
    }
  }

  get inFlight(): boolean {
    return this.current !== undefined;
  }
}

export class TimeoutError extends Error {
  constructor(readonly ms: number, what = 'The request') {
    super(`${what} took longer than ${Math.round(ms / 1000)} s and was cancelled.`);
    this.name = 'TimeoutError';
  }
}

/**
 * Rejects with TimeoutError when `promise` has not settled after `ms`, calling `onTimeout`
 * first (to cancel the underlying work). A non-finite or non-positive `ms` means no limit.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout?: () => void, what?: string): Promise<T> {
  if (!Number.isFinite(ms) || ms <= 0) {
    return promise;
  }
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        onTimeout?.();
      } finally {
        reject(new TimeoutError(ms, what));
      }
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** True when an answer computed for `answered` no longer matches the document at `current`. */
export function isStale(answered: number | undefined, current: number): boolean {
  return typeof answered === 'number' && answered !== current;
}

/** Error code of a JSON-RPC error-like value, if any. */
export function errorCode(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error).code;
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}

/** One concise sentence for a user, from any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return firstLine(error.message) || error.name;
  }
  if (typeof error === 'object' && error !== null && 'message' in error) {
    return firstLine(String((error).message));
  }
  return firstLine(String(error));
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  return line.length > 300 ? line.slice(0, 299) + '…' : line.trim();
}
