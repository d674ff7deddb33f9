import { describe, expect, it } from 'vitest';
import { BUILTIN_CATALOG, catalogFrom, knownNames, limitsSkew, readCapabilities, type AttenScopeCapabilities } from '../../src/core/catalog';
import { viewEntries } from '../../src/core/choices';
import LIMITS from '../../src/core/limits.json';
import { isHeatmapMessage } from '../../src/core/messages';
import { AGGREGATES, BUILTIN_NAMES, DIRECTIONS, REFINEMENTS } from '../../src/core/protocol';
import { Requests } from '../../src/core/requests';
import { applyOverrides, DEFAULTS } from '../../src/core/settings';

/** Reads capabilities the test knows to be readable. */
function read(raw: Record<string, unknown>): AttenScopeCapabilities {
  const capabilities = readCapabilities(raw);
  if (!capabilities) {
    throw new Error('unreadable capabilities');
  }
  return capabilities;
}

/** capabilities.experimental as the server sends it, with one refinement and one aggregate the extension does not know. */
function experimental(): Record<string, unknown> {
  return {
    attenScope: {
      version: '0.1.0',
      refinements: [
        { name: 'raw', label: 'Raw', description: 'Softmax weights.', columns: true, cost: 'free' },
        { name: 'norm', label: 'Norm', description: 'Weights times value norms.', columns: true, cost: 'one pass' },
        { name: 'effective', label: 'Effective', description: 'Null space removed.', columns: false, cost: 'SVD per head' },
        { name: 'effective+norm', label: 'Effective + norm', description: 'Both.', columns: false, cost: 'SVD per head' },
        { name: 'gradient', label: 'Gradient × attention', description: 'Weights times their gradient.', columns: false, cost: 'a backward pass' },
      ],
      aggregates: [
        { name: 'headMean', label: 'Head mean', description: 'Mean.', linear: true, streamed: false, oneHead: false, cost: 'cheap' },
        { name: 'headMax', label: 'Head max', description: 'Max.', linear: false, streamed: false, oneHead: false },
        { name: 'lastLayers', label: 'Last layers', description: 'Late half.', linear: true, streamed: false, oneHead: false },
        { name: 'perHead', label: 'One head', description: 'One.', linear: true, streamed: false, oneHead: true },
        { name: 'rollout', label: 'Rollout', description: 'Through the layers.', linear: false, streamed: true, oneHead: false },
        { name: 'flow', label: 'Attention flow', description: 'Max flow.', linear: false, streamed: false, oneHead: false },
      ],
      directions: [
        { name: 'attendsTo', label: 'Attends to', description: 'Sources.' },
        { name: 'attendedBy', label: 'Attended by', description: 'Readers.' },
      ],
      views: [
        { name: 'attention', method: Requests.attention.type.method, label: 'Attention', description: 'Tints.', options: ['direction', 'refinement'], cost: 'cheap' },
        { name: 'heatmap', method: Requests.heatmap.type.method, label: 'Heatmap', description: 'Matrix.', options: ['refinement', 'bins'], heavy: true },
        { name: 'heatmapTile', method: Requests.heatmapTile.type.method, label: 'Tile', description: 'Exact.', options: ['rows'], heavy: true },
        { name: 'heads', method: Requests.heads.type.method, label: 'Heads', description: 'Grid.', options: [] },
        { name: 'removeLines', method: Requests.removeLines.type.method, label: 'Line removal', description: 'What if.', options: ['heat'], streams: 'progress' },
      ],
      limits: {
        maxTokens: { min: 16, max: 131072 },
        topK: { min: 1, max: 1000 },
        cacheDocuments: { min: 1, max: 256 },
        heatmapTokens: 1024,
        heatmapBins: 1024,
      },
      defaults: { refinement: 'norm', aggregate: 'lastLayers', direction: 'attendsTo', maxTokens: 4096, topK: 20, cacheDocuments: 8 },
      python: '>=3.10',
      recommendedViews: {
        'embedded:gemma3-270m': { refinement: 'raw', aggregate: 'headMean', rho: 0.58 },
        'broken:one': { refinement: 'raw' },
        'broken:two': 'norm',
      },
    },
  };
}

describe('the built-in catalog', () => {
  it('lists what protocol.ts knows, in the same order', () => {
    expect(BUILTIN_CATALOG.source).toBe('builtin');
    expect(BUILTIN_CATALOG.refinements.map((r) => r.name)).toEqual([...REFINEMENTS]);
    expect(BUILTIN_CATALOG.aggregates.map((a) => a.name)).toEqual([...AGGREGATES]);
    expect(BUILTIN_CATALOG.directions.map((d) => d.name)).toEqual([...DIRECTIONS]);
    expect(BUILTIN_CATALOG.heatmapTokens).toBe(LIMITS.heatmapTokens);
    expect(BUILTIN_CATALOG.heatmapBins).toBe(LIMITS.heatmapBins);
    expect(BUILTIN_CATALOG.views.map((v) => v.method)).toEqual([Requests.attention.type.method, Requests.heatmap.type.method, Requests.heatmapTile.type.method, Requests.heads.type.method]);
    expect(knownNames(BUILTIN_CATALOG)).toBe(BUILTIN_NAMES);
  });

  it('is what an older server, which does not describe itself, gets', () => {
    expect(readCapabilities(undefined)).toBeUndefined();
    expect(readCapabilities({})).toBeUndefined();
    expect(readCapabilities({ somethingElse: true })).toBeUndefined();
    expect(readCapabilities({ attenScope: 'yes' })).toBeUndefined();
    expect(catalogFrom(readCapabilities({}))).toBe(BUILTIN_CATALOG);
  });
});

describe('a server catalog', () => {
  it('reads what the server offers, new entries included', () => {
    const capabilities = readCapabilities(experimental());
    expect(capabilities?.version).toBe('0.1.0');
    const catalog = catalogFrom(capabilities);
    expect(catalog.source).toBe('server');
    expect(catalog.refinements.map((r) => r.name)).toEqual(['raw', 'norm', 'effective', 'effective+norm', 'gradient']);
    expect(catalog.aggregates.map((a) => a.name)).toEqual(['headMean', 'headMax', 'lastLayers', 'perHead', 'rollout', 'flow']);
    expect(catalog.aggregates.find((a) => a.name === 'perHead')?.oneHead).toBe(true);
    expect(catalog.aggregates.find((a) => a.name === 'rollout')?.streamed).toBe(true);
    expect(catalog.refinements[4]).toMatchObject({ label: 'Gradient × attention', cost: 'a backward pass', columns: false });
    expect(catalog.views.map((v) => v.name)).toEqual(['attention', 'heatmap', 'heatmapTile', 'heads', 'removeLines']);
    expect(catalog.views[4]).toEqual({ name: 'removeLines', method: Requests.removeLines.type.method, label: 'Line removal', description: 'What if.', options: ['heat'] });
    expect(catalog.heatmapTokens).toBe(1024);
    expect(catalog.heatmapBins).toBe(1024);
  });

  it('drops unreadable entries and keeps the built-in list where none is left', () => {
    const raw = experimental();
    const scope = raw.attenScope as Record<string, unknown>;
    scope.refinements = [{ label: 'no name' }, 'norm', { name: '' }, { name: 'raw' }, { name: 'raw', label: 'again' }];
    scope.aggregates = [{ name: 7 }];
    scope.views = [{ name: 'heatmap' }];
    delete scope.limits;
    const catalog = catalogFrom(readCapabilities(raw));
    expect(catalog.refinements).toEqual([{ name: 'raw', label: 'raw', description: '' }]);
    expect(catalog.aggregates).toBe(BUILTIN_CATALOG.aggregates);
    expect(catalog.views).toBe(BUILTIN_CATALOG.views);
    expect(catalog.heatmapTokens).toBe(LIMITS.heatmapTokens);
    expect(catalog.heatmapBins).toBe(LIMITS.heatmapBins);
  });

  it('reads the recommended view of each measured model and drops malformed entries', () => {
    const catalog = catalogFrom(readCapabilities(experimental()));
    expect(catalog.recommendedViews).toEqual({ 'embedded:gemma3-270m': { refinement: 'raw', aggregate: 'headMean', rho: 0.58 } });
    expect(knownNames(catalog).recommendedViews).toBe(catalog.recommendedViews);
    expect(BUILTIN_CATALOG.recommendedViews).toEqual({});
  });

  it('makes its names valid for settings and for the heatmap page', () => {
    const names = knownNames(catalogFrom(readCapabilities(experimental())));
    expect(applyOverrides(DEFAULTS, { refinement: 'gradient', aggregate: 'flow' }, names)).toMatchObject({ refinement: 'gradient', aggregate: 'flow' });
    expect(applyOverrides(DEFAULTS, { refinement: 'gradient' })).toMatchObject({ refinement: DEFAULTS.refinement });
    const setView = { type: 'setView', layer: 'all', head: 'all', refinement: 'gradient', aggregate: 'flow' };
    expect(isHeatmapMessage(setView, names)).toBe(true);
    expect(isHeatmapMessage(setView)).toBe(false);
  });
});

describe('the Choose Refinement entries', () => {
  it('show the server\'s labels, descriptions and costs, new entries included, and mark the current view', () => {
    const entries = viewEntries(catalogFrom(readCapabilities(experimental())), { refinement: 'norm', aggregate: 'flow' });
    expect(entries[0]).toEqual({ kind: 'separator', label: 'Refinement' });
    const gradient = entries.find((e) => e.kind === 'refinement' && e.refinement === 'gradient');
    expect(gradient).toEqual({
      kind: 'refinement',
      refinement: 'gradient',
      label: 'Gradient × attention',
      description: 'gradient',
      detail: 'Weights times their gradient. Cost: a backward pass',
      current: false,
    });
    const current = entries.filter((e) => e.kind !== 'separator' && e.current).map((e) => e.label);
    expect(current).toEqual(['Norm', 'Attention flow']);
    expect(entries.filter((e) => e.kind === 'separator').map((e) => e.label)).toEqual(['Refinement', 'Aggregation']);
    expect(entries.filter((e) => e.kind === 'aggregate')).toHaveLength(6);
  });

  it('fall back to the built-in lists before the server has said its own', () => {
    const entries = viewEntries(BUILTIN_CATALOG, { refinement: DEFAULTS.refinement, aggregate: DEFAULTS.aggregate });
    expect(entries.flatMap((e) => (e.kind === 'refinement' ? [e.refinement] : []))).toEqual([...REFINEMENTS]);
    expect(entries.flatMap((e) => (e.kind === 'aggregate' ? [e.aggregate] : []))).toEqual([...AGGREGATES]);
    expect(entries.filter((e) => e.kind !== 'separator' && e.current)).toHaveLength(2);
    for (const e of entries) {
      if (e.kind !== 'separator') {
        expect(e.detail, e.label).not.toBe('');
      }
    }
  });
});

describe('version skew', () => {
  it('is none when the server has the limits of limits.json', () => {
    expect(limitsSkew(read(experimental()))).toEqual([]);
  });

  it('names each limit, default and Python bound that differs', () => {
    const raw = experimental();
    const scope = raw.attenScope as { limits: Record<string, unknown>; defaults: Record<string, unknown>; python: string };
    scope.limits.topK = { min: 1, max: 500 };
    scope.limits.heatmapTokens = 2048;
    scope.limits.heatmapBins = 512;
    scope.defaults.maxTokens = 8192;
    scope.python = '>=3.11';
    const skew = limitsSkew(read(raw));
    expect(skew).toEqual([
      'maxTokens: the server\'s default is 8192, the extension\'s 4096.',
      'topK: the server allows 1–500, the extension 1–1000.',
      'heatmapTokens: the server draws 2048, the extension expects 1024.',
      'heatmapBins: the server draws 512, the extension expects 1024.',
      'python: the server needs >=3.11, the extension checks >=3.10.',
    ]);
    expect(catalogFrom(readCapabilities(raw)).heatmapTokens).toBe(2048);
    expect(catalogFrom(readCapabilities(raw)).heatmapBins).toBe(512);
  });
});
