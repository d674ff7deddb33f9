import { describe, expect, it } from 'vitest';
import { buildLut, colorAt, cssColor } from '../../src/core/colormap';
import {
  baseCellSize,
  cellAt,
  cellFromIndex,
  cellIndex,
  cellWeight,
  clampView,
  decodeBase64,
  decodeBase64Table,
  decodeTriangle,
  encodeBase64,
  maxZoom,
  tokenWindow,
  triangleSize,
  zoomAt,
} from '../../src/core/triangle';

describe('base64', () => {
  it('decodes like Node does, with and without padding', () => {
    for (const text of ['', 'f', 'fo', 'foo', 'foob', 'fooba', 'foobar', 'çà 😀 漢字']) {
      const bytes = new Uint8Array(Buffer.from(text, 'utf8'));
      const b64 = Buffer.from(bytes).toString('base64');
      expect(Array.from(decodeBase64(b64))).toEqual(Array.from(bytes));
      expect(Array.from(decodeBase64(b64.replace(/=+$/, '')))).toEqual(Array.from(bytes));
      expect(encodeBase64(bytes)).toBe(b64);
    }
  });

  it('round-trips every byte value', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(Array.from(decodeBase64(encodeBase64(all)))).toEqual(Array.from(all));
  });

  it('accepts URL-safe characters and whitespace', () => {
    const bytes = Uint8Array.from([251, 255, 191]);
    expect(Array.from(decodeBase64('-_-_'))).toEqual(Array.from(decodeBase64('+/+/')));
    expect(Array.from(decodeBase64(' +/+/\n'))).toEqual(Array.from(decodeBase64('+/+/')));
    expect(Array.from(decodeBase64(encodeBase64(bytes)))).toEqual([251, 255, 191]);
  });

  it('decodes large payloads the same way on the fast and the table path', () => {
    const bytes = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 2654435761) >>> 24);
    const b64 = Buffer.from(bytes).toString('base64');
    expect(Buffer.from(decodeBase64(b64)).equals(Buffer.from(bytes))).toBe(true);
    expect(Buffer.from(decodeBase64Table(b64)).equals(Buffer.from(bytes))).toBe(true);
    const urlSafe = b64.replace(/\+/g, '-').replace(/\//g, '_');
    expect(Buffer.from(decodeBase64(urlSafe)).equals(Buffer.from(bytes))).toBe(true);
    expect(() => decodeBase64('$'.repeat(8000))).toThrow(/Invalid base64/);
  });

  it('rejects bad characters and bad lengths', () => {
    expect(() => decodeBase64('ab$d')).toThrow(/Invalid base64/);
    expect(() => decodeBase64('abcde')).toThrow(/bad length/);
    expect(() => decodeBase64('😀😀')).toThrow(/Invalid base64/);
  });
});

describe('triangle index math', () => {
  it('sizes', () => {
    expect(triangleSize(0)).toBe(0);
    expect(triangleSize(1)).toBe(1);
    expect(triangleSize(4)).toBe(10);
    expect(triangleSize(4096)).toBe(8_390_656);
    expect(() => triangleSize(-1)).toThrow();
    expect(() => triangleSize(1.5)).toThrow();
  });

  it('maps cells to packed indices row by row', () => {
    expect(cellIndex(0, 0, 3)).toBe(0);
    expect(cellIndex(1, 0, 3)).toBe(1);
    expect(cellIndex(1, 1, 3)).toBe(2);
    expect(cellIndex(2, 0, 3)).toBe(3);
    expect(cellIndex(2, 2, 3)).toBe(5);
  });

  it('returns -1 above the diagonal and outside', () => {
    expect(cellIndex(0, 1, 3)).toBe(-1);
    expect(cellIndex(3, 0, 3)).toBe(-1);
    expect(cellIndex(-1, 0, 3)).toBe(-1);
    expect(cellIndex(1.5, 0, 3)).toBe(-1);
    expect(cellIndex(NaN, 0, 3)).toBe(-1);
  });

  it('inverts exactly, also for huge indices', () => {
    for (let k = 0; k < 2000; k++) {
      const { row, col } = cellFromIndex(k);
      expect(cellIndex(row, col, row + 1)).toBe(k);
    }
    const n = 100_000_000;
    const last = triangleSize(n) - 1;
    expect(cellFromIndex(last)).toEqual({ row: n - 1, col: n - 1 });
    expect(cellFromIndex(triangleSize(n))).toEqual({ row: n, col: 0 });
    expect(() => cellFromIndex(-1)).toThrow();
  });
});

describe('decodeTriangle', () => {
  it('decodes a base64 payload and reads weights', () => {
    // n = 3: rows [255], [0, 255], [51, 102, 102]
    const cells = Uint8Array.from([255, 0, 255, 51, 102, 102]);
    const t = decodeTriangle({ n: 3, data: encodeBase64(cells), scale: 0.5, offset: 10 });
    expect(t.n).toBe(3);
    expect(t.offset).toBe(10);
    expect(cellWeight(t, 0, 0)).toBeCloseTo(0.5);
    expect(cellWeight(t, 2, 0)).toBeCloseTo(0.1);
    expect(cellWeight(t, 2, 1)).toBeCloseTo(0.2);
    expect(Number.isNaN(cellWeight(t, 0, 2))).toBe(true);
  });

  it('accepts Uint8Array and plain arrays; defaults bad scale and offset', () => {
    const t = decodeTriangle({ n: 2, data: [1, 2, 3], scale: NaN, offset: -4 });
    expect(Array.from(t.cells)).toEqual([1, 2, 3]);
    expect(t.scale).toBe(1);
    expect(t.offset).toBe(0);
    const u = decodeTriangle({ n: 1, data: new Uint8Array([9]) });
    expect(u.cells[0]).toBe(9);
  });

  it('handles an empty matrix', () => {
    expect(decodeTriangle({ n: 0, data: '' }).cells.length).toBe(0);
  });

  it('rejects short data and bad sizes, trims long data', () => {
    expect(() => decodeTriangle({ n: 3, data: [1, 2] })).toThrow(/expected 6/);
    expect(() => decodeTriangle({ n: -1, data: [] })).toThrow(/Invalid/);
    expect(() => decodeTriangle({ n: 1e9, data: [] })).toThrow(/too large/);
    expect(decodeTriangle({ n: 1, data: [1, 2, 3] }).cells.length).toBe(1);
  });

  it('decodes a 2048-token payload quickly enough for a webview', () => {
    const n = 2048;
    const bytes = new Uint8Array(triangleSize(n)).map((_, i) => i % 251);
    const b64 = Buffer.from(bytes).toString('base64');
    const t = decodeTriangle({ n, data: b64 });
    expect(t.cells.length).toBe(triangleSize(n));
    expect(t.cells[cellIndex(2047, 2047, n)]).toBe((triangleSize(n) - 1) % 251);
  });
});

describe('view math', () => {
  const vp = { width: 400, height: 200 };

  it('fits the matrix into the smaller side', () => {
    expect(baseCellSize(100, vp)).toBe(2);
    expect(baseCellSize(0, vp)).toBe(1);
  });

  it('finds the cell under a point', () => {
    const view = { zoom: 1, panX: 0, panY: 0 };
    expect(cellAt(0, 0, 100, view, vp)).toEqual({ row: 0, col: 0 });
    expect(cellAt(3, 9, 100, view, vp)).toEqual({ row: 4, col: 1 });
    expect(cellAt(9, 3, 100, view, vp)).toBeUndefined(); // above the diagonal
    expect(cellAt(-1, 5, 100, view, vp)).toBeUndefined();
    expect(cellAt(NaN, 5, 100, view, vp)).toBeUndefined();
    expect(cellAt(5, 5, 0, view, vp)).toBeUndefined();
  });

  it('keeps the point under the mouse fixed when zooming', () => {
    const view = zoomAt({ zoom: 1, panX: 0, panY: 0 }, 2, 100, 100, 100, vp);
    expect(view.zoom).toBe(2);
    expect(cellAt(100, 100, 100, view, vp)).toEqual(cellAt(100, 100, 100, { zoom: 1, panX: 0, panY: 0 }, vp));
  });

  it('clamps zoom between fit and a maximum cell size', () => {
    expect(zoomAt({ zoom: 1, panX: 0, panY: 0 }, 0.1, 0, 0, 100, vp).zoom).toBe(1);
    expect(zoomAt({ zoom: 1, panX: 0, panY: 0 }, 1e9, 0, 0, 100, vp).zoom).toBe(maxZoom(100, vp));
    expect(zoomAt({ zoom: 3, panX: 0, panY: 0 }, NaN, 0, 0, 100, vp).zoom).toBe(3);
  });

  it('keeps part of the matrix on screen when panning', () => {
    const v = clampView({ zoom: 1, panX: 10_000, panY: -10_000 }, 100, vp);
    expect(v.panX).toBeLessThan(vp.width);
    expect(v.panY + 200).toBeGreaterThan(0);
  });
});

describe('tokenWindow', () => {
  it('is undefined when everything fits', () => {
    expect(tokenWindow(100, 5, 4096)).toBeUndefined();
    expect(tokenWindow(4096, 5, 4096)).toBeUndefined();
  });
  it('centres on the token and stays inside the document', () => {
    expect(tokenWindow(10_000, 5000, 4096)).toEqual([2952, 7048]);
    expect(tokenWindow(10_000, 10, 4096)).toEqual([0, 4096]);
    expect(tokenWindow(10_000, 9999, 4096)).toEqual([5904, 10_000]);
    expect(tokenWindow(10_000, undefined, 4096)).toEqual([5904, 10_000]);
    expect(tokenWindow(10_000, NaN, 4096)).toEqual([5904, 10_000]);
  });
});

describe('colour map', () => {
  it('clamps and interpolates', () => {
    expect(colorAt(0)).toEqual([13, 8, 64]);
    expect(colorAt(1)).toEqual([252, 255, 164]);
    expect(colorAt(-5)).toEqual(colorAt(0));
    expect(colorAt(NaN)).toEqual(colorAt(0));
    expect(colorAt(7)).toEqual(colorAt(1));
    expect(cssColor(1)).toBe('rgb(252, 255, 164)');
  });

  it('builds a 256-entry table of opaque colours, darkest at zero', () => {
    const lut = buildLut();
    expect(lut.length).toBe(256);
    for (const c of lut) {
      expect(c >>> 24).toBe(255);
    }
    expect(lut[0] & 0xff).toBe(13);
    // little-endian RGBA: red in the low byte
    expect(lut[255] & 0xff).toBe(252);
  });
});
