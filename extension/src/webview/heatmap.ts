/**
 * The heatmap webview: the overview of the whole file, finer grids of what is on screen as the
 * user zooms in (exact tiles once they are small enough), line-number axes, a legend of the log
 * colour scale, a tooltip with both tokens and the weight, click to reveal.
 */
import { binCount, cellAtToken, cellTooltip, legendTicks, lineTicks, ordinal, spacedOut, type Grid, type LogScale } from '../core/heatmapGrid';
import { baseCellSize, cellAt, clampView, zoomAt, type View } from '../core/triangle';
import type { HeatmapAxis } from '../core/protocolViews';
import type { HeatmapDataMessage, HeatmapDetailMessage, HeatmapView } from '../core/viewMessages';
import { drawLayers, LUT, makeLayer, type Layer } from './heatmapDraw';
import { listen, showCaption } from './statusLine';
import { byId, host } from './vscodeApi';

// this page's own elements: alike in shape to the other pages' lookups, not in what they find
const vscode = host();
const canvas = byId<HTMLCanvasElement>('heatmap');
const tooltip = byId<HTMLDivElement>('tooltip');
const statusText = byId<HTMLSpanElement>('status');
const layerSelect = byId<HTMLSelectElement>('layer');
const headSelect = byId<HTMLSelectElement>('head');
const refinementSelect = byId<HTMLSelectElement>('refinement');
const aggregateSelect = byId<HTMLSelectElement>('aggregate');
const resetButton = byId<HTMLButtonElement>('reset');
const container = byId<HTMLDivElement>('canvas-container');
const leftAxis = byId<HTMLDivElement>('left-axis');
const topAxis = byId<HTMLDivElement>('top-axis');
const legendBar = byId<HTMLCanvasElement>('legend-bar');
const legendTicksBox = byId<HTMLDivElement>('legend-ticks');
const legendCaption = byId<HTMLDivElement>('legend-caption');

/** Finer grids are asked for this long after the last zoom or pan. */
const ZOOM_SETTLE_MS = 250;
/** A grid whose cells are at most this many canvas pixels needs nothing finer. */
const FINE_ENOUGH_PX = 2;

let payload: HeatmapDataMessage | undefined;
let overview: Layer | undefined;
let detail: Layer | undefined;
let asked: { rows: [number, number]; columns: [number, number]; bins: number } | undefined;
let view: View = { zoom: 1, panX: 0, panY: 0 };
let frame = 0;
let settle = 0;

function dpr(): number {
  return window.devicePixelRatio || 1;
}

function viewport(): { width: number; height: number } {
  return { width: canvas.width, height: canvas.height };
}

function tokens(): number {
  return overview?.grid.tokens ?? 0;
}

/** Canvas pixels per token. */
function cellSize(): number {
  return baseCellSize(tokens(), viewport()) * view.zoom;
}

function redraw(): void {
  if (frame) {
    return;
  }
  frame = requestAnimationFrame(() => {
    frame = 0;
    if (!overview) {
      return;
    }
    const t0 = performance.now();
    drawLayers(canvas, tokens(), detail ? [overview, detail] : [overview], view);
    drawAxes();
    canvas.dataset.redrawMs = (performance.now() - t0).toFixed(1);
  });
}

/** Tokens [from, to) of the rows (vertical) or columns on screen. */
function visible(vertical: boolean): [number, number] {
  const size = cellSize();
  const pan = vertical ? view.panY : view.panX;
  const extent = vertical ? canvas.height : canvas.width;
  const n = tokens();
  return [Math.max(0, Math.floor(-pan / size)), Math.min(n, Math.ceil((extent - pan) / size))];
}

/** The finest axis that covers [from, to): the zoomed-in grid's, else the overview's. */
function axisFor(vertical: boolean, from: number, to: number): HeatmapAxis | undefined {
  for (const layer of [detail, overview]) {
    const axis = layer && (vertical ? layer.grid.rows : layer.grid.columns);
    if (axis && axis.start <= from && to <= axis.end) {
      return axis;
    }
  }
  return overview && (vertical ? overview.grid.rows : overview.grid.columns);
}

function label(text: string, at: number, vertical: boolean, className = 'tick'): HTMLDivElement {
  const el = document.createElement('div');
  el.className = className;
  el.textContent = text;
  el.style[vertical ? 'top' : 'left'] = `${at}px`;
  return el;
}

/** The largest line number of a list of ticks (labels are as wide as it). */
function widestLine(ticks: readonly { line: number }[]): number {
  return ticks.reduce((most, t) => Math.max(most, t.line), 0);
}

/** Line numbers along both axes, and the focus token's mark. */
function drawAxes(): void {
  const size = cellSize();
  for (const vertical of [true, false]) {
    const box = vertical ? leftAxis : topAxis;
    const [from, to] = visible(vertical);
    const axis = axisFor(vertical, from, to);
    const pan = vertical ? view.panY : view.panX;
    const extentCss = (vertical ? canvas.height : canvas.width) / dpr();
    const children: HTMLElement[] = [];
    if (axis && to > from) {
      const ticks = lineTicks(axis, from, to, Math.max(2, Math.floor(extentCss / (vertical ? 36 : 64))));
      const placed = ticks.map((tick) => ({ ...tick, at: (pan + tick.token * size) / dpr() }));
      for (const tick of spacedOut(placed, vertical ? 16 : 8 * String(widestLine(ticks)).length + 12)) {
        children.push(label(String(tick.line), tick.at, vertical));
      }
    }
    const focus = payload?.focus;
    if (focus !== undefined && focus >= from && focus < to) {
      const mark = label(vertical ? '▶' : '▼', (pan + (focus + 0.5) * size) / dpr(), vertical, 'focus');
      mark.title = 'the token at the cursor';
      children.push(mark);
    }
    box.replaceChildren(...children);
  }
}

function drawLegend(scale: LogScale, grid: Grid): void {
  const ctx = legendBar.getContext('2d');
  if (ctx) {
    const image = ctx.createImageData(LUT.length, 1);
    new Uint32Array(image.data.buffer).set(LUT);
    ctx.putImageData(image, 0, 0);
  }
  legendTicksBox.replaceChildren(
    ...legendTicks(scale).map((tick) => {
      const el = document.createElement('span');
      el.textContent = tick.label;
      el.style.left = `${(tick.position * 100).toFixed(2)}%`;
      return el;
    }),
  );
  const pooled = binCount(grid.rows) < grid.tokens;
  const parts = [
    `Colour: log scale of the weight, from the ${ordinal(Math.round(scale.percentile * 100))} percentile of the cells (lower weights take the darkest colour) to the largest; no colour: no weight.`,
    pooled
      ? `Each cell shows the strongest token pair among the ${Math.round(grid.tokens / binCount(grid.rows))} × ${Math.round(grid.tokens / binCount(grid.columns))} it covers` +
        (grid.rowsRead < grid.rowsTotal ? `, over ${grid.rowsRead.toLocaleString('en-US')} of the ${grid.rowsTotal.toLocaleString('en-US')} rows (evenly spread; a skipped row can hide a strong pair). Zoom in for exact weights.` : '. Zoom in for exact weights.')
      : 'Each cell is one token pair (exact).',
  ];
  legendCaption.textContent = parts.join(' ');
  legendCaption.dataset.overview = legendCaption.textContent;
}

/** The legend's last sentence: what the zoomed-in grid on screen is. */
function describeDetail(grid: Grid | undefined): void {
  const overview = legendCaption.dataset.overview ?? '';
  if (!grid) {
    legendCaption.textContent = overview;
    return;
  }
  const first = grid.rows.first[0];
  const last = (grid.rows.last ?? grid.rows.first)[binCount(grid.rows) - 1];
  const rows = `lines ${first.range.start.line + 1}–${last.range.start.line + 1}`;
  const what = grid.exact
    ? 'exact weights, one cell per token pair'
    : `the strongest pair of each ${Math.round((grid.rows.end - grid.rows.start) / binCount(grid.rows))}-token block${grid.rowsRead < grid.rowsTotal ? `, over ${grid.rowsRead.toLocaleString('en-US')} of ${grid.rowsTotal.toLocaleString('en-US')} rows` : ''}`;
  legendCaption.textContent = `${overview} Zoomed in (rows of ${rows}): ${what}.`;
}

/** Asks for a finer grid of what is on screen, unless the grids at hand are fine enough. */
function askForDetail(): void {
  if (!overview || !payload) {
    return;
  }
  const [c0, c1] = visible(false);
  const [r0, r1] = visible(true);
  // Only the lower triangle holds weights: rows from c0 on, columns up to r1.
  const rows: [number, number] = [Math.max(r0, c0), r1];
  const columns: [number, number] = [c0, Math.min(c1, r1)];
  if (rows[0] >= rows[1] || columns[0] >= columns[1]) {
    return;
  }
  const size = cellSize();
  const fineEnough = (grid: Grid) =>
    grid.exact || ((grid.rows.end - grid.rows.start) / binCount(grid.rows)) * size <= FINE_ENOUGH_PX;
  const covers = (grid: Grid) =>
    grid.rows.start <= rows[0] && rows[1] <= grid.rows.end && grid.columns.start <= columns[0] && columns[1] <= grid.columns.end;
  if (fineEnough(overview.grid) || (detail && covers(detail.grid) && fineEnough(detail.grid))) {
    return;
  }
  const bins = Math.min(1024, Math.ceil(Math.max(rows[1] - rows[0], columns[1] - columns[0]) * size));
  const want = { rows, columns, bins };
  if (asked && JSON.stringify(asked) === JSON.stringify(want)) {
    return;
  }
  asked = want;
  vscode.postMessage({ type: 'zoom', ...want });
}

function changed(): void {
  redraw();
  clearTimeout(settle);
  settle = window.setTimeout(askForDetail, ZOOM_SETTLE_MS);
}

function resize(): void {
  const rect = container.getBoundingClientRect();
  const w = Math.max(50, Math.floor(rect.width * dpr()));
  const h = Math.max(50, Math.floor(rect.height * dpr()));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
    if (overview) {
      view = clampView(view, tokens(), viewport());
    }
    changed();
  }
}

function fillSelect(select: HTMLSelectElement, values: (string | number)[], current: string | number, text: (v: string | number) => string): void {
  select.replaceChildren(
    ...values.map((v) => {
      const option = document.createElement('option');
      option.value = String(v);
      option.textContent = text(v);
      option.selected = String(v) === String(current);
      return option;
    }),
  );
}

function range(count: number): number[] {
  return Array.from({ length: Math.max(0, Math.min(count, 4096)) }, (_, i) => i);
}

function showControls(p: HeatmapDataMessage): void {
  fillSelect(layerSelect, ['all', ...range(p.layers)], p.view.layer, (v) => (v === 'all' ? 'all layers' : `layer ${v}`));
  fillSelect(headSelect, ['all', ...range(p.heads)], p.view.head, (v) => (v === 'all' ? 'all heads' : `head ${v}`));
  const labels = new Map([...p.refinements, ...p.aggregates].map((c) => [c.name, c.label]));
  const text = (v: string | number) => labels.get(String(v)) ?? String(v);
  fillSelect(refinementSelect, p.refinements.map((c) => c.name), p.view.refinement, text);
  fillSelect(aggregateSelect, p.aggregates.map((c) => c.name), p.view.aggregate, text);
}

function currentView(): HeatmapView | undefined {
  const parseIndex = (v: string): number | 'all' => (v === 'all' ? 'all' : Number(v));
  const refinement = payload?.refinements.find((c) => c.name === refinementSelect.value)?.name;
  const aggregate = payload?.aggregates.find((c) => c.name === aggregateSelect.value)?.name;
  if (!refinement || !aggregate) {
    return undefined;
  }
  return { layer: parseIndex(layerSelect.value), head: parseIndex(headSelect.value), refinement, aggregate };
}

for (const select of [layerSelect, headSelect, refinementSelect, aggregateSelect]) {
  select.addEventListener('change', () => {
    const v = currentView();
    if (v) {
      vscode.postMessage({ type: 'setView', ...v });
    }
  });
}

resetButton.addEventListener('click', () => {
  view = { zoom: 1, panX: 0, panY: 0 };
  changed();
});

function canvasPoint(e: MouseEvent): { x: number; y: number } {
  const rect = canvas.getBoundingClientRect();
  return { x: (e.clientX - rect.left) * (canvas.width / rect.width), y: (e.clientY - rect.top) * (canvas.height / rect.height) };
}

/** The token pair under a canvas point, the finest grid that holds it, and its cell there. */
function cellUnder(x: number, y: number) {
  const pair = overview && cellAt(x, y, tokens(), view, viewport());
  if (!pair) {
    return undefined;
  }
  for (const layer of [detail, overview]) {
    const cell = layer && cellAtToken(layer.grid, pair.row, pair.col);
    if (layer && cell) {
      return { grid: layer.grid, ...cell };
    }
  }
  return undefined;
}

canvas.addEventListener(
  'wheel',
  (e) => {
    if (!overview) {
      return;
    }
    e.preventDefault();
    const { x, y } = canvasPoint(e);
    view = zoomAt(view, Math.exp(-e.deltaY * 0.0015), x, y, tokens(), viewport());
    changed();
  },
  { passive: false },
);

let drag: { x: number; y: number; panX: number; panY: number; moved: boolean } | undefined;

canvas.addEventListener('mousedown', (e) => {
  if (e.button !== 0) {
    return;
  }
  const { x, y } = canvasPoint(e);
  drag = { x, y, panX: view.panX, panY: view.panY, moved: false };
});

window.addEventListener('mouseup', (e) => {
  const d = drag;
  drag = undefined;
  canvas.classList.remove('dragging');
  if (!d || d.moved || e.target !== canvas) {
    return;
  }
  const { x, y } = canvasPoint(e);
  const cell = cellUnder(x, y);
  if (cell) {
    // the first token of the row's and of the column's bin: the pair itself once cells are tokens
    const row = cell.grid.rows.first[cell.rowBin].index;
    const col = Math.min(row, cell.grid.columns.first[cell.colBin].index);
    vscode.postMessage({ type: 'reveal', row, col });
  }
});

canvas.addEventListener('mousemove', (e) => {
  const { x, y } = canvasPoint(e);
  if (drag && overview) {
    const dx = x - drag.x;
    const dy = y - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) > 4 * dpr()) {
      drag.moved = true;
      canvas.classList.add('dragging');
    }
    if (drag.moved) {
      view = clampView({ zoom: view.zoom, panX: drag.panX + dx, panY: drag.panY + dy }, tokens(), viewport());
      changed();
      tooltip.hidden = true;
      return;
    }
  }
  showTooltip(e, x, y);
});

canvas.addEventListener('mouseleave', () => {
  tooltip.hidden = true;
});

function showTooltip(e: MouseEvent, x: number, y: number): void {
  const cell = cellUnder(x, y);
  if (!cell) {
    tooltip.hidden = true;
    return;
  }
  const text = cellTooltip(cell.grid, cell.rowBin, cell.colBin, cell.weight);
  const lines = (
    [
      ['tip-row', text.row],
      ['tip-arrow', text.weight],
      ['tip-col', text.col],
    ] as const
  ).map(([className, content]) => {
    const div = document.createElement('div');
    div.className = className;
    div.textContent = content;
    return div;
  });
  tooltip.replaceChildren(...lines);
  tooltip.hidden = false;
  const pad = 14;
  const maxX = window.innerWidth - tooltip.offsetWidth - 4;
  const maxY = window.innerHeight - tooltip.offsetHeight - 4;
  tooltip.style.left = `${Math.max(0, Math.min(maxX, e.clientX + pad))}px`;
  tooltip.style.top = `${Math.max(0, Math.min(maxY, e.clientY + pad))}px`;
}

function isGrid(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const g = value as Record<string, unknown>;
  return typeof g.tokens === 'number' && typeof g.data === 'string' && typeof g.rows === 'object' && typeof g.columns === 'object';
}

// Finer grids arrive as 'detail' messages; `listen` passes on only 'data', so they have their own listener.
window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const m = event.data as Partial<HeatmapDetailMessage> | null;
  if (!overview || m?.type !== 'detail' || !m.grid || !isGrid(m.grid)) {
    return;
  }
  void showDetail(m.grid, overview);
});

async function showDetail(result: HeatmapDetailMessage['grid'], base: Layer): Promise<void> {
  try {
    const layer = await makeLayer(result, base.scale);
    if (overview === base && layer.grid.tokens === tokens()) {
      detail = layer;
      canvas.dataset.detail = layer.grid.exact ? 'exact' : 'pooled';
      describeDetail(layer.grid);
      redraw();
    }
  } catch (error) {
    statusText.textContent = `Cannot draw the zoomed-in heatmap: ${error instanceof Error ? error.message : String(error)}`;
  }
}

new ResizeObserver(() => resize()).observe(container);
resize();
listen<HeatmapDataMessage>(
  statusText,
  (m) => isGrid(m.grid) && Array.isArray(m.refinements) && Array.isArray(m.aggregates),
  (message) => void showOverview(message),
);

async function showOverview(message: HeatmapDataMessage): Promise<void> {
  payload = message;
  detail = undefined;
  asked = undefined;
  view = { zoom: 1, panX: 0, panY: 0 };
  showControls(message);
  resize();
  try {
    // first draw of an answer: decode, colour scale, bitmap and draw (what a user waits for)
    const t0 = performance.now();
    const layer = await makeLayer(message.grid);
    if (payload !== message) {
      return; // a newer answer arrived while this one was decoded
    }
    overview = layer;
    drawLayers(canvas, tokens(), [overview], view);
    drawAxes();
    drawLegend(overview.scale, overview.grid);
    canvas.dataset.drawMs = (performance.now() - t0).toFixed(1);
    canvas.dataset.n = String(tokens());
    canvas.dataset.bins = String(binCount(overview.grid.rows));
    canvas.dataset.ready = 'true';
    const grid = overview.grid;
    const shown = binCount(grid.rows) < grid.tokens ? `${binCount(grid.rows)} × ${binCount(grid.columns)} cells (max-pooled)` : 'one cell a token pair';
    const note = message.note ? ` · ${message.note}` : '';
    showCaption(statusText, `${message.title} · ${grid.tokens.toLocaleString('en-US')} tokens, ${shown}${note} · scroll to zoom, drag to pan, click a cell to reveal`);
  } catch (error) {
    statusText.textContent = `Cannot draw the heatmap: ${error instanceof Error ? error.message : String(error)}`;
  }
}
