/**
 * The information-flow view without 'vscode' or the DOM: where each node of a Requests.flow
 * graph is drawn, how each edge is drawn, and the texts a reader is shown.
 *
 * Layers go up the side, one band each: the embeddings at the bottom, then for every layer its
 * attention (`mid`), its MLP block (`mlp`) and the residual stream after it (`resid`), in the
 * order the model computes them. The tokens of the graph go along the bottom in document order.
 * Side labels use the 0-based layer numbers of the model and neuron views: the protocol's layer
 * l >= 1 is `L{l-1}`, its layer 0 the embeddings (`emb`).
 */
import type { Position, TokenRef } from './protocol';
import type { FlowEdge, FlowEdgeKind, FlowResult, FlowStage } from './protocolViews';
import { isIndex, tokenLabel } from './ranges';

/** What the server uses when a request leaves them out, and what the view starts with. */
export const FLOW_DEFAULTS = { threshold: 0.04, maxNodes: 200 } as const;
/** What the server accepts. */
export const FLOW_LIMITS = { threshold: { min: 0, max: 1 }, maxNodes: { min: 5, max: 300 } } as const;

export const FLOW_EDGE_KINDS: readonly FlowEdgeKind[] = ['attention', 'residual', 'mlp'];
const STAGES: readonly FlowStage[] = ['resid', 'mid', 'mlp'];

/** Sizes in CSS pixels. */
export interface FlowGeometry {
  columnWidth: number;
  /** the height of one layer: its attention, MLP and residual rows */
  bandHeight: number;
  marginLeft: number;
  marginRight: number;
  marginTop: number;
  /** room for the token labels */
  marginBottom: number;
  nodeRadius: number;
  targetRadius: number;
  minStroke: number;
  maxStroke: number;
}

export const DEFAULT_GEOMETRY: Readonly<FlowGeometry> = Object.freeze({
  columnWidth: 64,
  bandHeight: 36,
  marginLeft: 48,
  marginRight: 24,
  marginTop: 16,
  marginBottom: 96,
  nodeRadius: 4,
  targetRadius: 7,
  minStroke: 0.75,
  maxStroke: 7,
});

export interface PlacedNode {
  id: string;
  token: number;
  layer: number;
  stage: FlowStage;
  x: number;
  y: number;
  r: number;
  /** the node the routes lead to: the residual stream of the target token after the last layer */
  target: boolean;
  /** what hovering the node says: token, line, layer and stage */
  title: string;
}

export interface PlacedEdge {
  source: string;
  target: string;
  kind: FlowEdgeKind;
  weight: number;
  /** SVG path data */
  d: string;
  width: number;
  opacity: number;
  title: string;
  /** for an attention edge, the head with the largest share: the one its neuron view shows */
  topHead?: number;
}

export interface TokenColumn {
  index: number;
  x: number;
  /** short, for the axis */
  label: string;
  /** the full label with its line */
  title: string;
  target: boolean;
}

export interface LayerTick {
  layer: number;
  label: string;
  y: number;
}

export interface LegendEntry {
  kind: FlowEdgeKind;
  label: string;
}

export interface FlowLayout {
  width: number;
  height: number;
  /** the y of the token labels' baseline */
  axisY: number;
  nodes: PlacedNode[];
  /** drawn lightest first, so the strongest lie on top */
  edges: PlacedEdge[];
  columns: TokenColumn[];
  ticks: LayerTick[];
  legend: LegendEntry[];
  /** the target node's id */
  targetId: string;
  /** nodes and edges left out: a layer out of range, an unknown stage or kind, an endpoint missing */
  dropped: number;
}

export const FLOW_LEGEND: readonly LegendEntry[] = [
  { kind: 'attention', label: 'attention: from an earlier token' },
  { kind: 'residual', label: 'residual: the token keeps what it has' },
  { kind: 'mlp', label: 'MLP block' },
];

const clamp01 = (v: number): number => (Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0);

/** An edge's stroke width: the importance on a linear scale from `minStroke` to `maxStroke`. */
export function strokeWidth(weight: number, g: FlowGeometry = DEFAULT_GEOMETRY): number {
  return g.minStroke + (g.maxStroke - g.minStroke) * clamp01(weight);
}

/** Faint edges stay visible, strong ones opaque. */
export function strokeOpacity(weight: number): number {
  return 0.3 + 0.7 * clamp01(weight);
}

/** The layer a node belongs to in the model's 0-based numbering, or the embeddings. */
export function layerName(layer: number): string {
  return layer === 0 ? 'emb' : `L${layer - 1}`;
}

/** Height of a node above the embeddings, in bands: layer l's attention, MLP and residual rows lie in (l-1, l]. */
export function level(stage: FlowStage, layer: number): number {
  switch (stage) {
    case 'mid':
      return layer - 2 / 3;
    case 'mlp':
      return layer - 1 / 3;
    default:
      return layer;
  }
}

function stageText(stage: FlowStage, layer: number): string {
  if (layer === 0) {
    return 'embedding';
  }
  const name = `layer ${layer - 1}`;
  switch (stage) {
    case 'mid':
      return `${name} · after its attention`;
    case 'mlp':
      return `${name} · its MLP block`;
    default:
      return `${name} · residual stream after the layer`;
  }
}

function tokenTitle(token: TokenRef | undefined, index: number): string {
  return token ? `${tokenLabel(token, 60)} (line ${token.range.start.line + 1})` : `token #${index}`;
}

/** What hovering a node says. */
export function nodeTitle(token: TokenRef | undefined, index: number, layer: number, stage: FlowStage): string {
  return `${tokenTitle(token, index)} · ${stageText(stage, layer)}`;
}

function percent(share: number): string {
  return `${(100 * clamp01(share)).toFixed(0)}%`;
}

/** An attention edge's [head, share] pairs that are well formed, the largest share first. */
export function edgeHeads(edge: FlowEdge): [number, number][] {
  if (!Array.isArray(edge.heads)) {
    return [];
  }
  return edge.heads
    .filter((h): h is [number, number] => Array.isArray(h) && isIndex(h[0]) && typeof h[1] === 'number' && Number.isFinite(h[1]))
    .sort((a, b) => b[1] - a[1]);
}

function edgeTitle(edge: FlowEdge, from: PlacedNode, to: PlacedNode, tokens: Map<number, TokenRef>): string {
  const importance = `importance ${clamp01(edge.weight).toFixed(2)}`;
  const layer = Math.max(from.layer, to.layer);
  const name = layerName(layer);
  const show = (index: number): string => {
    const token = tokens.get(index);
    return token ? tokenLabel(token, 30) : `#${index}`;
  };
  switch (edge.kind) {
    case 'attention': {
      const heads = edgeHeads(edge);
      const shown = heads.slice(0, 6).map(([head, share]) => `H${head} ${percent(share)}`);
      const click = heads.length ? ` · click: the neuron view of ${name} H${heads[0][0]}` : '';
      return `attention in ${name}: ${show(to.token)} reads ${show(from.token)} · ${importance}${shown.length ? ` · heads ${shown.join(', ')}` : ''}${click}`;
    }
    case 'mlp':
      return `MLP block of ${name} · ${show(to.token)} · ${importance}`;
    default:
      return `residual in ${name}: ${show(to.token)} keeps its own state · ${importance}`;
  }
}

/** A straight line, or for attention a curve; attention to the token itself bows to the left of the residual line. */
function edgePath(kind: FlowEdgeKind, from: PlacedNode, to: PlacedNode, bow: number): string {
  const f = (v: number): string => v.toFixed(1);
  if (kind !== 'attention') {
    return `M${f(from.x)},${f(from.y)} L${f(to.x)},${f(to.y)}`;
  }
  const dy = from.y - to.y;
  if (Math.abs(from.x - to.x) < 0.5) {
    return `M${f(from.x)},${f(from.y)} C${f(from.x - bow)},${f(from.y - dy / 3)} ${f(to.x - bow)},${f(to.y + dy / 3)} ${f(to.x)},${f(to.y)}`;
  }
  const mid = (from.y + to.y) / 2;
  return `M${f(from.x)},${f(from.y)} C${f(from.x)},${f(mid)} ${f(to.x)},${f(mid)} ${f(to.x)},${f(to.y)}`;
}


/**
 * Lays out a flow graph. Whatever the server sent is checked: a node with a layer outside
 * 0..layers or an unknown stage, and an edge of an unknown kind or with an endpoint that is not
 * placed, are left out and counted in `dropped`.
 */
export function layoutFlow(result: FlowResult, g: FlowGeometry = DEFAULT_GEOMETRY): FlowLayout {
  const layers = isIndex(result.layers) ? result.layers : 0;
  const tokens = new Map<number, TokenRef>();
  for (const t of Array.isArray(result.tokens) ? result.tokens : []) {
    if (t && isIndex(t.index)) {
      tokens.set(t.index, t);
    }
  }
  const targetIndex = result.token && isIndex(result.token.index) ? result.token.index : -1;
  if (targetIndex >= 0 && !tokens.has(targetIndex)) {
    tokens.set(targetIndex, result.token);
  }
  const targetId = `resid:${layers}:${targetIndex}`;

  let dropped = 0;
  const valid = (Array.isArray(result.nodes) ? result.nodes : []).filter((n) => {
    const ok = n && typeof n.id === 'string' && isIndex(n.token) && isIndex(n.layer) && n.layer <= layers && STAGES.includes(n.stage) && (n.layer > 0 || n.stage === 'resid');
    if (!ok) {
      dropped++;
    }
    return ok;
  });
  const order = [...new Set(valid.map((n) => n.token))].sort((a, b) => a - b);
  const columnOf = new Map(order.map((index, col) => [index, col]));
  const base = g.marginTop + layers * g.bandHeight;
  const columnX = (col: number): number => g.marginLeft + (col + 0.5) * g.columnWidth;
  const mlpShift = g.columnWidth * 0.28;

  const byId = new Map<string, PlacedNode>();
  for (const n of valid) {
    if (byId.has(n.id)) {
      dropped++;
      continue;
    }
    const target = n.id === targetId;
    byId.set(n.id, {
      id: n.id,
      token: n.token,
      layer: n.layer,
      stage: n.stage,
      x: columnX(columnOf.get(n.token) ?? 0) + (n.stage === 'mlp' ? mlpShift : 0),
      y: base - level(n.stage, n.layer) * g.bandHeight,
      r: target ? g.targetRadius : g.nodeRadius,
      target,
      title: nodeTitle(tokens.get(n.token), n.token, n.layer, n.stage),
    });
  }

  const edges: PlacedEdge[] = [];
  for (const e of Array.isArray(result.edges) ? result.edges : []) {
    const from = e ? byId.get(e.source) : undefined;
    const to = e ? byId.get(e.target) : undefined;
    if (!from || !to || !FLOW_EDGE_KINDS.includes(e.kind)) {
      dropped++;
      continue;
    }
    const weight = clamp01(e.weight);
    const topHead = e.kind === 'attention' ? edgeHeads(e)[0]?.[0] : undefined;
    edges.push({
      source: from.id,
      target: to.id,
      kind: e.kind,
      weight,
      d: edgePath(e.kind, from, to, g.columnWidth * 0.35),
      width: strokeWidth(weight, g),
      opacity: strokeOpacity(weight),
      title: edgeTitle(e, from, to, tokens),
      ...(topHead === undefined ? {} : { topHead }),
    });
  }
  edges.sort((a, b) => a.weight - b.weight);

  const columns = order.map((index, col) => {
    const token = tokens.get(index);
    return {
      index,
      x: columnX(col),
      label: token ? tokenLabel(token, 12) : `#${index}`,
      title: tokenTitle(token, index),
      target: index === targetIndex,
    };
  });
  const ticks = Array.from({ length: layers + 1 }, (_, layer) => ({ layer, label: layerName(layer), y: base - layer * g.bandHeight }));
  return {
    width: g.marginLeft + Math.max(1, order.length) * g.columnWidth + g.marginRight,
    height: base + g.marginBottom,
    axisY: base + g.bandHeight / 2,
    nodes: [...byId.values()],
    edges,
    columns,
    ticks,
    legend: [...FLOW_LEGEND],
    targetId,
    dropped,
  };
}

/**
 * The attention edge of `result` into token `target`'s attention at flow layer `layer`, from
 * token `source`, if the graph has one and `head` is among its heads: what a click on an edge
 * asks the neuron view for (the page's message is checked against the graph it was sent).
 */
export function attentionEdge(result: FlowResult, layer: number, source: number, target: number, head: number): FlowEdge | undefined {
  if (!isIndex(layer) || layer < 1) {
    return undefined;
  }
  const from = `resid:${layer - 1}:${source}`;
  const to = `mid:${layer}:${target}`;
  return (Array.isArray(result.edges) ? result.edges : []).find(
    (e) => e.kind === 'attention' && e.source === from && e.target === to && edgeHeads(e).some(([h]) => h === head),
  );
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/** The status line under the controls once the graph is drawn. */
export function flowCaption(result: FlowResult, layout: FlowLayout): string {
  const parts = [
    `${layout.nodes.length} nodes, ${layout.edges.length} edges`,
    `threshold ${result.threshold}`,
    `at most ${result.maxNodes} nodes`,
  ];
  if (Number.isFinite(result.elapsedMs)) {
    parts.push(seconds(result.elapsedMs));
  }
  if (isIndex(result.recomputedTokens) && result.recomputedTokens > 0) {
    parts.push(`${result.recomputedTokens} tokens run through the model`);
  }
  if (result.truncated) {
    parts.push(`truncated at ${result.maxNodes} nodes: raise "max nodes" or the threshold to see the whole route`);
  }
  if (layout.dropped > 0) {
    parts.push(`${layout.dropped} malformed nodes or edges left out`);
  }
  if (layout.nodes.length <= 1) {
    parts.push('no contribution above the threshold: lower it');
  }
  return parts.join(' · ');
}

/** A threshold the server accepts. */
export function validThreshold(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= FLOW_LIMITS.threshold.min && value <= FLOW_LIMITS.threshold.max;
}

/** A node budget the server accepts. */
export function validMaxNodes(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= FLOW_LIMITS.maxNodes.min && value <= FLOW_LIMITS.maxNodes.max;
}

/**
 * The arguments of the Show Information Flow command: a document and a position, as a hover link
 * passes them (`[uri, {line, character}]`, JSON) or as code passes them (a Uri and a Position);
 * `'cursor'` (the cursor's token) for none or no position (the palette, the editor's context
 * menu, which passes the document alone). Undefined when they are not understood.
 */
export function readFlowArgs(args: readonly unknown[]): { uri: string; position: Position } | 'cursor' | undefined {
  const [uri, position] = args;
  if (position === undefined) {
    return 'cursor';
  }
  let text: string | undefined;
  if (typeof uri === 'string') {
    text = uri;
  } else if (typeof uri === 'object' && uri !== null && typeof (uri as { scheme?: unknown }).scheme === 'string') {
    text = (uri as { toString(): string }).toString();
  }
  if (!text || !/^[a-z][a-z0-9+.-]*:/i.test(text) || typeof position !== 'object' || position === null) {
    return undefined;
  }
  const { line, character } = position as Record<string, unknown>;
  if (!isIndex(line) || !isIndex(character)) {
    return undefined;
  }
  return { uri: text, position: { line, character } };
}
