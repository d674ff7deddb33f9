/** The information-flow webview: the graph as SVG, its legend, and the controls that trace it again. */
import { DEFAULT_GEOMETRY, validMaxNodes, validThreshold, type FlowLayout, type PlacedEdge, type PlacedNode } from '../core/flow';
import type { FlowDataMessage } from '../core/viewMessages';
import { listen, showCaption } from './statusLine';
import { byId, host } from './vscodeApi';

const vscode = host();
const SVG_NS = 'http://www.w3.org/2000/svg';
const statusText = byId<HTMLSpanElement>('status');
const form = byId<HTMLFormElement>('options');
const thresholdInput = byId<HTMLInputElement>('threshold');
const maxNodesInput = byId<HTMLInputElement>('max-nodes');
const legend = byId<HTMLDivElement>('legend');
const tooltip = byId<HTMLDivElement>('tooltip');
const svg = document.getElementById('flow') as unknown as SVGSVGElement;

function svgEl<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, className?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attrs)) {
    el.setAttribute(key, String(value));
  }
  if (className) {
    el.setAttribute('class', className);
  }
  return el;
}

/** Edges by the nodes they touch, to light a node's edges while it is hovered or focused. */
let edgesOf = new Map<string, SVGPathElement[]>();
let lit: SVGPathElement[] = [];

function light(id: string | undefined): void {
  for (const path of lit) {
    path.classList.remove('lit');
  }
  lit = id ? (edgesOf.get(id) ?? []) : [];
  for (const path of lit) {
    path.classList.add('lit');
  }
  svg.classList.toggle('focusing', lit.length > 0);
}

function showTip(text: string, x: number, y: number): void {
  tooltip.textContent = text;
  tooltip.hidden = false;
  const { width, height } = tooltip.getBoundingClientRect();
  tooltip.style.left = `${Math.max(4, Math.min(x + 12, window.innerWidth - width - 4))}px`;
  tooltip.style.top = `${Math.max(4, y + 16 + height > window.innerHeight ? y - height - 8 : y + 16)}px`;
}

function hideTip(): void {
  tooltip.hidden = true;
}

function drawLegend(layout: FlowLayout): void {
  const items = layout.legend.map((entry) => {
    const item = document.createElement('span');
    item.className = 'legend-item';
    const swatch = svgEl('svg', { width: 28, height: 10, 'aria-hidden': 'true' });
    swatch.append(svgEl('line', { x1: 2, y1: 5, x2: 26, y2: 5, 'stroke-width': 3 }, `edge ${entry.kind}`));
    item.append(swatch, document.createTextNode(entry.label));
    return item;
  });
  const width = document.createElement('span');
  width.className = 'legend-note';
  width.textContent = 'width: importance · hover a node for its token, layer and stage; click it (or Enter) to show the token; click an attention edge for its head';
  legend.replaceChildren(...items, width);
}

function edgeElement(edge: PlacedEdge): SVGPathElement {
  const path = svgEl(
    'path',
    {
      d: edge.d,
      'stroke-width': edge.width.toFixed(2),
      'stroke-opacity': edge.opacity.toFixed(2),
      'data-source': edge.source,
      'data-target': edge.target,
      'data-kind': edge.kind,
      'data-weight': edge.weight.toFixed(3),
      ...(edge.topHead === undefined ? {} : { 'data-head': edge.topHead }),
    },
    `edge ${edge.kind}`,
  );
  path.dataset.title = edge.title;
  return path;
}

function nodeElement(node: PlacedNode): SVGCircleElement {
  const circle = svgEl(
    'circle',
    { cx: node.x.toFixed(1), cy: node.y.toFixed(1), r: node.r, tabindex: 0, role: 'button', 'aria-label': node.title, 'data-id': node.id, 'data-token': node.token },
    `node ${node.stage}${node.target ? ' target' : ''}`,
  );
  circle.dataset.title = node.title;
  return circle;
}

function draw(message: FlowDataMessage): void {
  const { layout } = message;
  hideTip();
  edgesOf = new Map();
  lit = [];
  svg.classList.remove('focusing');
  svg.setAttribute('width', String(layout.width));
  svg.setAttribute('height', String(layout.height));
  svg.setAttribute('viewBox', `0 0 ${layout.width} ${layout.height}`);
  svg.dataset.target = layout.targetId;
  svg.dataset.nodes = String(layout.nodes.length);
  svg.dataset.edges = String(layout.edges.length);

  const ticks = svgEl('g', {}, 'ticks');
  // The layer labels stay at the left edge while a wide graph scrolls sideways (see keepAxisInView).
  const axis = svgEl('g', {}, 'layer-axis');
  axis.append(svgEl('rect', { x: 0, y: 0, width: DEFAULT_GEOMETRY.marginLeft - 4, height: layout.axisY }, 'axis-backdrop'));
  for (const tick of layout.ticks) {
    ticks.append(
      svgEl('line', { x1: DEFAULT_GEOMETRY.marginLeft - 4, x2: layout.width - DEFAULT_GEOMETRY.marginRight / 2, y1: tick.y, y2: tick.y }, 'band'),
    );
    const label = svgEl('text', { x: DEFAULT_GEOMETRY.marginLeft - 8, y: tick.y, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, 'layer-label');
    label.textContent = tick.label;
    axis.append(label);
  }

  const edges = svgEl('g', {}, 'edges');
  for (const edge of layout.edges) {
    const path = edgeElement(edge);
    for (const id of [edge.source, edge.target]) {
      const list = edgesOf.get(id) ?? [];
      list.push(path);
      edgesOf.set(id, list);
    }
    edges.append(path);
  }

  const nodes = svgEl('g', {}, 'nodes');
  nodes.append(...layout.nodes.map(nodeElement));

  const columns = svgEl('g', {}, 'tokens');
  for (const column of layout.columns) {
    const label = svgEl(
      'text',
      { transform: `translate(${column.x.toFixed(1)} ${layout.axisY.toFixed(1)}) rotate(-40)`, 'text-anchor': 'end', tabindex: 0, role: 'button', 'aria-label': column.title, 'data-index': column.index },
      `token-label${column.target ? ' target' : ''}`,
    );
    label.textContent = column.label;
    label.dataset.title = column.title;
    columns.append(label);
  }
  svg.replaceChildren(ticks, edges, nodes, columns, axis);
  // A graph wider than the panel opens on its target's column, where the routes lead (the rightmost).
  const target = layout.columns.find((column) => column.target);
  if (target && layout.width > scroller.clientWidth) {
    scroller.scrollLeft = Math.max(0, target.x + TARGET_MARGIN - scroller.clientWidth);
  }
  keepAxisInView();
  drawLegend(layout);

  if (validThreshold(message.threshold)) {
    thresholdInput.value = String(message.threshold);
  }
  if (validMaxNodes(message.maxNodes)) {
    maxNodesInput.value = String(message.maxNodes);
  }
  showCaption(statusText, `${message.title} · routes to ${message.token.label} (line ${message.token.line + 1}) · ${message.caption}`);
  document.body.dataset.ready = 'true';
}

const scroller = byId<HTMLDivElement>('scroller');
const TARGET_MARGIN = 60; // px of graph kept to the right of the target's column when scrolled to it

/** Moves the layer axis by the sideways scroll, so the layers stay named on a graph wider than the panel. */
function keepAxisInView(): void {
  svg.querySelector('.layer-axis')?.setAttribute('transform', `translate(${scroller.scrollLeft} 0)`);
}

scroller.addEventListener('scroll', keepAxisInView, { passive: true });

/** The node, edge or token label under an event, if any. */
function itemOf(target: EventTarget | null): SVGElement | undefined {
  return target instanceof Element ? (target.closest<SVGElement>('.node, .edge, .token-label') ?? undefined) : undefined;
}

function tokenOf(el: SVGElement): number | undefined {
  const value = Number(el.classList.contains('node') ? el.dataset.token : el.dataset.index);
  return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** `stage:layer:token` */
function parseId(id: string | undefined): { layer: number; token: number } | undefined {
  const match = /^[a-z]+:(\d+):(\d+)$/.exec(id ?? '');
  return match ? { layer: Number(match[1]), token: Number(match[2]) } : undefined;
}

/** A node or a token label shows its token; an attention edge opens its strongest head's neuron view. */
function activate(el: SVGElement): void {
  if (el.classList.contains('edge')) {
    const from = parseId(el.dataset.source);
    const to = parseId(el.dataset.target);
    const head = Number(el.dataset.head);
    if (el.dataset.kind === 'attention' && from && to && Number.isSafeInteger(head)) {
      vscode.postMessage({ type: 'openHead', layer: to.layer, head, source: from.token, target: to.token });
    }
    return;
  }
  const index = tokenOf(el);
  if (index !== undefined) {
    vscode.postMessage({ type: 'revealToken', index });
  }
}

/** The mouse or the keyboard is on `el`: its tooltip at (x, y), and a node's edges lit. */
function pointAt(el: SVGElement, title: string, x: number, y: number): void {
  showTip(title, x, y);
  light(el.classList.contains('node') ? el.dataset.id : undefined);
}

function pointNowhere(): void {
  hideTip();
  light(undefined);
}

svg.addEventListener('mousemove', (e) => {
  const el = itemOf(e.target);
  if (!el?.dataset.title) {
    pointNowhere();
    return;
  }
  pointAt(el, el.dataset.title, e.clientX, e.clientY);
});
svg.addEventListener('mouseleave', pointNowhere);
svg.addEventListener('click', (e) => {
  const el = itemOf(e.target);
  if (el) {
    activate(el);
  }
});
svg.addEventListener('focusin', (e) => {
  const el = itemOf(e.target);
  if (el?.dataset.title) {
    const box = el.getBoundingClientRect();
    pointAt(el, el.dataset.title, box.right, box.bottom);
  }
});
svg.addEventListener('focusout', pointNowhere);
svg.addEventListener('keydown', (e) => {
  const el = itemOf(e.target);
  if (el && (e.key === 'Enter' || e.key === ' ')) {
    e.preventDefault();
    activate(el);
  }
});

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const threshold = Number(thresholdInput.value);
  const maxNodes = Number(maxNodesInput.value);
  if (!validThreshold(threshold) || !validMaxNodes(maxNodes)) {
    form.reportValidity();
    return;
  }
  vscode.postMessage({ type: 'setOptions', threshold, maxNodes });
});

listen<FlowDataMessage>(
  statusText,
  (m) => typeof m.layout === 'object' && m.layout !== null && Array.isArray((m.layout as FlowLayout).nodes) && Array.isArray((m.layout as FlowLayout).edges),
  draw,
);
