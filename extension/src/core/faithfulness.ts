/**
 * The faithfulness a server reports with an attention result. It is shown to the user, so a
 * malformed value (another server version, a bug) counts as unknown rather than as a number. Its
 * words (`text`, `sentence`) are the server's, so the status bar says what the CLI, the HTML report
 * and the hover say.
 */
import type { Faithfulness } from './protocol';

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

const POSITIONS: readonly unknown[] = ['last', 'interior'];
const UNITS: readonly unknown[] = ['token', 'line'];

/** Absent (an older server: the last token, token level) or both fields valid. */
function isSituation(position: unknown, unit: unknown): boolean {
  if (position === undefined && unit === undefined) {
    return true;
  }
  return POSITIONS.includes(position) && UNITS.includes(unit);
}

function isAsked(value: unknown): boolean {
  if (value === undefined) {
    return true;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return false;
  }
  const asked = value as Record<string, unknown>;
  return asked.position !== undefined && isSituation(asked.position, asked.unit);
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
    typeof f.model === 'string' &&
    isSituation(f.position, f.unit) &&
    isAsked(f.asked) &&
    (f.corpus === undefined || typeof f.corpus === 'string') &&
    (f.languages === undefined || (Array.isArray(f.languages) && f.languages.every((l) => typeof l === 'string'))) &&
    (f.language === undefined || f.language === null || typeof f.language === 'string') &&
    (f.standsIn === undefined || typeof f.standsIn === 'boolean') &&
    typeof f.text === 'string' &&
    typeof f.sentence === 'string'
  );
}

/** The value itself, null for "not measured", undefined for "unknown" (absent or malformed). */
export function readFaithfulness(value: unknown): Faithfulness | null | undefined {
  if (value === null) {
    return null;
  }
  return isFaithfulness(value) ? value : undefined;
}
