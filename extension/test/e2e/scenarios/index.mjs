// Every scenario the runner knows, in the order it runs them. A scenario module exports
// `{ name, summary, screenshots, run }`; the trusted one also runs feature modules of the same
// shape inside its code-server session, and each of those can be picked by name on its own.
import setupOldPython from './setup-old-python.mjs';
import setup from './setup.mjs';
import trusted, { features } from './trusted/index.mjs';
import untrusted from './untrusted.mjs';

// The long set-up runs last.
export const scenarios = [trusted, untrusted, setupOldPython, setup];
export { features };
export const names = [...scenarios.map((s) => s.name), ...features.map((f) => f.name)];

// What to run for the names picked (all when none): [{ scenario, only }], where `only` lists the
// trusted features to run (empty: all of them).
export function plan(picked) {
  const unknown = picked.filter((x) => !names.includes(x));
  if (unknown.length) throw new Error(`--only takes a comma-separated list of ${names.join(', ')} (not ${unknown.join(', ')})`);
  if (!picked.length) return scenarios.map((scenario) => ({ scenario, only: [] }));
  const out = [];
  for (const scenario of scenarios) {
    if (scenario === trusted) {
      const only = features.map((f) => f.name).filter((n) => picked.includes(n));
      if (picked.includes(trusted.name)) out.push({ scenario, only: [] });
      else if (only.length) out.push({ scenario, only });
    } else if (picked.includes(scenario.name)) out.push({ scenario, only: [] });
  }
  return out;
}

// One line a scenario or feature for --list and --help.
export function describe() {
  const row = (s, indent) => `${indent}${s.name.padEnd(18 - indent.length)} ${s.summary}${s.screenshots.length ? ` [${s.screenshots.map((f) => `${f}.png`).join(', ')}]` : ''}`;
  return [
    ...scenarios.flatMap((s) => [row(s, ''), ...(s === trusted ? features.map((f) => row(f, '  ')) : [])]),
  ].join('\n');
}
