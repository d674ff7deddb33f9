/**
 * Draws the lower-triangle heatmap on a canvas. Runs in any browser page: the bundle
 * extension/out/webview/heatmapDraw.js defines `window.drawHeatmap` and `window.AttenScopeHeatmap`.
 *
 *   drawHeatmap(canvas, { n, data, scale, offset }, { view: { zoom, panX, panY } })
 *
 * `data` is the protocol's base64 string or a Uint8Array of the packed lower triangle. The full
 * matrix is rendered once into an n x n bitmap (one putImageData); zoom and pan only redraw that
 * bitmap scaled (one drawImage).
 */
import { buildLut } from '../core/colormap';
import { baseCellSize, decodeTriangle, type Triangle, type TriangleInput, type View } from '../core/triangle';

export interface DrawOptions {
  /** zoom and pan in canvas pixels; default: whole matrix fitted */
  view?: View;
  /** canvas background, CSS colour; default transparent */
  background?: string;
}

export interface DrawStats {
  n: number;
  /** milliseconds spent rendering the bitmap (0 when it was reused) */
  renderMs: number;
  totalMs: number;
}

type Bitmap = HTMLCanvasElement | OffscreenCanvas;

interface CacheEntry {
  source: unknown;
  n: number;
  triangle: Triangle;
  bitmap: Bitmap;
}

const LUT = buildLut();
const cache = new WeakMap<object, CacheEntry>();

export const MAX_DRAWN_TOKENS = 16_384;

function makeBitmap(n: number): Bitmap {
  if (typeof OffscreenCanvas !== 'undefined') {
    return new OffscreenCanvas(n, n);
  }
  const c = document.createElement('canvas');
  c.width = n;
  c.height = n;
  return c;
}

/** Renders the matrix at one pixel per cell. */
export function renderTriangle(t: Triangle): Bitmap {
  const n = Math.max(1, t.n);
  const bitmap = makeBitmap(n);
  const ctx = bitmap.getContext('2d');
  if (!ctx) {
    throw new Error('No 2D canvas context');
  }
  if (t.n === 0) {
    return bitmap;
  }
  const image = ctx.createImageData(n, n);
  const px = new Uint32Array(image.data.buffer, image.data.byteOffset, n * n);
  const cells = t.cells;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const row = i * n;
    const end = row + i;
    for (let p = row; p <= end; p++) {
      px[p] = LUT[cells[k++]];
    }
  }
  ctx.putImageData(image, 0, 0);
  return bitmap;
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/** Decodes (once per payload), renders (once per payload) and draws the heatmap. */
export function drawHeatmap(canvas: HTMLCanvasElement, input: TriangleInput, options: DrawOptions = {}): DrawStats {
  const t0 = now();
  if (input.n > MAX_DRAWN_TOKENS) {
    throw new Error(`Heatmap of ${input.n} tokens is larger than ${MAX_DRAWN_TOKENS}`);
  }
  let entry = cache.get(canvas);
  let renderMs = 0;
  if (entry?.source !== input.data || entry.n !== input.n) {
    const triangle = decodeTriangle(input);
    const r0 = now();
    const bitmap = renderTriangle(triangle);
    renderMs = now() - r0;
    entry = { source: input.data, n: input.n, triangle, bitmap };
    cache.set(canvas, entry);
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) {
    throw new Error('No 2D canvas context');
  }
  const viewport = { width: canvas.width, height: canvas.height };
  const view = options.view ?? { zoom: 1, panX: 0, panY: 0 };
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (options.background) {
    ctx.fillStyle = options.background;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }
  if (entry.n > 0) {
    const size = baseCellSize(entry.n, viewport) * view.zoom;
    ctx.imageSmoothingEnabled = size < 1;
    ctx.drawImage(entry.bitmap, view.panX, view.panY, entry.n * size, entry.n * size);
  }
  return { n: entry.n, renderMs, totalMs: now() - t0 };
}

/** The decoded triangle last drawn on `canvas` (for tooltips). */
export function drawnTriangle(canvas: HTMLCanvasElement): Triangle | undefined {
  return cache.get(canvas)?.triangle;
}
