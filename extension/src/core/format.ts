/** Short texts for the status bar and pickers. */
import type { Settings } from './settings';
import type { Faithfulness, IndexSelection, ServerState } from './protocol';

export function selectionLabel(sel: IndexSelection, noun: string): string {
  if (sel === 'all') {
    return `all ${noun}s`;
  }
  if (sel.length === 1) {
    return `${noun} ${sel[0]}`;
  }
  return `${noun}s ${compactList(sel)}`;
}

/** "0-3,7,9-10" for [0,1,2,3,7,9,10]. */
export function compactList(values: readonly number[]): string {
  const sorted = [...new Set(values)].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const parts: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) {
      j++;
    }
    parts.push(j > i ? `${sorted[i]}-${sorted[j]}` : `${sorted[i]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Parses "0-3, 7" into [0,1,2,3,7]; "all" or empty -> "all"; undefined when invalid. */
export function parseIndexList(text: string, limit = 10_000): IndexSelection | undefined {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === '' || trimmed === 'all' || trimmed === '*') {
    return 'all';
  }
  const out = new Set<number>();
  for (const part of trimmed.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) {
      return undefined;
    }
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b < a || a >= limit || b >= limit) {
      return undefined;
    }
    for (let v = a; v <= b; v++) {
      out.add(v);
    }
  }
  return [...out].sort((x, y) => x - y);
}

/** "effective+norm · headMean · attendsTo", plus the layer/head filter when there is one. */
export function viewLabel(s: Pick<Settings, 'refinement' | 'aggregate' | 'direction' | 'layers' | 'heads'>): string {
  const parts: string[] = [s.refinement, s.aggregate, s.direction];
  if (s.layers !== 'all') {
    parts.push(selectionLabel(s.layers, 'L').replace(/^Ls? /, 'L'));
  }
  if (s.heads !== 'all') {
    parts.push(selectionLabel(s.heads, 'H').replace(/^Hs? /, 'H'));
  }
  return parts.join(' · ');
}

/** "smollm2-135m" for "embedded:smollm2-135m", "Qwen2.5-Coder-1.5B" for "Qwen/Qwen2.5-Coder-1.5B". */
export function modelLabel(model: string): string {
  const trimmed = model.trim().replace(/[\\/]+$/, '');
  const noScheme = trimmed.replace(/^embedded:/, '');
  const parts = noScheme.split(/[\\/]/);
  return parts[parts.length - 1] || noScheme || 'model';
}

export function stateLabel(state: ServerState | 'starting' | 'stopped' | 'failed'): string {
  switch (state) {
    case 'loadingModel':
      return 'loading model';
    case 'analyzing':
      return 'analysing';
    default:
      return state;
  }
}

/** "+0.32", "-0.05": the sign is always shown, and a value that rounds to zero reads "+0.00". */
export function signed(value: number, digits = 2): string {
  const rounded = Number(value.toFixed(digits));
  return `${rounded < 0 ? '-' : '+'}${Math.abs(rounded).toFixed(digits)}`;
}

/** "ρ +0.38 vs ablation (Python, interior tokens)": the status bar's short form, the server's own line. */
export function faithfulnessLabel(f: Faithfulness): string {
  return f.text;
}

/**
 * The tooltip sentence (the server's); null means the server knows this model or view was not
 * benchmarked. `line`, where given and measured per line, adds the figure of the per-line weights (the gutter).
 */
export function faithfulnessSentence(f: Faithfulness | null, line?: Faithfulness | null): string {
  if (f === null) {
    return (
      "Faithfulness of this view: not measured (only the embedded model's attendsTo views over all layers and heads " +
      'are benchmarked; see bench/RESULTS.md).'
    );
  }
  return line?.unit === 'line' ? `${f.sentence} ${line.sentence}` : f.sentence;
}
