import { describe, expect, it } from 'vitest';
import {
  attentionEdge,
  DEFAULT_GEOMETRY,
  edgeHeads,
  FLOW_EDGE_KINDS,
  flowCaption,
  layerName,
  layoutFlow,
  nodeTitle,
  readFlowArgs,
  strokeOpacity,
  strokeWidth,
  validMaxNodes,
  validThreshold,
} from '../../src/core/flow';
import { isFlowMessage } from '../../src/core/messages';
import type { TokenRef } from '../../src/core/protocol';
import type { FlowEdge, FlowEdgeKind, FlowNode, FlowResult, FlowStage } from '../../src/core/protocolViews';

const token = (index: number, text = `t${index}`, line = index): TokenRef => ({
  index,
  text,
  // as the server labels it: a leading space as a middle dot
  label: text.replace(/^ /, '·'),
  range: { start: { line, character: 0 }, end: { line, character: text.length } },
});

const node = (stage: FlowStage, layer: number, t: number): FlowNode => ({ id: `${stage}:${layer}:${t}`, token: t, layer, stage });
const edge = (source: FlowNode, target: FlowNode, kind: FlowEdgeKind, weight: number, heads: [number, number][] = []): FlowEdge => ({
  source: source.id,
  target: target.id,
  kind,
  weight,
  heads,
});

/**
 * A two-layer model, the route to token 7: at layer 2 token 7 reads token 3 and itself, and its
 * MLP block writes; at layer 1 token 3 reads token 1. Tokens listed out of document order.
 */
function graph(overrides: Partial<FlowResult> = {}): FlowResult {
  const top = node('resid', 2, 7);
  const mid2 = node('mid', 2, 7);
  const mlp2 = node('mlp', 2, 7);
  const r17 = node('resid', 1, 7);
  const r13 = node('resid', 1, 3);
  const mid1 = node('mid', 1, 3);
  const r03 = node('resid', 0, 3);
  const r01 = node('resid', 0, 1);
  return {
    version: 4,
    token: token(7, ' total'),
    layers: 2,
    threshold: 0.04,
    maxNodes: 60,
    nodes: [top, mid2, mlp2, r17, r13, mid1, r03, r01],
    edges: [
      edge(mid2, top, 'residual', 0.7),
      edge(mid2, mlp2, 'mlp', 0.3),
      edge(mlp2, top, 'mlp', 0.3),
      edge(r17, mid2, 'residual', 0.5),
      edge(r17, mid2, 'attention', 0.1, [[4, 0.8]]),
      edge(r13, mid2, 'attention', 0.4, [
        [3, 0.6],
        [0, 0.25],
      ]),
      edge(mid1, r13, 'residual', 0.9),
      edge(r03, mid1, 'residual', 0.6),
      edge(r01, mid1, 'attention', 0.35),
    ],
    tokens: [token(7, ' total'), token(1, 'def'), token(3, '<b>')],
    truncated: false,
    recomputedTokens: 12,
    elapsedMs: 1834,
    ...overrides,
  };
}

describe('the information-flow layout', () => {
  it('puts the tokens along the bottom in document order', () => {
    const layout = layoutFlow(graph());
    expect(layout.columns.map((c) => c.index)).toEqual([1, 3, 7]);
    const xs = layout.columns.map((c) => c.x);
    expect(xs[0]).toBeLessThan(xs[1]);
    expect(xs[1]).toBeLessThan(xs[2]);
    expect(layout.columns.map((c) => c.label)).toEqual(['def', '<b>', '·total']);
    expect(layout.columns.find((c) => c.target)?.index).toBe(7);
    // every node stands in its token's column (an MLP block a little to the right of it)
    for (const n of layout.nodes) {
      const column = layout.columns.find((c) => c.index === n.token);
      expect(column, n.id).toBeDefined();
      expect(n.x - (column?.x ?? NaN), n.id).toBeCloseTo(n.stage === 'mlp' ? DEFAULT_GEOMETRY.columnWidth * 0.28 : 0, 9);
    }
    expect(layout.axisY).toBeGreaterThan(Math.max(...layout.nodes.map((n) => n.y)));
  });

  it('places later layers higher, and within a layer attention, then MLP, then the residual stream', () => {
    const layout = layoutFlow(graph());
    const y = new Map(layout.nodes.map((n) => [n.id, n.y]));
    // SVG y grows downwards: higher up is smaller
    const byLayer = [0, 1, 2].map((l) => layout.nodes.filter((n) => n.layer === l).map((n) => n.y));
    expect(Math.max(...byLayer[1])).toBeLessThan(Math.min(...byLayer[0]));
    expect(Math.max(...byLayer[2])).toBeLessThan(Math.min(...byLayer[1]));
    expect(y.get('mlp:2:7')).toBeLessThan(y.get('mid:2:7') ?? NaN);
    expect(y.get('resid:2:7')).toBeLessThan(y.get('mlp:2:7') ?? NaN);
    // the same stage of the same layer lines up across tokens
    expect(y.get('resid:0:1')).toBe(y.get('resid:0:3'));
    // the side ticks sit on the residual rows, bottom to top, in the model view's numbering
    expect(layout.ticks.map((t) => t.label)).toEqual(['emb', 'L0', 'L1']);
    expect(layout.ticks.map((t) => t.y)).toEqual([y.get('resid:0:1'), y.get('resid:1:7'), y.get('resid:2:7')]);
    expect(layout.height).toBeGreaterThan(layout.axisY);
    expect(layout.width).toBeGreaterThan(Math.max(...layout.nodes.map((n) => n.x)));
  });

  it('places both endpoints of every edge and draws it between them', () => {
    const result = graph();
    const layout = layoutFlow(result);
    expect(layout.edges).toHaveLength(result.edges.length);
    expect(layout.dropped).toBe(0);
    const placed = new Map(layout.nodes.map((n) => [n.id, n]));
    for (const e of layout.edges) {
      const from = placed.get(e.source);
      const to = placed.get(e.target);
      expect(from && to, `${e.source} -> ${e.target}`).toBeTruthy();
      const numbers = e.d.match(/-?\d+(\.\d+)?/g)?.map(Number) ?? [];
      expect(numbers.slice(0, 2)).toEqual([Number(from?.x.toFixed(1)), Number(from?.y.toFixed(1))]);
      expect(numbers.slice(-2)).toEqual([Number(to?.x.toFixed(1)), Number(to?.y.toFixed(1))]);
    }
    // attention to the token itself bows away from the residual line it shares its ends with
    const self = layout.edges.find((e) => e.kind === 'attention' && e.source === 'resid:1:7');
    const residual = layout.edges.find((e) => e.kind === 'residual' && e.source === 'resid:1:7');
    expect(self?.d).toContain('C');
    expect(residual?.d).not.toContain('C');
  });

  it('marks the target node', () => {
    const layout = layoutFlow(graph());
    expect(layout.targetId).toBe('resid:2:7');
    const targets = layout.nodes.filter((n) => n.target);
    expect(targets.map((n) => n.id)).toEqual(['resid:2:7']);
    expect(targets[0].r).toBeGreaterThan(layout.nodes.find((n) => !n.target)?.r ?? Infinity);
  });

  it('draws stronger edges wider and more opaque, the strongest last', () => {
    const weights = [0, 0.04, 0.1, 0.35, 0.5, 0.99, 1];
    const widths = weights.map((w) => strokeWidth(w));
    const opacities = weights.map((w) => strokeOpacity(w));
    for (let i = 1; i < weights.length; i++) {
      expect(widths[i]).toBeGreaterThan(widths[i - 1]);
      expect(opacities[i]).toBeGreaterThan(opacities[i - 1]);
    }
    expect(strokeWidth(0)).toBe(DEFAULT_GEOMETRY.minStroke);
    expect(strokeWidth(1)).toBe(DEFAULT_GEOMETRY.maxStroke);
    expect(strokeWidth(7)).toBe(DEFAULT_GEOMETRY.maxStroke);
    expect(strokeWidth(Number.NaN)).toBe(DEFAULT_GEOMETRY.minStroke);
    const layout = layoutFlow(graph());
    const drawn = layout.edges.map((e) => e.weight);
    expect(drawn).toEqual([...drawn].sort((a, b) => a - b));
    for (const e of layout.edges) {
      expect(e.width).toBe(strokeWidth(e.weight));
    }
  });

  it('tells attention, residual and MLP edges apart, with a legend entry for each', () => {
    const layout = layoutFlow(graph());
    expect(new Set(layout.edges.map((e) => e.kind))).toEqual(new Set(FLOW_EDGE_KINDS));
    expect(layout.legend.map((l) => l.kind)).toEqual([...FLOW_EDGE_KINDS]);
    const attention = layout.edges.find((e) => e.source === 'resid:1:3' && e.kind === 'attention');
    expect(attention?.title).toBe('attention in L1: ·total reads <b> · importance 0.40 · heads H3 60%, H0 25% · click: the neuron view of L1 H3');
    expect(attention?.topHead).toBe(3);
    expect(layout.edges.filter((e) => e.kind !== 'attention').every((e) => e.topHead === undefined)).toBe(true);
    const mlp = layout.edges.find((e) => e.kind === 'mlp' && e.target === 'mlp:2:7');
    expect(mlp?.title).toBe('MLP block of L1 · ·total · importance 0.30');
  });

  it('says on hover which token, line, layer and stage a node is', () => {
    const layout = layoutFlow(graph());
    const title = (id: string) => layout.nodes.find((n) => n.id === id)?.title;
    expect(title('resid:0:1')).toBe('def (line 2) · embedding');
    expect(title('mid:1:3')).toBe('<b> (line 4) · layer 0 · after its attention');
    expect(title('mlp:2:7')).toBe('·total (line 8) · layer 1 · its MLP block');
    expect(title('resid:2:7')).toBe('·total (line 8) · layer 1 · residual stream after the layer');
    expect(nodeTitle(undefined, 9, 1, 'mid')).toBe('token #9 · layer 0 · after its attention');
    expect(layerName(0)).toBe('emb');
    expect(layerName(12)).toBe('L11');
  });

  it('leaves out malformed nodes and edges and counts them', () => {
    const result = graph();
    const nodes: unknown[] = [
      ...result.nodes,
      { id: 'resid:9:7', token: 7, layer: 9, stage: 'resid' }, // above the last layer
      { id: 'mid:0:7', token: 7, layer: 0, stage: 'mid' }, // the embeddings have no attention
      { id: 'x:1:7', token: 7, layer: 1, stage: 'x' },
      { id: 'resid:1:-1', token: -1, layer: 1, stage: 'resid' },
      null,
    ];
    const edges: unknown[] = [
      ...result.edges,
      { source: 'resid:9:7', target: 'resid:2:7', kind: 'residual', weight: 0.5, heads: [] },
      { source: 'resid:1:7', target: 'mid:2:7', kind: 'gradient', weight: 0.5, heads: [] },
    ];
    const layout = layoutFlow({ ...result, nodes: nodes as FlowNode[], edges: edges as FlowEdge[] });
    expect(layout.nodes).toHaveLength(result.nodes.length);
    expect(layout.edges).toHaveLength(result.edges.length);
    expect(layout.dropped).toBe(7);
    expect(flowCaption(result, layout)).toContain('7 malformed nodes or edges left out');
  });

  it('draws an empty graph and a graph of one node', () => {
    const empty = layoutFlow(graph({ nodes: [], edges: [], tokens: [] }));
    expect(empty.nodes).toEqual([]);
    expect(empty.edges).toEqual([]);
    expect(empty.columns).toEqual([]);
    expect(empty.width).toBeGreaterThan(0);
    expect(empty.ticks).toHaveLength(3);
    expect(flowCaption(graph({ nodes: [], edges: [] }), empty)).toContain('no contribution above the threshold');

    const one = layoutFlow(graph({ nodes: [node('resid', 2, 7)], edges: [], tokens: [token(7, ' total')] }));
    expect(one.nodes).toHaveLength(1);
    expect(one.nodes[0]).toMatchObject({ id: 'resid:2:7', target: true });
    expect(one.columns.map((c) => c.index)).toEqual([7]);
    expect(one.nodes[0].x).toBe(one.columns[0].x);
    expect(one.nodes[0].y).toBe(one.ticks[2].y);
  });

  it('names a token missing from the list by its index', () => {
    const layout = layoutFlow(graph({ tokens: [] }));
    // the target token comes with the answer itself
    expect(layout.columns.map((c) => c.label)).toEqual(['#1', '#3', '·total']);
  });
});

describe('the heads of an attention edge', () => {
  it('lists the well-formed heads, the largest share first', () => {
    const e = graph().edges[0];
    const heads = [[1, 0.1], [4, 0.7], [-1, 0.9], [2.5, 0.9], [6, Number.NaN], 'x', [5, 0.2]] as unknown as [number, number][];
    expect(edgeHeads({ ...e, heads })).toEqual([
      [4, 0.7],
      [5, 0.2],
      [1, 0.1],
    ]);
    expect(edgeHeads({ ...e, heads: undefined as unknown as [number, number][] })).toEqual([]);
  });

  it('finds the edge a click on the page names, only with one of its heads', () => {
    const result = graph();
    // layer 2: token 7 reads token 3 with heads 3 and 0
    expect(attentionEdge(result, 2, 3, 7, 3)?.weight).toBe(0.4);
    expect(attentionEdge(result, 2, 3, 7, 0)?.weight).toBe(0.4);
    expect(attentionEdge(result, 2, 3, 7, 5)).toBeUndefined();
    expect(attentionEdge(result, 1, 3, 7, 3)).toBeUndefined();
    expect(attentionEdge(result, 2, 7, 3, 3)).toBeUndefined();
    expect(attentionEdge(result, 0, 3, 7, 3)).toBeUndefined();
    // a residual edge is no attention edge
    expect(attentionEdge({ ...result, edges: result.edges.map((e) => ({ ...e, kind: 'residual' as const })) }, 2, 3, 7, 3)).toBeUndefined();
  });
});

describe('the information-flow status line', () => {
  it('gives the size, the settings, the time and what was cut', () => {
    const result = graph();
    const layout = layoutFlow(result);
    expect(flowCaption(result, layout)).toBe('8 nodes, 9 edges · threshold 0.04 · at most 60 nodes · 1.8 s · 12 tokens run through the model');
    const cut = graph({ truncated: true, maxNodes: 8, recomputedTokens: 0, elapsedMs: 420 });
    expect(flowCaption(cut, layoutFlow(cut))).toBe(
      '8 nodes, 9 edges · threshold 0.04 · at most 8 nodes · 420 ms · truncated at 8 nodes: raise "max nodes" or the threshold to see the whole route',
    );
  });
});

describe('the information-flow controls and command arguments', () => {
  it('accepts the thresholds and node budgets the server accepts', () => {
    expect([0, 0.04, 1].every(validThreshold)).toBe(true);
    expect([-0.1, 1.5, Number.NaN, '0.1', undefined].some(validThreshold)).toBe(false);
    expect([5, 60, 300].every(validMaxNodes)).toBe(true);
    expect([4, 301, 6.5, '60', Infinity].some(validMaxNodes)).toBe(false);
  });

  it('reads a hover link arguments, a Uri and a Position, or none (the cursor)', () => {
    expect(readFlowArgs([])).toBe('cursor');
    expect(readFlowArgs([undefined, undefined])).toBe('cursor');
    expect(readFlowArgs(['file:///a/b.py', { line: 3, character: 5 }])).toEqual({ uri: 'file:///a/b.py', position: { line: 3, character: 5 } });
    const uri = { scheme: 'untitled', toString: () => 'untitled:Untitled-1' };
    expect(readFlowArgs([uri, { line: 0, character: 0 }])).toEqual({ uri: 'untitled:Untitled-1', position: { line: 0, character: 0 } });
    expect(readFlowArgs(['b.py', { line: 3, character: 5 }])).toBeUndefined();
    expect(readFlowArgs(['file:///a.py', { line: -1, character: 5 }])).toBeUndefined();
    expect(readFlowArgs(['file:///a.py', { line: 1.5, character: 5 }])).toBeUndefined();
    // the editor's context menu passes the document alone: the cursor's token
    expect(readFlowArgs([uri])).toBe('cursor');
    expect(readFlowArgs(['file:///a.py', null])).toBeUndefined();
    expect(readFlowArgs([42, { line: 1, character: 1 }])).toBeUndefined();
  });
});

describe('messages from the information-flow page', () => {
  it('accepts ready, a token to reveal and options the server accepts', () => {
    expect(isFlowMessage({ type: 'ready' })).toBe(true);
    expect(isFlowMessage({ type: 'revealToken', index: 7 })).toBe(true);
    expect(isFlowMessage({ type: 'setOptions', threshold: 0.1, maxNodes: 120 })).toBe(true);
    expect(isFlowMessage({ type: 'openHead', layer: 2, head: 3, source: 3, target: 7 })).toBe(true);
  });

  it('refuses anything else', () => {
    for (const m of [
      { type: 'revealToken', index: -1 },
      { type: 'revealToken', index: 7, uri: 'file:///etc/passwd' },
      { type: 'setOptions', threshold: 2, maxNodes: 60 },
      { type: 'setOptions', threshold: 0.1, maxNodes: 4 },
      { type: 'setOptions', threshold: 0.1 },
      { type: 'selectHead', layer: 1, head: 1 },
      { type: 'openHead', layer: 0, head: 3, source: 3, target: 7 },
      { type: 'openHead', layer: 2, head: 3, source: 3 },
      { type: 'openHead', layer: 2, head: 1.5, source: 3, target: 7 },
      { type: '__proto__' },
      'ready',
      null,
    ]) {
      expect(isFlowMessage(m), JSON.stringify(m)).toBe(false);
    }
  });
});
