import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Debouncer, errorCode, errorMessage, isStale, LatestOnly, TimeoutError, withTimeout } from '../../src/core/async';

class FakeSource {
  cancelled = false;
  disposed = false;
  cancel(): void {
    this.cancelled = true;
  }
  dispose(): void {
    this.disposed = true;
  }
}

describe('Debouncer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs only the last callback after the delay', () => {
    const d = new Debouncer(120);
    const calls: number[] = [];
    d.schedule(() => calls.push(1));
    vi.advanceTimersByTime(100);
    d.schedule(() => calls.push(2));
    vi.advanceTimersByTime(100);
    expect(calls).toEqual([]);
    expect(d.pending).toBe(true);
    vi.advanceTimersByTime(20);
    expect(calls).toEqual([2]);
    expect(d.pending).toBe(false);
  });

  it('can be cancelled and disposed', () => {
    const d = new Debouncer(50);
    const fn = vi.fn();
    d.schedule(fn);
    d.cancel();
    d.schedule(fn);
    d.dispose();
    vi.advanceTimersByTime(1000);
    expect(fn).not.toHaveBeenCalled();
  });

  it('treats a negative delay as zero', () => {
    const d = new Debouncer(-5);
    const fn = vi.fn();
    d.schedule(fn);
    vi.advanceTimersByTime(0);
    expect(fn).toHaveBeenCalledOnce();
  });
});

describe('LatestOnly', () => {
  it('cancels the previous request when a new one starts', () => {
    const sources: FakeSource[] = [];
    const latest = new LatestOnly(() => {
      const s = new FakeSource();
      sources.push(s);
      return s;
    });
    const a = latest.next();
    expect(a.isLatest()).toBe(true);
    const b = latest.next();
    expect(sources[0].cancelled).toBe(true);
    expect(a.isLatest()).toBe(false);
    expect(b.isLatest()).toBe(true);
    expect(b.seq).toBeGreaterThan(a.seq);
  });

  it('done releases the source and a stale done does not clear the newer one', () => {
    const latest = new LatestOnly(() => new FakeSource());
    const a = latest.next();
    const b = latest.next();
    a.done();
    expect(a.source.disposed).toBe(true);
    expect(latest.inFlight).toBe(true);
    b.done();
    b.done();
    expect(latest.inFlight).toBe(false);
    expect(b.source.cancelled).toBe(false);
  });

  it('cancel() cancels the in-flight one', () => {
    const latest = new LatestOnly(() => new FakeSource());
    const a = latest.next();
    latest.cancel();
    expect(a.source.cancelled).toBe(true);
    expect(a.isLatest()).toBe(false);
    latest.cancel(); // nothing in flight: no throw
  });

  it('ignores stale answers that arrive out of order', async () => {
    const latest = new LatestOnly(() => new FakeSource());
    const painted: string[] = [];
    const request = async (name: string, ms: number) => {
      const t = latest.next();
      await new Promise((r) => setTimeout(r, ms));
      if (t.isLatest()) {
        painted.push(name);
      }
      t.done();
    };
    await Promise.all([request('slow-old', 30), request('fast-new', 5)]);
    expect(painted).toEqual(['fast-new']);
  });
});

describe('withTimeout', () => {
  it('resolves when the promise is fast', async () => {
    await expect(withTimeout(Promise.resolve(42), 1000)).resolves.toBe(42);
  });

  it('rejects and calls onTimeout when slow', async () => {
    vi.useFakeTimers();
    const onTimeout = vi.fn();
    const p = withTimeout(new Promise(() => undefined), 2000, onTimeout, 'The heatmap request');
    const check = expect(p).rejects.toBeInstanceOf(TimeoutError);
    vi.advanceTimersByTime(2000);
    await check;
    expect(onTimeout).toHaveBeenCalledOnce();
    vi.useRealTimers();
  });

  it('passes errors through and wraps non-errors', async () => {
    await expect(withTimeout(Promise.reject(new Error('boom')), 1000)).rejects.toThrow('boom');
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    await expect(withTimeout(Promise.reject('text'), 1000)).rejects.toThrow('text');
  });

  it('has no limit for 0, negative or non-finite ms', () => {
    const p = Promise.resolve('x');
    expect(withTimeout(p, 0)).toBe(p);
    expect(withTimeout(p, -1)).toBe(p);
    expect(withTimeout(p, Infinity)).toBe(p);
    expect(withTimeout(p, NaN)).toBe(p);
  });

  it('says how long it waited', () => {
    expect(new TimeoutError(15_000, 'The attention request').message).toBe(
      'The attention request took longer than 15 s and was cancelled.',
    );
  });
});

describe('helpers', () => {
  it('isStale compares versions', () => {
    expect(isStale(3, 3)).toBe(false);
    expect(isStale(2, 3)).toBe(true);
    expect(isStale(undefined, 3)).toBe(false);
  });

  it('errorCode reads JSON-RPC codes', () => {
    expect(errorCode({ code: -32801 })).toBe(-32801);
    expect(errorCode({ code: 'x' })).toBeUndefined();
    expect(errorCode(null)).toBeUndefined();
    expect(errorCode('boom')).toBeUndefined();
  });

  it('errorMessage gives one concise line', () => {
    expect(errorMessage(new Error('first\nsecond'))).toBe('first');
    expect(errorMessage({ message: '\n  Run Analyze File first  ' })).toBe('Run Analyze File first');
    expect(errorMessage('x'.repeat(1000))).toHaveLength(300);
    expect(errorMessage(undefined)).toBe('undefined');
  });
});
