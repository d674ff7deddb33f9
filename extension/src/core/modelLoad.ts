/**
 * When a model load deserves a notification, and what it says, without 'vscode'. The server
 * reports each step of a load as a `loadingModel` status naming the model; a first-use conversion
 * of an embedded model (its message begins with "Converting", docs/PROTOCOL.md) takes a minute or
 * more and is shown at once, any other load once it has taken LONG_LOAD_MS. A load from the
 * converted copy takes a few seconds and shows nothing beyond the status bar.
 */
import type { StatusParams } from './protocol';

/** A load that is not a conversion gets a notification once it has taken this long. */
export const LONG_LOAD_MS = 8000;

/** Whether a `loadingModel` message is the first-use conversion of an embedded model. */
export function isConversion(message: string): boolean {
  return /^Converting\b/.test(message.trim());
}

/** "42 s", "2 min 27 s". */
export function elapsedText(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/** The notification's text: the server's step as it said it, and how long the load has taken. */
export function loadMessage(step: string, elapsedMs: number): string {
  return `${step.trim().replace(/[.\s]+$/, '')} (${elapsedText(elapsedMs)} so far)`;
}

export const LOAD_TITLE = 'Atten-Scope';

/** What the notification must do after an event. */
export type LoadAction =
  | { kind: 'open'; title: string; message: string }
  | { kind: 'update'; message: string }
  | { kind: 'close' }
  /** nothing yet: ask again (`tick`) after `ms` */
  | { kind: 'wait'; ms: number };

interface Load {
  model: string;
  began: number;
  step: string;
  shown: boolean;
  /** the user cancelled its notification: it stays closed for the rest of this load */
  dismissed: boolean;
}

/** Follows the server's status notifications and decides when the load notification opens, changes and closes. */
export class LoadWatch {
  private load: Load | undefined;
  private readyModel: string | undefined;

  /** The model the server last reported ready: the one to go back to after a cancelled load. */
  get previous(): string | undefined {
    return this.readyModel;
  }

  /** The load in progress: its model and whether it converts; undefined while none runs. */
  get loading(): { model: string; conversion: boolean } | undefined {
    return this.load && { model: this.load.model, conversion: isConversion(this.load.step) };
  }

  /** The server sent a status notification at `now` (ms). */
  status(status: StatusParams, now: number): LoadAction[] {
    if (status.state !== 'loadingModel') {
      const actions = this.end();
      if (status.state === 'ready' && status.model) {
        this.readyModel = status.model;
      }
      return actions;
    }
    const model = status.model ?? this.load?.model ?? '';
    // another model's load supersedes this one: its notification goes, the new one starts afresh
    const actions = this.load && this.load.model !== model ? this.end() : [];
    this.load ??= { model, began: now, step: '', shown: false, dismissed: false };
    this.load.step = status.message ?? this.load.step;
    return [...actions, ...this.tick(now)];
  }

  /** Time passed: the elapsed time to show, or the notification to open now. */
  tick(now: number): LoadAction[] {
    const load = this.load;
    if (!load || load.dismissed) {
      return [];
    }
    const elapsed = now - load.began;
    const message = loadMessage(load.step, elapsed);
    if (load.shown) {
      return [{ kind: 'update', message }];
    }
    if (isConversion(load.step) || elapsed >= LONG_LOAD_MS) {
      load.shown = true;
      return [{ kind: 'open', title: LOAD_TITLE, message }];
    }
    return [{ kind: 'wait', ms: LONG_LOAD_MS - elapsed }];
  }

  /** The user pressed Cancel: the notification is gone and does not come back for this load. */
  dismiss(): void {
    if (this.load) {
      this.load.dismissed = true;
      this.load.shown = false;
    }
  }

  /** The server stopped or failed to start: no load runs any more. */
  stopped(): LoadAction[] {
    return this.end();
  }

  private end(): LoadAction[] {
    const shown = this.load?.shown === true;
    this.load = undefined;
    return shown ? [{ kind: 'close' }] : [];
  }
}

/**
 * What the user reads after Cancel: what stopped (`stopped`, the server's answer: null when the
 * load had ended first), what happens next, and the model to go back to where there is one.
 */
export function cancelledNotice(
  load: { model: string; conversion: boolean },
  stopped: string | null,
  previous: string | undefined,
): { message: string; useModel?: string } {
  if (stopped === null) {
    return { message: `Atten-Scope: the load of ${load.model} had already ended when Cancel reached the server.` };
  }
  const message = load.conversion
    ? `Atten-Scope stopped converting ${stopped}; the partial conversion was discarded. It starts over the next time this model is needed.`
    : `Atten-Scope stopped loading ${stopped}. It loads again the next time this model is needed.`;
  return previous && previous !== stopped ? { message, useModel: previous } : { message };
}
