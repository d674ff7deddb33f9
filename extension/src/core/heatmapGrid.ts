/**
 * The heatmap grid of the protocol (Requests.heatmap and Requests.heatmapTile): rows and
 * columns cut into bins of tokens, each cell the largest weight of the token pairs it covers,
 * as uint16 codes on a log scale. Decoding, looking up, the colour scale, axis ticks, the legend
 * and tooltip text: pure functions shared by the webview and the tests; no DOM, no Node APIs.
 */
import { decodeBase64 } from './triangle';
import { tokenLabel } from './ranges';
import type { TokenRef } from './protocol';
import type { HeatmapAxis, HeatmapResult } from './protocolViews';

/** Codes are 1 + round(65534 * ln(w / low) / ln(high / low)); 0 is no weight. */
const CODE_STEPS = 65534;

export interface Grid {
  /** analysed tokens: the matrix is tokens x tokens */
  tokens: number;
  rows: HeatmapAxis;
  columns: HeatmapAxis;
  /** row-major, rows.edges.length - 1 by columns.edges.length - 1 */
  codes: Uint16Array;
  low: number;
  high: number;
  /** one token pair a cell and every row read */
  exact: boolean;
  rowsRead: number;
  rowsTotal: number;
}

export function binCount(axis: HeatmapAxis): number {
  return axis.edges.length - 1;
}

function checkAxis(axis: HeatmapAxis, tokens: number, what: string): void {
  const edges = axis.edges;
  if (!Array.isArray(edges) || edges.length < 2 || !Array.isArray(axis.first) || axis.first.length !== edges.length - 1) {
    throw new Error(`Heatmap ${what}: bad bins`);
  }
  for (let b = 0; b < edges.length; b++) {
    const e = edges[b];
    if (!Number.isSafeInteger(e) || e < 0 || e > tokens || (b > 0 && e <= edges[b - 1])) {
      throw new Error(`Heatmap ${what}: bad bin edge ${String(e)}`);
    }
  }
  if (axis.last !== undefined && (!Array.isArray(axis.last) || axis.last.length !== edges.length - 1)) {
    throw new Error(`Heatmap ${what}: bad last tokens`);
  }
}

/** Inflates a zlib (RFC 1950) stream, as the server's zlib.compress writes it. */
export async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  // slice(): a Blob takes bytes over a plain ArrayBuffer, and the copy is what the stream reads
  const stream = new Blob([bytes.slice()]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Validates and decodes a heatmap answer. Rejects with a readable error on inconsistent input. */
export async function decodeGrid(result: HeatmapResult): Promise<Grid> {
  const tokens = result.tokens;
  if (!Number.isSafeInteger(tokens) || tokens < 0) {
    throw new Error(`Heatmap: bad token count ${String(tokens)}`);
  }
  checkAxis(result.rows, tokens, 'rows');
  checkAxis(result.columns, tokens, 'columns');
  if (result.encoding !== 'log16') {
    throw new Error(`Heatmap: unknown encoding ${String(result.encoding)}`);
  }
  if (result.compression !== undefined && result.compression !== 'deflate') {
    throw new Error(`Heatmap: unknown compression ${String(result.compression)}`);
  }
  const packed = decodeBase64(result.data);
  const bytes = result.compression === 'deflate' ? await inflate(packed) : packed;
  const cells = binCount(result.rows) * binCount(result.columns);
  if (bytes.length !== 2 * cells) {
    throw new Error(`Heatmap data has ${bytes.length} bytes, expected ${2 * cells}`);
  }
  const codes = new Uint16Array(cells);
  for (let i = 0, b = 0; i < cells; i++, b += 2) {
    codes[i] = bytes[b] | (bytes[b + 1] << 8); // little-endian, whatever the platform's order
  }
  const finite = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : 0);
  return {
    tokens,
    rows: result.rows,
    columns: result.columns,
    codes,
    low: finite(result.low),
    high: finite(result.high),
    exact: result.exact === true,
    rowsRead: finite(result.rowsRead),
    rowsTotal: finite(result.rowsTotal),
  };
}

/** The weight a code stands for (within 0.03 % of the server's value). */
export function codeWeight(code: number, low: number, high: number): number {
  if (code <= 0 || low <= 0) {
    return 0;
  }
  if (high <= low) {
    return low;
  }
  return low * Math.exp(((code - 1) / CODE_STEPS) * Math.log(high / low));
}

/** The bin of `axis` that holds token `token`, or -1 outside it. */
export function binOf(axis: HeatmapAxis, token: number): number {
  const edges = axis.edges;
  if (!(token >= edges[0] && token < edges[edges.length - 1])) {
    return -1;
  }
  let lo = 0;
  let hi = edges.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (edges[mid] <= token) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

/** The weight of the cell holding token pair (row, col), or undefined outside the grid. */
export function cellAtToken(grid: Grid, row: number, col: number): { rowBin: number; colBin: number; weight: number } | undefined {
  const rowBin = binOf(grid.rows, row);
  const colBin = binOf(grid.columns, col);
  if (rowBin < 0 || colBin < 0) {
    return undefined;
  }
  const code = grid.codes[rowBin * binCount(grid.columns) + colBin];
  return { rowBin, colBin, weight: codeWeight(code, grid.low, grid.high) };
}

/**
 * The colour scale: log of the weight between `min` and `max`. `max` is the largest weight of the
 * overview; `min` the weight at the `percentile` (default 2 %) of its nonzero cells, so that the
 * scale spans what the matrix holds rather than a few vanishing weights. Lower ones take the
 * lowest colour.
 */
export interface LogScale {
  min: number;
  max: number;
  /** the fraction of nonzero cells below `min` */
  percentile: number;
}

export const SCALE_PERCENTILE = 0.02;

export function logScale(grid: Grid, percentile = SCALE_PERCENTILE): LogScale {
  const histogram = new Uint32Array(65536);
  let nonzero = 0;
  let top = 0;
  for (const code of grid.codes) {
    if (code > 0) {
      histogram[code]++;
      nonzero++;
      top = Math.max(top, code);
    }
  }
  if (nonzero === 0) {
    return { min: 0, max: 0, percentile };
  }
  const wanted = Math.floor(percentile * nonzero);
  let seen = 0;
  let code = 1;
  for (; code < 65535; code++) {
    seen += histogram[code];
    if (seen > wanted) {
      break;
    }
  }
  const max = codeWeight(top, grid.low, grid.high);
  const min = Math.min(codeWeight(code, grid.low, grid.high), max);
  return { min, max, percentile };
}

/** Where a weight falls on the scale, 0 (min and below) to 1 (max). */
export function scalePosition(weight: number, scale: LogScale): number {
  if (!(weight > 0) || !(scale.max > 0)) {
    return 0;
  }
  if (scale.max <= scale.min) {
    return 1;
  }
  const t = Math.log(weight / scale.min) / Math.log(scale.max / scale.min);
  return Math.min(1, Math.max(0, t));
}

/**
 * Packed RGBA (Uint32, little-endian 0xAABBGGRR) for every code of `grid` on `scale`, from a
 * 256-entry colour table `lut`; code 0 (no weight) stays transparent.
 */
export function codeColours(grid: Grid, scale: LogScale, lut: Uint32Array): Uint32Array {
  const out = new Uint32Array(65536);
  for (let code = 1; code < 65536; code++) {
    const t = scalePosition(codeWeight(code, grid.low, grid.high), scale);
    out[code] = lut[Math.round(t * (lut.length - 1))];
  }
  return out;
}

/** A weight as a percentage with three significant digits, never 0 for a weight above 0: 45.3%, 1.23%, 0.00412%, 3.10e-7%. */
export function formatPercent(weight: number): string {
  if (!Number.isFinite(weight)) {
    return 'n/a';
  }
  if (weight === 0) {
    return '0%';
  }
  const pct = weight * 100;
  if (pct >= 99.95) {
    return '100%';
  }
  if (pct >= 10) {
    return `${pct.toFixed(1)}%`;
  }
  if (pct >= 1e-4) {
    return `${pct.toPrecision(3)}%`;
  }
  return `${pct.toExponential(2)}%`;
}

/** Ticks of the legend: each power of ten in [min, max] (with 2x and 5x when there are fewer than three). */
export function legendTicks(scale: LogScale): { value: number; position: number; label: string }[] {
  if (!(scale.max > 0) || !(scale.min > 0) || scale.max <= scale.min) {
    return scale.max > 0 ? [{ value: scale.max, position: 1, label: formatPercent(scale.max) }] : [];
  }
  const values: number[] = [];
  const first = Math.ceil(Math.log10(scale.min) - 1e-9);
  const last = Math.floor(Math.log10(scale.max) + 1e-9);
  const multiples = last - first + 1 < 3 ? [1, 2, 5] : [1];
  for (let k = first - 1; k <= last; k++) {
    for (const m of multiples) {
      const value = m * 10 ** k;
      if (value >= scale.min * (1 - 1e-9) && value <= scale.max * (1 + 1e-9)) {
        values.push(value);
      }
    }
  }
  // 1, 2 or 5 times a power of ten: its own digits, 0.001% rather than 0.00100%
  const label = (value: number) => `${Number((value * 100).toPrecision(1))}%`;
  return values.map((value) => ({ value, position: scalePosition(value, scale), label: label(value) }));
}

/** The 0-based line where bin `b` of `axis` starts. */
function binLine(axis: HeatmapAxis, b: number): number {
  return axis.first[b]?.range.start.line ?? 0;
}

/** A step of 1, 2 or 5 times a power of ten that cuts `span` into at most `count` parts. */
export function niceStep(span: number, count: number): number {
  const raw = Math.max(1, span / Math.max(1, count));
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) {
    if (m * power >= raw) {
      return m * power;
    }
  }
  return 10 * power;
}

/**
 * Line-number ticks for the tokens [from, to) of an axis: round 1-based line numbers, each at the
 * first bin that starts a line on or after it (at the line's first token when bins are tokens).
 */
export function lineTicks(axis: HeatmapAxis, from: number, to: number, maxTicks: number): { token: number; line: number }[] {
  const first = binOf(axis, Math.max(axis.edges[0], Math.floor(from)));
  const last = binOf(axis, Math.min(axis.edges[axis.edges.length - 1], Math.ceil(to)) - 1);
  if (first < 0 || last < 0 || last < first) {
    return [];
  }
  const lineFrom = binLine(axis, first) + 1;
  const lineTo = binLine(axis, last) + 1;
  const step = niceStep(lineTo - lineFrom, maxTicks);
  const ticks: { token: number; line: number }[] = [];
  // A tick marks where a line starts: never a bin in the middle of a line begun before it.
  const startsLine = (b: number) => b === 0 || binLine(axis, b - 1) < binLine(axis, b);
  let b = first;
  for (let line = Math.ceil(lineFrom / step) * step; line <= lineTo; line += step) {
    while (b <= last && (binLine(axis, b) + 1 < line || !startsLine(b))) {
      b++;
    }
    if (b > last) {
      break;
    }
    const token = axis.edges[b];
    if (ticks.length === 0 || ticks[ticks.length - 1].token !== token) {
      ticks.push({ token, line: binLine(axis, b) + 1 });
    }
  }
  return ticks;
}

/**
 * The ticks to label when each needs `gap` pixels: the first, then each at least `gap` after the
 * last one kept (short lines put line starts a few pixels apart).
 */
export function spacedOut<T extends { at: number }>(ticks: readonly T[], gap: number): T[] {
  const kept: T[] = [];
  for (const tick of ticks) {
    if (kept.length === 0 || tick.at - kept[kept.length - 1].at >= gap) {
      kept.push(tick);
    }
  }
  return kept;
}

/** 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 21st. */
export function ordinal(n: number): string {
  const tens = Math.floor(n / 10) % 10;
  const suffix = tens === 1 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${suffix}`;
}

/** line:column as an editor shows it (1-based). */
export function position(token: TokenRef): string {
  return `${token.range.start.line + 1}:${token.range.start.character + 1}`;
}

/** The tooltip of a cell: the row's token(s), the weight, the column's token(s). */
export function cellTooltip(grid: Grid, rowBin: number, colBin: number, weight: number): { row: string; weight: string; col: string } {
  const describe = (axis: HeatmapAxis, b: number): string => {
    const first = axis.first[b];
    const last = axis.last?.[b] ?? first;
    const count = axis.edges[b + 1] - axis.edges[b];
    if (count === 1 || first.index === last.index) {
      return `${tokenLabel(first)}  #${first.index} at ${position(first)}`;
    }
    return `${tokenLabel(first, 16)} … ${tokenLabel(last, 16)}  ${count} tokens, ${position(first)}–${position(last)}`;
  };
  const single = grid.rows.edges[rowBin + 1] - grid.rows.edges[rowBin] === 1 && grid.columns.edges[colBin + 1] - grid.columns.edges[colBin] === 1;
  let text: string;
  if (weight <= 0) {
    text = 'no weight: above the diagonal, outside the row’s window, or the dropped sink';
  } else if (single) {
    text = `attends to, with weight ${formatPercent(weight)}`;
  } else {
    const sampled = grid.rowsRead < grid.rowsTotal ? `; ${grid.rowsRead.toLocaleString('en-US')} of ${grid.rowsTotal.toLocaleString('en-US')} rows read` : '';
    text = `attend to, strongest pair ${formatPercent(weight)}${sampled}`;
  }
  return { row: describe(grid.rows, rowBin), weight: text, col: describe(grid.columns, colBin) };
}
