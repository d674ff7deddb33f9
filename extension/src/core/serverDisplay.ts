/**
 * What the status bar says about the server, without 'vscode': the language client's state, the
 * server's own status and a running Set Up, combined. While Set Up runs the bar says so, whatever
 * the client reports meanwhile (a server that could not start before the set-up is why it runs);
 * "failed" comes back only from a real failure.
 */
import { stateLabel } from './format';
import type { ServerState, StatusParams } from './protocol';
import type { SetupPhase } from './setup';

/** The language client's own states (client.ts). */
export type ClientState = 'stopped' | 'starting' | 'running' | 'failed';

export type DisplayState = ServerState | 'starting' | 'stopped' | 'failed' | 'settingUp';

export interface Display {
  state: DisplayState;
  message: string;
  /** the model the server named; undefined keeps the one shown */
  model?: string;
}

/** The words for a state: "loading model", "setting up". */
export function displayLabel(state: DisplayState): string {
  return state === 'settingUp' ? 'setting up' : stateLabel(state);
}

export class ServerDisplay {
  /** what the client and the server say, shown whenever no set-up runs */
  private base: Display = { state: 'stopped', message: '' };
  /** the step of the set-up that runs; undefined while none does */
  private setupStep: string | undefined;

  /** What the status bar shows now. */
  get shown(): Display {
    return this.setupStep !== undefined ? { state: 'settingUp', message: this.setupStep } : this.base;
  }

  /** The language client changed state; returns what to show. */
  client(state: ClientState): Display {
    switch (state) {
      case 'starting':
        this.base = { state: 'starting', message: 'starting the server' };
        break;
      case 'failed':
        this.base = { state: 'failed', message: 'the server is not running' };
        break;
      case 'stopped':
        this.base = { state: 'stopped', message: '' };
        break;
      case 'running':
        // the server's own status, when it sent one since the start, says more than "ready"
        if (this.base.state === 'starting' || this.base.state === 'stopped' || this.base.state === 'failed') {
          this.base = { state: 'ready', message: '' };
        }
        break;
    }
    return this.shown;
  }

  /** The server sent a status notification; returns what to show. */
  server(status: StatusParams): Display {
    this.base = { state: status.state, message: status.message ?? '', model: status.model };
    return this.shown;
  }

  /** Set Up reached a step or ended; returns what to show. */
  setup(phase: SetupPhase): Display {
    if (phase.kind === 'running') {
      this.setupStep = phase.step;
      return this.shown;
    }
    this.setupStep = undefined;
    const serverDown = this.base.state === 'failed' || this.base.state === 'stopped' || this.base.state === 'starting';
    if (phase.outcome === 'failed') {
      this.base = { state: 'failed', message: phase.message };
    } else if (phase.outcome === 'succeeded') {
      // the server restarts from the new environment next
      this.base = { state: 'starting', message: phase.message };
    } else if (serverDown) {
      // cancelled: the server that could not start before is still missing, but nothing failed
      this.base = { state: 'stopped', message: phase.message };
    }
    return this.shown;
  }
}
