/**
 * Accumulative attention (ALTI rollout, Requests.altiRollout) without 'vscode': what the
 * message after a request says. The server answers in the attention view's shape.
 */
import { signed } from './format';
import type { AltiRolloutResult } from './protocolViews';

/** The sentence shown once the tints show the ALTI rollout of a token. */
export function accumulativeSummary(result: AltiRolloutResult): string {
  const token = result.token?.label ?? result.token?.text ?? 'the token';
  const line = (result.token?.range?.start?.line ?? 0) + 1;
  const top = (result.targets ?? [])
    .slice(0, 3)
    .map((t) => `${t.label ?? t.text} (line ${t.range.start.line + 1}) ${(100 * t.weight).toFixed(1)}%`)
    .join(', ');
  const f = result.faithfulness;
  const measured = f
    ? `ρ ${signed(f.rho)} (95% CI ${signed(f.low)} to ${signed(f.high)}) against leave-one-out ablation, rank ${f.rank} of ${f.methods} (best: ${f.best}, ρ ${signed(f.bestRho)})`
    : 'not measured for this model';
  const seconds = (result.elapsedMs / 1000).toFixed(1);
  return (
    `Accumulative attention (ALTI rollout through every layer) of ${token} (line ${line}): ${top || 'no source outside the sink'}. ` +
    `Faithfulness: ${measured}. It ran the model over ${result.recomputedTokens} tokens in ${seconds} s; the tints show it until the cursor moves.`
  );
}
