import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CancellationTokenSource, ResponseError, type CancellationToken, type RequestType } from 'vscode-jsonrpc';
import { TimeoutError } from '../../src/core/async';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, type AttentionParams } from '../../src/core/protocol';
import { isPosition } from '../../src/core/ranges';
import { failureOf, Notifications, Requests, sendRequest, staleDataOf, type RequestSender } from '../../src/core/requests';

/** A sender whose answers the test settles by hand; it records what was sent. */
class FakeSender implements RequestSender {
  readonly sent: { method: string; params: unknown; token?: CancellationToken }[] = [];
  private settle: { resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];

  sendRequest<P, R, E>(type: RequestType<P, R, E>, params: P, token?: CancellationToken): Promise<R> {
    this.sent.push({ method: type.method, params, token });
    return new Promise<R>((resolve, reject) => {
      this.settle.push({ resolve: (v) => resolve(v as R), reject });
    });
  }

  answer(value: unknown, i = 0): void {
    this.settle[i].resolve(value);
  }

  fail(error: unknown, i = 0): void {
    this.settle[i].reject(error);
  }
}

const attentionParams: AttentionParams = { textDocument: { uri: 'file:///a.py' }, position: { line: 0, character: 0 } };

/** Every .ts file under a folder, as its text. */
function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => readFileSync(join(dir, name), 'utf8'));
}

describe('the request table', () => {
  const methods = [...Object.values(Requests).map((r) => r.type.method), ...Object.values(Notifications).map((n) => n.method)];

  it('names each protocol method once, in the attenScope namespace', () => {
    expect(new Set(methods).size).toBe(methods.length);
    for (const method of methods) {
      expect(method).toMatch(/^attenScope\/[a-zA-Z]+$/);
    }
    expect(Requests.removeLines.type.method).toBe('attenScope/removeLines');
    expect(Notifications.status.method).toBe('attenScope/status');
  });

  it('is the only place in the extension that spells a method', () => {
    const texts = sources(join(__dirname, '..', '..', 'src'));
    for (const method of methods) {
      const spelled = new RegExp(`${method}(?![A-Za-z])`, 'g');
      const count = texts.reduce((n, text) => n + (text.match(spelled)?.length ?? 0), 0);
      expect(count, method).toBe(1);
    }
  });

  it('names each request in its messages', () => {
    for (const [name, request] of Object.entries(Requests)) {
      expect(request.what, name).toMatch(/^The [a-zA-Z -]+$/);
    }
  });
});

describe('sendRequest', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gives each view request its own time limit and the analysis none', () => {
    expect(Requests.attention.timeoutMs).toBe(15_000);
    expect(Requests.heads.timeoutMs).toBe(30_000);
    expect(Requests.heatmap.timeoutMs).toBe(120_000);
    expect(Requests.heatmapTile.timeoutMs).toBe(60_000);
    // a forward pass over the window up to the token
    expect(Requests.flow.timeoutMs).toBe(120_000);
    expect(Requests.analyze.timeoutMs).toBeUndefined();
    // a line removal runs the model like an analysis: progress and Cancel, no limit
    expect(Requests.removeLines.timeoutMs).toBeUndefined();
  });

  it('times out an attention request after 15 s and cancels it on the server', async () => {
    const sender = new FakeSender();
    const answer = sendRequest(sender, Requests.attention, attentionParams);
    const outcome = expect(answer).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(14_999);
    expect(sender.sent[0].token?.isCancellationRequested).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await outcome;
    expect(sender.sent[0].token?.isCancellationRequested).toBe(true);
    await expect(answer).rejects.toThrow('The attention request took longer than 15 s');
    expect(failureOf(await answer.catch((e: unknown) => e))).toBe('timedOut');
  });

  it('waits 120 s for a heatmap where an attention request would have timed out', async () => {
    const sender = new FakeSender();
    const answer = sendRequest(sender, Requests.heatmap, { textDocument: { uri: 'file:///a.py' }, layer: 'all', head: 'all' });
    await vi.advanceTimersByTimeAsync(60_000);
    sender.answer({ version: 1, tokens: 0, data: '' });
    await expect(answer).resolves.toMatchObject({ version: 1 });
  });

  it('never times out an analysis', async () => {
    const sender = new FakeSender();
    const answer = sendRequest(sender, Requests.analyze, { textDocument: { uri: 'file:///a.py' } });
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    sender.answer({ uri: 'file:///a.py', version: 1 });
    await expect(answer).resolves.toMatchObject({ version: 1 });
  });

  it('lets a caller set another limit', async () => {
    const sender = new FakeSender();
    const answer = sendRequest(sender, Requests.attention, attentionParams, { timeoutMs: 30_000 });
    const outcome = expect(answer).rejects.toThrow('took longer than 30 s');
    await vi.advanceTimersByTimeAsync(20_000);
    expect(sender.sent[0].token?.isCancellationRequested).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000);
    await outcome;
  });

  it('passes the caller\'s cancellation to the server and rejects at once with RequestCancelled', async () => {
    const sender = new FakeSender();
    const caller = new CancellationTokenSource();
    const answer = sendRequest(sender, Requests.attention, attentionParams, { token: caller.token });
    caller.cancel();
    const error = await answer.catch((e: unknown) => e);
    expect(sender.sent[0].token?.isCancellationRequested).toBe(true);
    expect(error).toBeInstanceOf(ResponseError);
    expect(failureOf(error)).toBe('cancelled');
  });

  it('does not send a request whose caller already cancelled', async () => {
    const sender = new FakeSender();
    const caller = new CancellationTokenSource();
    caller.cancel();
    const error = await sendRequest(sender, Requests.attention, attentionParams, { token: caller.token }).catch((e: unknown) => e);
    expect(failureOf(error)).toBe('cancelled');
    expect(sender.sent).toHaveLength(0);
  });

  it('hands the server\'s errors on unchanged', async () => {
    const sender = new FakeSender();
    const answer = sendRequest(sender, Requests.heads, {
      textDocument: { uri: 'file:///a.py' },
      position: { line: 0, character: 0 },
    });
    const sent = new ResponseError(ErrorCodes.NotAnalysed, 'Run Analyze File first.');
    sender.fail(sent);
    await expect(answer).rejects.toBe(sent);
  });
});

describe('failureOf', () => {
  it('recognises "not analysed" by its code whatever the message says', () => {
    expect(failureOf(new ResponseError(-31001, 'The document is not analysed.'))).toBe('notAnalysed');
    expect(failureOf(new ResponseError(ErrorCodes.NotAnalysed, 'Dokument nicht analysiert'))).toBe('notAnalysed');
    expect(failureOf({ code: -31001, message: '' })).toBe('notAnalysed');
  });

  it('does not read the message: an invalid-params error that mentions analysis is just a failure', () => {
    expect(failureOf(new ResponseError(ErrorCodes.InvalidParams, 'Analyse the file first.'))).toBe('failed');
  });

  it('tells cancellation, edits and timeouts apart', () => {
    expect(failureOf(new ResponseError(ErrorCodes.RequestCancelled, 'cancelled'))).toBe('cancelled');
    expect(failureOf(new ResponseError(ErrorCodes.ContentModified, 'changed'))).toBe('contentModified');
    expect(failureOf(new TimeoutError(15_000))).toBe('timedOut');
    expect(failureOf(new Error('boom'))).toBe('failed');
    expect(failureOf(undefined)).toBe('failed');
  });
});

describe('staleDataOf', () => {
  const data = { freshTokens: 41, staleFrom: { line: 14, character: 23 } };

  it('reads where the edited part begins from a ContentModified answer', () => {
    const error = new ResponseError(ErrorCodes.ContentModified, 'This token changed after the analysis', data);
    expect(staleDataOf(error)).toEqual(data);
    expect(failureOf(error)).toBe('contentModified');
  });

  it('ignores other codes and ContentModified answers without (valid) data', () => {
    expect(staleDataOf(new ResponseError(ErrorCodes.InvalidParams, 'bad', data))).toBeUndefined();
    expect(staleDataOf(new ResponseError(ErrorCodes.ContentModified, 'changed while the request ran'))).toBeUndefined();
    expect(staleDataOf(new ResponseError(ErrorCodes.ContentModified, 'x', { freshTokens: 3 }))).toBeUndefined();
    expect(staleDataOf(new ResponseError(ErrorCodes.ContentModified, 'x', { freshTokens: 1.5, staleFrom: data.staleFrom }))).toBeUndefined();
    expect(staleDataOf(new ResponseError(ErrorCodes.ContentModified, 'x', { freshTokens: 2, staleFrom: { line: -1, character: 0 } }))).toBeUndefined();
    expect(staleDataOf(new TimeoutError(15_000, 'The attention request'))).toBeUndefined();
    expect(staleDataOf(undefined)).toBeUndefined();
  });

  it('accepts only whole, non-negative positions', () => {
    expect(isPosition({ line: 0, character: 0 })).toBe(true);
    expect(isPosition({ line: 2, character: '3' })).toBe(false);
    expect(isPosition(null)).toBe(false);
  });
});
