/**
 * The faithfulness a server reports with an attention result. It is shown to the user, so a
 * malformed value (another server version, a bug) counts as unknown rather than as a number.
 */
import type { Faithfulness } from './protocol';

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isFaithfulness(value: unknown): value is Faithfulness {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return false;
  }
  const f = value as Record<string, unknown>;
  return (
    isFiniteNumber(f.rho) &&
    isFiniteNumber(f.low) &&
    isFiniteNumber(f.high) &&
    isFiniteNumber(f.bestRho) &&
    isCount(f.snippets) &&
    isCount(f.rank) &&
    isCount(f.methods) &&
    f.rank >= 1 &&
    f.rank <= f.methods &&
    typeof f.best === 'string' &&
    typeof f.model === 'string'
  );
}

/** The value itself, null for "not measured", undefined for "unknown" (absent or malformed). */
export function readFaithfulness(value: unknown): Faithfulness | null | undefined {
  if (value === null) {
    return null;
  }
  return isFaithfulness(value) ? value : undefined;
}
