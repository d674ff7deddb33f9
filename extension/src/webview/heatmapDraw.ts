/**
 * Draws heatmap grids on a canvas. Runs in any browser page: the bundle
 * extension/out/webview/heatmapDraw.js defines `window.drawHeatmap` and `window.AttenScopeHeatmap`.
 *
 *   await drawHeatmap(canvas, result, { view: { zoom, panX, panY } })
 *
 * `result` is the protocol's heatmap answer (Requests.heatmap or Requests.heatmapTile). A grid
 * is rendered once into a bitmap of one pixel per cell (one putImageData) and placed over the
 * token range it covers; zoom and pan only redraw the bitmaps scaled (one drawImage each).
 */
import { buildLut } from '../core/colormap';
import { binCount, codeColours, decodeGrid, logScale, type Grid, type LogScale } from '../core/heatmapGrid';
import type { HeatmapResult } from '../core/protocolViews';
import { baseCellSize, type View } from '../core/triangle';

type Bitmap = HTMLCanvasElement | OffscreenCanvas;

/** A decoded grid, coloured on a scale, ready to draw. */
export interface Layer {
  grid: Grid;
  scale: LogScale;
  bitmap: Bitmap;
}

export interface DrawStats {
  /** cells a side of the grid drawn last */
  rows: number;
  columns: number;
  /** milliseconds spent decoding and rendering the bitmap (0 when it was reused) */
  renderMs: number;
  totalMs: number;
}

export const LUT = buildLut();

function makeBitmap(width: number, height: number): Bitmap {
  if (typeof OffscreenCanvas !== 'undefined') {
    return new OffscreenCanvas(width, height);
  }
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  return c;
}

/** Renders a grid at one pixel per cell; cells without weight stay transparent. */
export function renderGrid(grid: Grid, scale: LogScale): Bitmap {
  const columns = binCount(grid.columns);
  const rows = binCount(grid.rows);
  const bitmap = makeBitmap(columns, rows);
  const ctx = bitmap.getContext('2d');
  if (!ctx) {
    throw new Error('No 2D canvas context');
  }
  const image = ctx.createImageData(columns, rows);
  const px = new Uint32Array(image.data.buffer, image.data.byteOffset, columns * rows);
  const colours = codeColours(grid, scale, LUT);
  const codes = grid.codes;
  for (let i = 0; i < codes.length; i++) {
    px[i] = colours[codes[i]];
  }
  ctx.putImageData(image, 0, 0);
  return bitmap;
}

/** Decodes a server answer and renders it on `scale` (by default the grid's own). */
export async function makeLayer(result: HeatmapResult, scale?: LogScale): Promise<Layer> {
  const grid = await decodeGrid(result);
  const chosen = scale ?? logScale(grid);
  return { grid, scale: chosen, bitmap: renderGrid(grid, chosen) };
}

/** The canvas rectangle of tokens [c0, c1) x [r0, r1) for `tokens` tokens a side. */
export function tokenRect(
  canvas: { width: number; height: number },
  tokens: number,
  view: View,
  rows: [number, number],
  columns: [number, number],
): { x: number; y: number; w: number; h: number } {
  const size = baseCellSize(tokens, canvas) * view.zoom;
  return { x: view.panX + columns[0] * size, y: view.panY + rows[0] * size, w: (columns[1] - columns[0]) * size, h: (rows[1] - rows[0]) * size };
}

/**
 * Draws `layers` (the overview first, then finer grids over it) on `canvas`, which shows a
 * matrix of `tokens` tokens a side under `view`. A finer grid replaces what is under it, zero
 * cells included.
 */
export function drawLayers(canvas: HTMLCanvasElement, tokens: number, layers: readonly Layer[], view: View, background?: string): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) {
    throw new Error('No 2D canvas context');
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (background) {
    ctx.fillStyle = background;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }
  layers.forEach((layer, i) => {
    const { rows, columns } = layer.grid;
    const r = tokenRect(canvas, tokens, view, [rows.start, rows.end], [columns.start, columns.end]);
    if (i > 0) {
      ctx.clearRect(r.x, r.y, r.w, r.h);
      if (background) {
        ctx.fillRect(r.x, r.y, r.w, r.h);
      }
    }
    // Smoothing only where several cells share a pixel; larger cells stay sharp squares.
    ctx.imageSmoothingEnabled = r.w / binCount(columns) < 1;
    ctx.drawImage(layer.bitmap, r.x, r.y, r.w, r.h);
  });
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

const cache = new WeakMap<object, { source: string; layer: Layer }>();

/** Decodes and renders (once per answer and canvas) and draws one heatmap answer on its own. */
export async function drawHeatmap(canvas: HTMLCanvasElement, result: HeatmapResult, options: { view?: View } = {}): Promise<DrawStats> {
  const t0 = now();
  let entry = cache.get(canvas);
  let renderMs = 0;
  if (entry?.source !== result.data) {
    const r0 = now();
    entry = { source: result.data, layer: await makeLayer(result) };
    renderMs = now() - r0;
    cache.set(canvas, entry);
  }
  drawLayers(canvas, entry.layer.grid.tokens, [entry.layer], options.view ?? { zoom: 1, panX: 0, panY: 0 });
  return { rows: binCount(entry.layer.grid.rows), columns: binCount(entry.layer.grid.columns), renderMs, totalMs: now() - t0 };
}
