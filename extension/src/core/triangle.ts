/**
 * What the heatmap of a lower-triangular token x token matrix needs besides its grids
 * (core/heatmapGrid.ts): base64 decoding of the payload, and the zoom-and-pan math of the canvas.
 * Pure functions shared by the extension, the webview and the tests; no DOM and no Node APIs.
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = (() => {
  const table = new Int16Array(256).fill(-1);
  for (let i = 0; i < B64.length; i++) {
    table[B64.charCodeAt(i)] = i;
  }
  // URL-safe alphabet too
  table['-'.charCodeAt(0)] = 62;
  table['_'.charCodeAt(0)] = 63;
  return table;
})();

/** Decodes base64 (standard or URL-safe, padding optional, whitespace ignored). Throws on bad input. */
export function decodeBase64(text: string): Uint8Array {
  // The platform decoder is several times faster on large payloads; it rejects the URL-safe
  // alphabet, which the table decoder below handles.
  if (typeof atob === 'function' && text.length > 4096) {
    try {
      const binary = atob(text);
      const out = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i++) {
        out[i] = binary.charCodeAt(i);
      }
      return out;
    } catch {
      // fall through
    }
  }
  return decodeBase64Table(text);
}

/** Table-driven decoder, used for short input and as the fallback. */
export function decodeBase64Table(text: string): Uint8Array {
  let len = text.length;
  // Fast path needs no whitespace; strip it only when present.
  if (/\s/.test(text)) {
    text = text.replace(/\s+/g, '');
    len = text.length;
  }
  while (len > 0 && text.charCodeAt(len - 1) === 61 /* = */) {
    len--;
  }
  if (len % 4 === 1) {
    throw new Error('Invalid base64: bad length');
  }
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let o = 0;
  let i = 0;
  const full = len - (len % 4);
  for (; i < full; i += 4) {
    const a = lookup(text, i);
    const b = lookup(text, i + 1);
    const c = lookup(text, i + 2);
    const d = lookup(text, i + 3);
    const triple = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = (triple >> 16) & 0xff;
    out[o++] = (triple >> 8) & 0xff;
    out[o++] = triple & 0xff;
  }
  const rest = len - full;
  if (rest >= 2) {
    const a = lookup(text, i);
    const b = lookup(text, i + 1);
    out[o++] = ((a << 2) | (b >> 4)) & 0xff;
    if (rest === 3) {
      const c = lookup(text, i + 2);
      out[o++] = (((b & 0xf) << 4) | (c >> 2)) & 0xff;
    }
  }
  return out;
}

function lookup(text: string, i: number): number {
  const code = text.charCodeAt(i);
  const v = code < 256 ? LOOKUP[code] : -1;
  if (v < 0) {
    throw new Error(`Invalid base64 character at ${i}`);
  }
  return v;
}

/** Encodes bytes as base64 (tests and fixtures). */
export function encodeBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const t = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[(t >> 18) & 63] + B64[(t >> 12) & 63] + B64[(t >> 6) & 63] + B64[t & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const t = bytes[i] << 16;
    out += B64[(t >> 18) & 63] + B64[(t >> 12) & 63] + '==';
  } else if (rest === 2) {
    const t = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64[(t >> 18) & 63] + B64[(t >> 12) & 63] + B64[(t >> 6) & 63] + '=';
  }
  return out;
}

/** Pan and zoom of the heatmap canvas. zoom 1 fits the whole matrix. */
export interface View {
  zoom: number;
  panX: number;
  panY: number;
}

export interface Viewport {
  width: number;
  height: number;
}

export const MAX_CELL_PX = 48;

/** Size of one cell in canvas pixels at zoom 1. */
export function baseCellSize(n: number, viewport: Viewport): number {
  if (n <= 0) {
    return 1;
  }
  return Math.max(1e-6, Math.min(viewport.width, viewport.height) / n);
}

export function maxZoom(n: number, viewport: Viewport): number {
  return Math.max(1, MAX_CELL_PX / baseCellSize(n, viewport));
}

/** Canvas point -> (row, col) token pair of the matrix, or undefined outside the lower triangle. */
export function cellAt(
  x: number,
  y: number,
  n: number,
  view: View,
  viewport: Viewport,
): { row: number; col: number } | undefined {
  if (!Number.isFinite(x) || !Number.isFinite(y) || n <= 0) {
    return undefined;
  }
  const size = baseCellSize(n, viewport) * view.zoom;
  const col = Math.floor((x - view.panX) / size);
  const row = Math.floor((y - view.panY) / size);
  if (row < 0 || col < 0 || row >= n || col > row) {
    return undefined;
  }
  return { row, col };
}

/** Zooms by `factor` keeping the canvas point (cx, cy) fixed; the result is clamped. */
export function zoomAt(view: View, factor: number, cx: number, cy: number, n: number, viewport: Viewport): View {
  if (!Number.isFinite(factor) || factor <= 0) {
    return view;
  }
  const zoom = Math.min(maxZoom(n, viewport), Math.max(1, view.zoom * factor));
  const ratio = zoom / view.zoom;
  return clampView({ zoom, panX: cx - (cx - view.panX) * ratio, panY: cy - (cy - view.panY) * ratio }, n, viewport);
}

/** Keeps at least part of the matrix on screen. */
export function clampView(view: View, n: number, viewport: Viewport): View {
  const extent = baseCellSize(n, viewport) * view.zoom * n;
  const margin = Math.min(extent, 32);
  const clamp = (v: number, size: number) => Math.min(size - margin, Math.max(margin - extent, v));
  return { zoom: view.zoom, panX: clamp(view.panX, viewport.width), panY: clamp(view.panY, viewport.height) };
}
