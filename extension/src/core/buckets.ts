/** Mapping attention weights to a handful of colour buckets. */

export const BUCKET_COUNT = 5;

export interface BucketOptions {
  /** number of buckets (default 5) */
  buckets?: number;
  /** keep at most this many items (the heaviest); the rest get -1 */
  topK?: number;
  /** items lighter than this fraction of the heaviest item get -1 (default 0.02) */
  minFraction?: number;
}

function finitePositive(w: number): boolean {
  return typeof w === 'number' && Number.isFinite(w) && w > 0;
}

/**
 * Bucket index (0 = lightest .. buckets-1 = heaviest) for each weight, relative to the heaviest
 * kept weight; -1 for weights that are not shown (non-finite, <= 0, below minFraction, beyond topK).
 */
export function bucketize(weights: readonly number[], options: BucketOptions = {}): number[] {
  const buckets = Math.max(1, Math.floor(options.buckets ?? BUCKET_COUNT));
  const minFraction = Math.max(0, options.minFraction ?? 0.02);
  const topK = options.topK === undefined ? Infinity : Math.max(0, Math.floor(options.topK));
  const result = new Array<number>(weights.length).fill(-1);
  const order = weights
    .map((w, i) => [w, i] as const)
    .filter(([w]) => finitePositive(w))
    .sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const kept = order.slice(0, topK === Infinity ? order.length : topK);
  if (kept.length === 0) {
    return result;
  }
  const max = kept[0][0];
  for (const [w, i] of kept) {
    const fraction = w / max;
    if (!(fraction >= minFraction)) {
      continue;
    }
    result[i] = Math.min(buckets - 1, Math.max(0, Math.ceil(fraction * buckets) - 1));
  }
  return result;
}

/** Groups item indices by bucket: `groups[b]` lists the items of bucket b. */
export function groupByBucket(bucketsOfItems: readonly number[], buckets = BUCKET_COUNT): number[][] {
  const groups: number[][] = Array.from({ length: buckets }, () => []);
  bucketsOfItems.forEach((b, i) => {
    if (b >= 0 && b < buckets) {
      groups[b].push(i);
    }
  });
  return groups;
}

/** Caps a list of ranges to `max`, keeping the first ones (callers pass them heaviest first). */
export function capItems<T>(items: readonly T[], max: number): T[] {
  if (!Number.isFinite(max) || max < 0) {
    return max === Infinity ? [...items] : [];
  }
  return items.slice(0, Math.floor(max));
}

/** Formats a weight for people: "12.3%", "0.04%", "<0.01%". */
export function formatWeight(weight: number): string {
  if (!Number.isFinite(weight)) {
    return 'n/a';
  }
  const pct = weight * 100;
  if (pct !== 0 && Math.abs(pct) < 0.01) {
    return pct < 0 ? '>-0.01%' : '<0.01%';
  }
  const digits = Math.abs(pct) >= 10 ? 1 : 2;
  return `${pct.toFixed(digits)}%`;
}
