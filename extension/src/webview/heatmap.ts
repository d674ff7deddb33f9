/** The heatmap webview: canvas, zoom and pan, tooltip, click to reveal. */
import { tokenLabel } from '../core/ranges';
import { formatWeight } from '../core/buckets';
import { cellAt, cellWeight, clampView, zoomAt, type View } from '../core/triangle';
import type { HeatmapDataMessage, HeatmapView } from '../core/viewMessages';
import { drawHeatmap, drawnTriangle } from './heatmapDraw';
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

let payload: HeatmapDataMessage | undefined;
let view: View = { zoom: 1, panX: 0, panY: 0 };
let frame = 0;

function dpr(): number {
  return window.devicePixelRatio || 1;
}

function viewport(): { width: number; height: number } {
  return { width: canvas.width, height: canvas.height };
}

function redraw(): void {
  if (frame) {
    return;
  }
  frame = requestAnimationFrame(() => {
    frame = 0;
    if (!payload) {
      return;
    }
    const stats = drawHeatmap(canvas, payload, { view });
    canvas.dataset.redrawMs = stats.totalMs.toFixed(1);
  });
}

function resize(): void {
  const rect = container.getBoundingClientRect();
  const w = Math.max(50, Math.floor(rect.width * dpr()));
  const h = Math.max(50, Math.floor(rect.height * dpr()));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
    if (payload) {
      view = clampView(view, payload.n, viewport());
    }
    redraw();
  }
}

function fillSelect(select: HTMLSelectElement, values: (string | number)[], current: string | number, label: (v: string | number) => string): void {
  select.replaceChildren(
    ...values.map((v) => {
      const option = document.createElement('option');
      option.value = String(v);
      option.textContent = label(v);
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
  const label = (v: string | number) => labels.get(String(v)) ?? String(v);
  fillSelect(refinementSelect, p.refinements.map((c) => c.name), p.view.refinement, label);
  fillSelect(aggregateSelect, p.aggregates.map((c) => c.name), p.view.aggregate, label);
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
  redraw();
});

function canvasPoint(e: MouseEvent): { x: number; y: number } {
  const rect = canvas.getBoundingClientRect();
  return { x: (e.clientX - rect.left) * (canvas.width / rect.width), y: (e.clientY - rect.top) * (canvas.height / rect.height) };
}

canvas.addEventListener(
  'wheel',
  (e) => {
    if (!payload) {
      return;
    }
    e.preventDefault();
    const { x, y } = canvasPoint(e);
    view = zoomAt(view, Math.exp(-e.deltaY * 0.0015), x, y, payload.n, viewport());
    redraw();
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
  if (!d || d.moved || !payload || e.target !== canvas) {
    return;
  }
  const { x, y } = canvasPoint(e);
  const cell = cellAt(x, y, payload.n, view, viewport());
  if (cell) {
    vscode.postMessage({ type: 'reveal', row: payload.offset + cell.row, col: payload.offset + cell.col });
  }
});

canvas.addEventListener('mousemove', (e) => {
  const { x, y } = canvasPoint(e);
  if (drag && payload) {
    const dx = x - drag.x;
    const dy = y - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) > 4 * dpr()) {
      drag.moved = true;
      canvas.classList.add('dragging');
    }
    if (drag.moved) {
      view = clampView({ zoom: view.zoom, panX: drag.panX + dx, panY: drag.panY + dy }, payload.n, viewport());
      redraw();
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
  const tri = drawnTriangle(canvas);
  if (!payload || !tri) {
    tooltip.hidden = true;
    return;
  }
  const cell = cellAt(x, y, payload.n, view, viewport());
  if (!cell) {
    tooltip.hidden = true;
    return;
  }
  const rowText = payload.tokens[cell.row] ?? '';
  const colText = payload.tokens[cell.col] ?? '';
  const weight = cellWeight(tri, cell.row, cell.col);
  const row = document.createElement('div');
  row.className = 'tip-row';
  row.textContent = `#${payload.offset + cell.row} ${tokenLabel(rowText)}`;
  const arrow = document.createElement('div');
  arrow.className = 'tip-arrow';
  arrow.textContent = `attends to (${formatWeight(weight)})`;
  const col = document.createElement('div');
  col.className = 'tip-col';
  col.textContent = `#${payload.offset + cell.col} ${tokenLabel(colText)}`;
  tooltip.replaceChildren(row, arrow, col);
  tooltip.hidden = false;
  const pad = 14;
  const maxX = window.innerWidth - tooltip.offsetWidth - 4;
  const maxY = window.innerHeight - tooltip.offsetHeight - 4;
  tooltip.style.left = `${Math.max(0, Math.min(maxX, e.clientX + pad))}px`;
  tooltip.style.top = `${Math.max(0, Math.min(maxY, e.clientY + pad))}px`;
}

new ResizeObserver(() => resize()).observe(container);
resize();
listen<HeatmapDataMessage>(
  statusText,
  (m) => typeof m.n === 'number' && typeof m.data === 'string' && Array.isArray(m.tokens) && Array.isArray(m.refinements) && Array.isArray(m.aggregates),
  (message) => {
    payload = message;
    view = { zoom: 1, panX: 0, panY: 0 };
    showControls(message);
    canvas.dataset.n = String(message.n);
    canvas.dataset.offset = String(message.offset);
    const note = message.note ? ` · ${message.note}` : '';
    showCaption(statusText, `${message.title} · ${message.n} tokens${note} · scroll to zoom, drag to pan, click a cell to reveal`);
    resize();
    try {
      // first draw of a payload: decode + render + draw (what a user waits for)
      const stats = drawHeatmap(canvas, message, { view });
      canvas.dataset.drawMs = stats.totalMs.toFixed(1);
      canvas.dataset.renderMs = stats.renderMs.toFixed(1);
      canvas.dataset.ready = 'true';
    } catch (error) {
      statusText.textContent = `Cannot draw the heatmap: ${error instanceof Error ? error.message : String(error)}`;
    }
  },
);
