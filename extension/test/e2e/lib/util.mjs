// Small helpers every module uses: the run's clock and log, assertions, polling.
export const t0 = Date.now();
export const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s]`, ...a);

export function assert(cond, msg) { if (!cond) throw new Error(msg); }
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
export const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Polls `fn` until it returns a truthy value (returned) or `timeout` ms pass. An error thrown with
// `fatal: true` ends the wait at once; other errors count as "not yet" and the last one is reported.
export async function waitFor(what, fn, { timeout = 30000, interval = 250 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (e && e.fatal) throw e;
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? ` (last error: ${last.message.split('\n')[0]})` : ''}`);
    await sleep(interval);
  }
}
