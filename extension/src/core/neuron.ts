/**
 * The neuron view's content without 'vscode': a head's logit for one (query, source) pair split
 * into the parts a reader can compare, the largest first.
 */
import type { NeuronResult } from './protocolViews';

/** One part of the logit: a rotary pair (two dimensions rotated together) or a single dimension. */
export interface NeuronPart {
  label: string;
  dims: number[];
  /** the part's share of the logit: scale * sum of its products */
  contribution: number;
  query: number[];
  key: number[];
  /** tokens per full turn of a rotary pair: short ones encode position, long ones content */
  wavelength?: number;
}

export interface NeuronView {
  parts: NeuronPart[];
  /** the parts past `limit`, summed */
  rest: { count: number; contribution: number };
  /** the largest |contribution|, for bar lengths */
  scaleMax: number;
  lines: string[];
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The parts of the logit: rotary pairs first (with their wavelength), then unrotated dimensions. */
export function neuronParts(r: NeuronResult): NeuronPart[] {
  const d = Math.min(r.query.length, r.key.length, r.products.length);
  const parts: NeuronPart[] = [];
  const inPair = new Set<number>();
  r.pairs.forEach(([a, b], i) => {
    if (a >= d || b >= d) {
      return;
    }
    inPair.add(a);
    inPair.add(b);
    const wavelength = r.wavelengths?.[i];
    parts.push({
      label: `dims ${a} & ${b}`,
      dims: [a, b],
      contribution: r.scale * (r.products[a] + r.products[b]),
      query: [r.query[a], r.query[b]],
      key: [r.key[a], r.key[b]],
      ...(finite(wavelength) ? { wavelength } : {}),
    });
  });
  for (let t = 0; t < d; t++) {
    if (!inPair.has(t)) {
      parts.push({ label: `dim ${t}`, dims: [t], contribution: r.scale * r.products[t], query: [r.query[t]], key: [r.key[t]] });
    }
  }
  return parts;
}

function fixed(value: number, digits = 3): string {
  return finite(value) ? value.toFixed(digits) : 'n/a';
}

/** The view: the `limit` largest parts by |contribution|, the rest summed, and the arithmetic in words. */
export function neuronView(r: NeuronResult, limit = 24): NeuronView {
  const all = neuronParts(r);
  const sorted = [...all].sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
  const parts = sorted.slice(0, limit);
  const restParts = sorted.slice(limit);
  const sum = r.products.reduce((acc, p) => acc + p, 0);
  const lines = [
    `logit = scale × Σ q·k = ${fixed(r.scale, 4)} × ${fixed(sum)} = ${fixed(r.score)}`,
    r.allowed
      ? `weight = exp(logit − lse) = exp(${fixed(r.score)} − ${fixed(r.lse)}) = ${(r.weight * 100).toFixed(2)} %`
      : 'weight = 0: the mask hides this source from this token (outside the sliding window)',
    r.rotaryDims > 0
      ? `RoPE rotates ${r.rotaryDims} of ${r.query.length} dimensions in pairs; short wavelengths encode distance, long ones content.`
      : 'No rotary embedding: the products compare content (positions were added to the input).',
  ];
  return {
    parts,
    rest: { count: restParts.length, contribution: restParts.reduce((acc, p) => acc + p.contribution, 0) },
    scaleMax: Math.max(1e-12, ...parts.map((p) => Math.abs(p.contribution))),
    lines,
  };
}

/**
 * "20 3", "20,3" or "L20 H3" (0-based, as the model view labels them) for a model of `layers` x
 * `heads`: the head, or a sentence saying what is wrong.
 */
export function parseHead(text: string, layers: number, heads: number): { layer: number; head: number } | string {
  const match = /^\s*L?\s*(\d+)\s*[,\s]\s*H?\s*(\d+)\s*$/i.exec(text);
  if (!match) {
    return 'Type a layer and a head, e.g. "20 3" or "L20 H3".';
  }
  const layer = Number(match[1]);
  const head = Number(match[2]);
  if (layer >= layers) {
    return `Layer ${layer} does not exist: the model has ${layers} (0 to ${layers - 1}).`;
  }
  if (head >= heads) {
    return `Head ${head} does not exist: the model has ${heads} (0 to ${heads - 1}).`;
  }
  return { layer, head };
}
