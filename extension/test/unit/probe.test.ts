import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { indexVerdict } from '../../src/core/setup';
import { probeUrl, type ProbeCancellation } from '../../src/probe';

const servers: Server[] = [];

/** A local HTTP server that answers with `handle`; its base URL. */
async function serve(handle: (request: IncomingMessage, answer: (status: number) => void) => void): Promise<string> {
  const server = createServer((request, response) => handle(request, (status) => response.writeHead(status).end()));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A cancellation the test triggers by hand. */
function manualCancel(): ProbeCancellation & { cancel(): void } {
  const listeners = new Set<() => void>();
  return {
    onCancellationRequested(listener) {
      listeners.add(listener);
      return { dispose: () => listeners.delete(listener) };
    },
    cancel() {
      for (const listener of listeners) {
        listener();
      }
    },
  };
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('probeUrl', () => {
  it('asks with HEAD and gives the HTTP status of the answer', async () => {
    const seen: string[] = [];
    const base = await serve((request, answer) => {
      seen.push(`${request.method ?? ''} ${request.url ?? ''}`);
      answer(request.url === '/whl/cpu/torch/' ? 200 : 404);
    });
    expect(await probeUrl(`${base}/whl/cpu/torch/`, 5000)).toEqual({ status: 200 });
    expect(await probeUrl(`${base}/elsewhere/`, 5000)).toEqual({ status: 404 });
    expect(seen).toEqual(['HEAD /whl/cpu/torch/', 'HEAD /elsewhere/']);
  });

  it('gives up on a server that does not answer in time, and the verdict says so', async () => {
    const base = await serve(() => undefined); // accepts the connection, never answers
    const result = await probeUrl(`${base}/whl/cpu/torch/`, 200);
    expect(result).toEqual({ error: 'timed out', timedOut: true });
    const verdict = indexVerdict(result, base, 200);
    expect(verdict.ok).toBe(false);
  });

  it('reports a refused connection as unreachable, not as a timeout', async () => {
    const base = await serve((_, answer) => answer(200));
    const closed = servers.pop();
    await new Promise((resolve) => closed?.close(resolve));
    expect(await probeUrl(`${base}/`, 5000)).toEqual({ error: 'ECONNREFUSED', timedOut: false });
  });

  it('stops when cancelled', async () => {
    const base = await serve(() => undefined);
    const cancel = manualCancel();
    const pending = probeUrl(`${base}/`, 60_000, cancel);
    cancel.cancel();
    expect(await pending).toEqual({ error: 'cancelled', timedOut: false });
  });
});
