import { describe, expect, it } from 'vitest';
import { displayLabel, ServerDisplay, type ClientState, type Display } from '../../src/core/serverDisplay';
import type { SetupPhase } from '../../src/core/setup';

const step = (s: string): SetupPhase => ({ kind: 'running', step: s });

describe('ServerDisplay', () => {
  it('follows the client and then the server when no set-up runs', () => {
    const display = new ServerDisplay();
    expect(display.client('starting').state).toBe('starting');
    expect(display.client('running')).toEqual({ state: 'ready', message: '' });
    expect(display.server({ state: 'loadingModel', message: 'Converting', model: 'embedded:gemma3-270m' })).toEqual({
      state: 'loadingModel',
      message: 'Converting',
      model: 'embedded:gemma3-270m',
    });
    // the server's own status is not overwritten by a late "running"
    expect(display.client('running').state).toBe('loadingModel');
    expect(display.client('failed').state).toBe('failed');
  });

  it("never shows 'failed' while a set-up runs, whatever the client reports meanwhile", () => {
    const display = new ServerDisplay();
    display.client('failed'); // the server could not start: that is why the set-up runs
    const seen: Display[] = [display.setup(step('finding a Python to build the environment from'))];
    const events: (ClientState | SetupPhase)[] = [
      step('step 1 of 7: Creating a virtual environment'),
      'stopped',
      step('step 3 of 7: Installing PyTorch 2.13.0'),
      'starting',
      'failed',
      step('step 7 of 7: Checking the installation'),
      'failed',
    ];
    for (const event of events) {
      seen.push(typeof event === 'string' ? display.client(event) : display.setup(event));
    }
    seen.push(display.server({ state: 'error', message: 'a server from another Python failed' }));
    expect(seen.map((d) => d.state)).toEqual(Array<string>(seen.length).fill('settingUp'));
    expect(seen[3].message).toBe('step 3 of 7: Installing PyTorch 2.13.0');
    expect(displayLabel(display.shown.state)).toBe('setting up');
  });

  it("shows 'failed' after a set-up that really failed, with where it stopped", () => {
    const display = new ServerDisplay();
    display.client('running');
    display.setup(step('step 2 of 7: Checking that PyTorch\'s CPU index answers'));
    expect(display.setup({ kind: 'ended', outcome: 'failed', message: "set-up failed at step 2 of 7" })).toEqual({
      state: 'failed',
      message: 'set-up failed at step 2 of 7',
    });
  });

  it('says the server starts after a set-up that succeeded, and then follows the client again', () => {
    const display = new ServerDisplay();
    display.client('failed');
    display.setup(step('step 1 of 7: Creating a virtual environment'));
    expect(display.setup({ kind: 'ended', outcome: 'succeeded', message: 'set up in 144 s; starting the server' }).state).toBe('starting');
    expect(display.client('running').state).toBe('ready');
  });

  it('is not failed after a cancelled set-up: stopped where no server ran, else what the server said', () => {
    const down = new ServerDisplay();
    down.client('failed');
    down.setup(step('step 3 of 7: Installing PyTorch'));
    const cancelled = down.setup({ kind: 'ended', outcome: 'cancelled', message: 'set-up was cancelled at step 3 of 7' });
    expect(cancelled).toEqual({ state: 'stopped', message: 'set-up was cancelled at step 3 of 7' });

    const up = new ServerDisplay();
    up.client('running');
    up.server({ state: 'ready', message: 'Ready', model: 'embedded:smollm2-135m' });
    up.setup(step('step 1 of 7: Creating a virtual environment'));
    expect(up.setup({ kind: 'ended', outcome: 'cancelled', message: 'cancelled' })).toEqual({
      state: 'ready',
      message: 'Ready',
      model: 'embedded:smollm2-135m',
    });
  });

  it('labels every state in words', () => {
    expect(displayLabel('settingUp')).toBe('setting up');
    expect(displayLabel('loadingModel')).toBe('loading model');
    expect(displayLabel('failed')).toBe('failed');
  });
});
