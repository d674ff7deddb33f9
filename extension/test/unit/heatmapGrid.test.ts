import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildLut } from '../../src/core/colormap';
import {
  binOf,
  cellAtToken,
  cellTooltip,
  codeColours,
  codeWeight,
  decodeGrid,
  formatPercent,
  legendTicks,
  lineTicks,
  logScale,
  niceStep,
  ordinal,
  scalePosition,
  spacedOut,
} from '../../src/core/heatmapGrid';
import type { TokenRef } from '../../src/core/protocol';
import type { HeatmapAxis, HeatmapResult } from '../../src/core/protocolViews';
import { encodeBase64 } from '../../src/core/triangle';

/** Token i sits on line floor(i / perLine), column 4 * (i % perLine). */
function token(index: number, perLine = 5, text = `t${index}`): TokenRef {
  const line = Math.floor(index / perLine);
  const character = 4 * (index % perLine);
  return { index, text, range: { start: { line, character }, end: { line, character: character + text.length } } };
}

function axis(edges: number[], perLine = 5): HeatmapAxis {
  const single = edges.every((e, b) => b === 0 || e - edges[b - 1] === 1);
  return {
    start: edges[0],
    end: edges[edges.length - 1],
    edges,
    first: edges.slice(0, -1).map((e) => token(e, perLine)),
    ...(single ? {} : { last: edges.slice(1).map((e) => token(e - 1, perLine)) }),
  };
}

/** The server's encoding (heatmap.encode_log16): 0 for no weight, else 1 + round(65534 ln(w/low) / ln(high/low)). */
function encode(weights: number[]): { data: string; low: number; high: number; compression: 'deflate' } {
  const positive = weights.filter((w) => w > 0);
  const high = Math.max(...positive);
  const low = Math.min(...positive);
  const bytes = new Uint8Array(2 * weights.length);
  weights.forEach((w, i) => {
    const code = w > 0 ? 1 + Math.round((65534 * Math.log(w / low)) / Math.log(high / low)) : 0;
    bytes[2 * i] = code & 0xff;
    bytes[2 * i + 1] = code >> 8;
  });
  return { data: encodeBase64(new Uint8Array(deflateSync(bytes, { level: 1 }))), low, high, compression: 'deflate' };
}

function result(rows: HeatmapAxis, columns: HeatmapAxis, weights: number[], extra: Partial<HeatmapResult> = {}): HeatmapResult {
  const rowsTotal = rows.end - rows.start;
  return {
    version: 1,
    tokens: 40,
    rows,
    columns,
    pooling: 'max',
    exact: false,
    rowsRead: rowsTotal,
    rowsTotal,
    encoding: 'log16',
    ...encode(weights),
    ...extra,
  };
}

describe('decoding a heatmap grid', () => {
  it('inflates and reads the weights back within the code step', async () => {
    const weights = [0.5, 0, 1e-6, 0.031];
    const grid = await decodeGrid(result(axis([0, 20, 40]), axis([0, 20, 40]), weights));
    const uncompressed = await decodeGrid({ ...result(axis([0, 20, 40]), axis([0, 20, 40]), weights), compression: undefined, data: encodeBase64(new Uint8Array(8).map((_, i) => [1, 0, 0, 0, 7, 0, 255, 255][i])) });
    expect(Array.from(uncompressed.codes)).toEqual([1, 0, 7, 65535]);
    expect(grid.codes.length).toBe(4);
    expect(grid.codes[1]).toBe(0);
    // a code step is ln(high / low) / 65534 = 2e-4 of the weight here; half a step is the error
    weights.forEach((w, i) => expect(Math.abs(codeWeight(grid.codes[i], grid.low, grid.high) - w)).toBeLessThanOrEqual(1e-4 * w));
  });

  it('rejects data of the wrong size, bad edges and unknown encodings', async () => {
    const good = result(axis([0, 20, 40]), axis([0, 20, 40]), [1, 0, 0.5, 0.2]);
    const raw = { ...good, compression: undefined };
    await expect(decodeGrid({ ...raw, data: encodeBase64(new Uint8Array(6)) })).rejects.toThrow(/expected 8/);
    await expect(decodeGrid({ ...good, data: encodeBase64(new Uint8Array(deflateSync(new Uint8Array(6)))) })).rejects.toThrow(/expected 8/);
    await expect(decodeGrid({ ...good, rows: { ...good.rows, edges: [0, 30, 20] } })).rejects.toThrow(/bad bin edge/);
    await expect(decodeGrid({ ...good, rows: { ...good.rows, edges: [0, 20, 41] } })).rejects.toThrow(/bad bin edge/);
    await expect(decodeGrid({ ...good, columns: { ...good.columns, first: [] } })).rejects.toThrow(/bad bins/);
    await expect(decodeGrid({ ...good, encoding: 'png' as 'log16' })).rejects.toThrow(/unknown encoding/);
    await expect(decodeGrid({ ...good, compression: 'zstd' as 'deflate' })).rejects.toThrow(/unknown compression/);
  });

  it('finds the bin of a token and the cell of a token pair', async () => {
    const rows = axis([10, 13, 17, 20]);
    expect([9, 10, 12, 13, 16, 17, 19, 20].map((t) => binOf(rows, t))).toEqual([-1, 0, 0, 1, 1, 2, 2, -1]);
    const grid = await decodeGrid(result(rows, axis([0, 10, 20]), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]));
    expect(cellAtToken(grid, 18, 15)).toMatchObject({ rowBin: 2, colBin: 1 });
    expect(cellAtToken(grid, 18, 15)?.weight).toBeCloseTo(0.6, 6);
    expect(cellAtToken(grid, 5, 5)).toBeUndefined();
  });
});

describe('the colour scale', () => {
  it('spans the 2nd percentile to the largest weight, on a log scale', async () => {
    const weights = Array.from({ length: 100 }, (_, i) => 10 ** (-6 + (6 * i) / 99)); // 1e-6 .. 1
    const grid = await decodeGrid(result(axis([0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]), axis([0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]), weights));
    const scale = logScale(grid);
    expect(scale.max).toBeCloseTo(1, 6);
    expect(scale.min / weights[2]).toBeCloseTo(1, 3);
    expect(scalePosition(scale.max, scale)).toBe(1);
    expect(scalePosition(1e-9, scale)).toBe(0);
    expect(scalePosition(Math.sqrt(scale.min * scale.max), scale)).toBeCloseTo(0.5, 6);
  });

  it('colours every weight, lowest to highest, and leaves no weight transparent', async () => {
    const grid = await decodeGrid(result(axis([0, 20, 40]), axis([0, 20, 40]), [1e-4, 0, 0.01, 1]));
    const lut = buildLut();
    const colours = codeColours(grid, logScale(grid, 0), lut);
    expect(colours[0]).toBe(0);
    expect(colours[grid.codes[0]]).toBe(lut[0]);
    expect(colours[grid.codes[2]]).toBe(lut[128]); // 1e-2 is halfway between 1e-4 and 1 on a log scale
    expect(colours[grid.codes[3]]).toBe(lut[255]);
  });

  it('labels the legend at powers of ten, with 2 and 5 when there are few', () => {
    expect(legendTicks({ min: 1e-5, max: 0.4, percentile: 0.02 }).map((t) => t.label)).toEqual(['0.001%', '0.01%', '0.1%', '1%', '10%']);
    const few = legendTicks({ min: 0.01, max: 0.6, percentile: 0.02 });
    expect(few.map((t) => t.label)).toEqual(['1%', '2%', '5%', '10%', '20%', '50%']);
    expect(few[0].position).toBe(0);
    expect(few.every((t, i) => i === 0 || t.position > few[i - 1].position)).toBe(true);
  });
});

describe('weights as text', () => {
  it('never reads 0 for a weight above 0', () => {
    expect(formatPercent(0.4531)).toBe('45.3%');
    expect(formatPercent(0.0123)).toBe('1.23%');
    expect(formatPercent(0.0012)).toBe('0.120%');
    expect(formatPercent(4.12e-5)).toBe('0.00412%');
    expect(formatPercent(3.1e-9)).toBe('3.10e-7%');
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(1)).toBe('100%');
    expect(formatPercent(NaN)).toBe('n/a');
  });
});

describe('line-number axes', () => {
  it('steps by 1, 2 or 5 times a power of ten', () => {
    expect(niceStep(9, 10)).toBe(1);
    expect(niceStep(30, 10)).toBe(5);
    expect(niceStep(1800, 10)).toBe(200);
    expect(niceStep(0, 10)).toBe(1);
  });

  it('puts round line numbers at the first token of their line', () => {
    const tokens = axis(Array.from({ length: 41 }, (_, i) => i)); // 5 tokens a line: lines 1-8
    expect(lineTicks(tokens, 0, 40, 4)).toEqual([
      { token: 5, line: 2 },
      { token: 15, line: 4 },
      { token: 25, line: 6 },
      { token: 35, line: 8 },
    ]);
    expect(lineTicks(tokens, 12, 28, 10).map((t) => t.line)).toEqual([4, 5, 6]);
  });

  it('labels only ticks far enough apart to read', () => {
    const ticks = [0, 5, 14, 16, 40].map((at) => ({ at }));
    expect(spacedOut(ticks, 12).map((t) => t.at)).toEqual([0, 14, 40]);
    expect(spacedOut([], 12)).toEqual([]);
  });

  it('says which percentile in English', () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 101].map(ordinal)).toEqual(['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd', '101st']);
  });

  it('places ticks of pooled bins at the first bin starting on or after the line', () => {
    const bins = axis([0, 8, 16, 24, 32, 40]); // bins start on lines 1, 2, 4, 5, 7
    expect(lineTicks(bins, 0, 40, 10)).toEqual([
      { token: 0, line: 1 },
      { token: 8, line: 2 },
      { token: 16, line: 4 },
      { token: 24, line: 5 },
      { token: 32, line: 7 },
    ]);
    expect(lineTicks(bins, 50, 60, 10)).toEqual([]);
  });
});

describe('the tooltip', () => {
  it('names both tokens with line:column and the exact weight of an exact cell', async () => {
    const rows = axis([12, 13]);
    const columns = axis([3, 4]);
    const grid = await decodeGrid(result(rows, columns, [0.00003], { exact: true }));
    const text = cellTooltip(grid, 0, 0, 0.00003);
    expect(text.row).toBe('t12  #12 at 3:9');
    expect(text.col).toBe('t3  #3 at 1:13');
    expect(text.weight).toBe('attends to, with weight 0.00300%');
  });

  it('gives the token range of pooled cells, the strongest pair and the rows read', async () => {
    const rows = axis([0, 20, 40]);
    const grid = await decodeGrid(result(rows, rows, [0.2, 0, 0.01, 0.3], { rowsRead: 8 }));
    const text = cellTooltip(grid, 1, 0, 0.01);
    expect(text.row).toBe('t20 … t39  20 tokens, 5:1–8:17');
    expect(text.col).toBe('t0 … t19  20 tokens, 1:1–4:17');
    expect(text.weight).toBe('attend to, strongest pair 1.00%; 8 of 40 rows read');
    expect(cellTooltip(grid, 0, 1, 0).weight).toMatch(/^no weight/);
  });
});
