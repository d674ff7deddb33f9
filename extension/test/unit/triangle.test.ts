import { describe, expect, it } from 'vitest';
import { buildLut, colorAt, cssColor } from '../../src/core/colormap';
import {
  baseCellSize,
  cellAt,
  clampView,
  decodeBase64,
  decodeBase64Table,
  encodeBase64,
  maxZoom,
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

describe('colour map', () => {
  it('clamps and interpolates', () => {
    expect(colorAt(0)).toEqual([13, 8, 64]);
    expect(colorAt(1)).toEqual([252, 255, 164]);
    expect(colorAt(-5)).toEqual(colorAt(0));
    expect(colorAt(NaN)).toEqual(colorAt(0));
    expect(colorAt(7)).toEqual(colorAt(1));
    expect(cssColor(1)).toBe('rgb(252, 255, 164)');
  });

  it('builds a 256-entry table of opaque colours along the map, darkest at zero', () => {
    const lut = buildLut();
    expect(lut.length).toBe(256);
    for (const c of lut) {
      expect(c >>> 24).toBe(255);
    }
    expect(lut[0] & 0xff).toBe(13);
    // little-endian RGBA: red in the low byte
    expect(lut[255] & 0xff).toBe(252);
    expect(lut[128] & 0xff).toBe(colorAt(128 / 255)[0]); // a linear ramp: the scale is logarithmic upstream
  });
});
