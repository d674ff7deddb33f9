/**
 * What the server offers: the refinements, aggregates, directions and views it announces in its
 * initialize result (capabilities.experimental.attenScope), with the built-in lists as the
 * fallback before it has started or when an older server does not say. No 'vscode' import.
 */
import LIMITS from './limits.json';
import { BUILTIN_MODELS, type EmbeddedModel } from './models';
import { BUILTIN_NAMES, type KnownNames, type RecommendedView } from './protocol';
import { Requests } from './requests';

/** One entry of a list the user chooses from. */
export interface Choice {
  name: string;
  label: string;
  description: string;
  /** what it costs to compute, in the server's words */
  cost?: string;
}

export interface RefinementInfo extends Choice {
  /** whether attendedBy columns can be computed for it */
  columns?: boolean;
}

export interface AggregateInfo extends Choice {
  linear?: boolean;
  streamed?: boolean;
  /** needs a single layer and head selected */
  oneHead?: boolean;
}

export interface ViewInfo extends Choice {
  method: string;
  options: string[];
}

export interface Bounds {
  min: number;
  max: number;
}

export interface ServerLimits {
  maxTokens?: Bounds;
  topK?: Bounds;
  cacheDocuments?: Bounds;
  heatmapTokens?: number;
  heatmapBins?: number;
}

/** capabilities.experimental.attenScope, as far as it could be read. */
export interface AttenScopeCapabilities {
  version?: string;
  refinements?: RefinementInfo[];
  aggregates?: AggregateInfo[];
  directions?: Choice[];
  views?: ViewInfo[];
  limits: ServerLimits;
  defaults: Record<string, unknown>;
  python?: string;
  models?: EmbeddedModel[];
  recommendedViews?: Record<string, RecommendedView>;
}

export interface Catalog {
  /** 'server': the running server's lists; 'builtin': none said yet, or an older server */
  source: 'server' | 'builtin';
  refinements: readonly RefinementInfo[];
  aggregates: readonly AggregateInfo[];
  directions: readonly Choice[];
  views: readonly ViewInfo[];
  /** tokens a side of an exact heatmap tile at most */
  heatmapTokens: number;
  /** bins a side of a pooled heatmap at most */
  heatmapBins: number;
  /** the embedded models, and whether the server's environment has them */
  models: readonly EmbeddedModel[];
  /** per measured model, the most faithful view (the default where the user chose none) */
  recommendedViews: Readonly<Record<string, RecommendedView>>;
}

/** The lists this extension was built with; package.json's enums carry the same names. */
export const BUILTIN_CATALOG: Catalog = Object.freeze({
  source: 'builtin',
  refinements: [
    { name: 'raw', label: 'Raw', description: 'Softmax weights as the model computes them; dominated by sink tokens.', columns: true },
    {
      name: 'norm',
      label: 'Norm-weighted',
      description: 'Kobayashi et al. 2020: weight × ‖value·W_O‖, how much each source moves the output.',
      columns: true,
    },
    { name: 'effective', label: 'Effective', description: 'Brunner et al. 2020: the part of the weights that changes the head output.' },
    { name: 'effective+norm', label: 'Effective × norm', description: 'Effective attention weighted by value norms, clipped and renormalised.' },
  ],
  aggregates: [
    { name: 'headMean', label: 'Mean of heads', description: 'Average over the selected heads and layers.', linear: true },
    { name: 'headMax', label: 'Max over heads', description: 'The strongest head per source token, averaged over layers.' },
    {
      name: 'lastLayers',
      label: 'Last half of layers',
      description: 'Head mean over the last half of the selected layers: late layers track the model’s output best.',
      linear: true,
    },
    { name: 'rollout', label: 'Attention rollout', description: 'Abnar & Zuidema 2020: attention multiplied through the layers with the residual.', streamed: true },
    {
      name: 'learned',
      label: 'Learned head weights',
      description: 'Each layer and head weighted by a coefficient fitted to the effects of removing code (AT2), where the model ships them.',
      linear: true,
    },
    { name: 'perHead', label: 'One head', description: 'A single head: choose one layer and head with Choose Layers/Heads.', oneHead: true },
  ],
  directions: [
    { name: 'attendsTo', label: 'Attends to', description: 'What the token under the cursor draws on (earlier tokens).' },
    { name: 'attendedBy', label: 'Attended by', description: 'Which later tokens draw on the token under the cursor.' },
  ],
  views: [
    { name: 'attention', method: Requests.attention.type.method, label: 'Attention', description: 'Tints for the cursor token.', options: [] },
    { name: 'heatmap', method: Requests.heatmap.type.method, label: 'Heatmap', description: 'Token by token matrix, max-pooled.', options: [] },
    { name: 'heatmapTile', method: Requests.heatmapTile.type.method, label: 'Heatmap tile', description: 'Exact weights of a zoomed-in range.', options: [] },
    { name: 'heads', method: Requests.heads.type.method, label: 'Model view', description: 'Per layer and head, for the cursor token.', options: [] },
  ],
  heatmapTokens: LIMITS.heatmapTokens,
  heatmapBins: LIMITS.heatmapBins,
  models: BUILTIN_MODELS,
  recommendedViews: {},
});

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function optionalBoolean(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

function readChoice(value: unknown): Choice | undefined {
  if (!isRecord(value) || typeof value.name !== 'string' || value.name === '') {
    return undefined;
  }
  const cost = optionalString(value.cost);
  return {
    name: value.name,
    label: optionalString(value.label) || value.name,
    description: optionalString(value.description) ?? '',
    ...(cost ? { cost } : {}),
  };
}

/** The readable entries of a list; undefined when there are none (the built-in list stands in). */
function readList<T extends Choice>(value: unknown, extra: (raw: Record<string, unknown>, choice: Choice) => T | undefined): T[] | undefined {
  if (!Array.isArray(value)) {
    return undefined;
  }
  const out: T[] = [];
  const seen = new Set<string>();
  for (const raw of value) {
    const choice = readChoice(raw);
    const entry = choice && isRecord(raw) ? extra(raw, choice) : undefined;
    if (entry && !seen.has(entry.name)) {
      seen.add(entry.name);
      out.push(entry);
    }
  }
  return out.length > 0 ? out : undefined;
}

function readBounds(value: unknown): Bounds | undefined {
  if (!isRecord(value) || typeof value.min !== 'number' || typeof value.max !== 'number') {
    return undefined;
  }
  return { min: value.min, max: value.max };
}

function readLimits(value: unknown): ServerLimits {
  if (!isRecord(value)) {
    return {};
  }
  const limits: ServerLimits = {};
  for (const key of ['maxTokens', 'topK', 'cacheDocuments'] as const) {
    const bounds = readBounds(value[key]);
    if (bounds) {
      limits[key] = bounds;
    }
  }
  for (const key of ['heatmapTokens', 'heatmapBins'] as const) {
    const count = value[key];
    if (typeof count === 'number' && Number.isSafeInteger(count) && count > 0) {
      limits[key] = count;
    }
  }
  return limits;
}

/**
 * Reads `capabilities.experimental` of the initialize result. Undefined when the server does not
 * describe itself (an older one); unreadable entries are dropped rather than trusted.
 */
export function readCapabilities(experimental: unknown): AttenScopeCapabilities | undefined {
  const raw = isRecord(experimental) ? experimental.attenScope : undefined;
  if (!isRecord(raw)) {
    return undefined;
  }
  return {
    version: optionalString(raw.version),
    refinements: readList<RefinementInfo>(raw.refinements, (r, c) => ({ ...c, columns: optionalBoolean(r.columns) })),
    aggregates: readList<AggregateInfo>(raw.aggregates, (r, c) => ({
      ...c,
      linear: optionalBoolean(r.linear),
      streamed: optionalBoolean(r.streamed),
      oneHead: optionalBoolean(r.oneHead),
    })),
    directions: readList(raw.directions, (_r, c) => c),
    views: readList<ViewInfo>(raw.views, (r, c) =>
      typeof r.method === 'string'
        ? { ...c, method: r.method, options: Array.isArray(r.options) ? r.options.filter((o): o is string => typeof o === 'string') : [] }
        : undefined,
    ),
    limits: readLimits(raw.limits),
    defaults: isRecord(raw.defaults) ? raw.defaults : {},
    python: optionalString(raw.python),
    models: readModels(raw.models),
    recommendedViews: readRecommendedViews(raw.recommendedViews),
  };
}

function readRecommendedViews(value: unknown): Record<string, RecommendedView> | undefined {
  if (!isRecord(value)) {
    return undefined;
  }
  const out: Record<string, RecommendedView> = {};
  for (const [model, raw] of Object.entries(value)) {
    if (isRecord(raw) && typeof raw.refinement === 'string' && typeof raw.aggregate === 'string' && typeof raw.rho === 'number') {
      out[model] = { refinement: raw.refinement, aggregate: raw.aggregate, rho: raw.rho };
    }
  }
  return out;
}

function readModels(value: unknown): EmbeddedModel[] | undefined {
  if (!Array.isArray(value)) {
    return undefined;
  }
  const out: EmbeddedModel[] = [];
  for (const raw of value) {
    if (isRecord(raw) && typeof raw.id === 'string' && raw.id !== '') {
      const install = optionalString(raw.install);
      out.push({
        id: raw.id,
        label: optionalString(raw.label) || raw.id,
        installed: raw.installed !== false,
        ...(install ? { install } : {}),
      });
    }
  }
  return out.length > 0 ? out : undefined;
}

/** The lists to show: the server's where it gave one, the built-in ones elsewhere. */
export function catalogFrom(capabilities: AttenScopeCapabilities | undefined): Catalog {
  if (!capabilities) {
    return BUILTIN_CATALOG;
  }
  return {
    source: 'server',
    refinements: capabilities.refinements ?? BUILTIN_CATALOG.refinements,
    aggregates: capabilities.aggregates ?? BUILTIN_CATALOG.aggregates,
    directions: capabilities.directions ?? BUILTIN_CATALOG.directions,
    views: capabilities.views ?? BUILTIN_CATALOG.views,
    heatmapTokens: capabilities.limits.heatmapTokens ?? BUILTIN_CATALOG.heatmapTokens,
    heatmapBins: capabilities.limits.heatmapBins ?? BUILTIN_CATALOG.heatmapBins,
    models: capabilities.models ?? BUILTIN_CATALOG.models,
    recommendedViews: capabilities.recommendedViews ?? BUILTIN_CATALOG.recommendedViews,
  };
}

/** The names settings and webview messages are checked against. */
export function knownNames(catalog: Catalog): KnownNames {
  if (catalog.source === 'builtin') {
    return BUILTIN_NAMES;
  }
  return {
    refinements: catalog.refinements.map((r) => r.name),
    aggregates: catalog.aggregates.map((a) => a.name),
    recommendedViews: catalog.recommendedViews,
  };
}

/**
 * Where the server's limits, numeric defaults and Python bound differ from limits.json, one
 * sentence each: a server and an extension of different releases (version skew).
 */
export function limitsSkew(capabilities: AttenScopeCapabilities): string[] {
  const out: string[] = [];
  for (const key of ['maxTokens', 'topK', 'cacheDocuments'] as const) {
    const ours = LIMITS[key];
    const theirs = capabilities.limits[key];
    if (theirs && (theirs.min !== ours.min || theirs.max !== ours.max)) {
      out.push(`${key}: the server allows ${theirs.min}–${theirs.max}, the extension ${ours.min}–${ours.max}.`);
    }
    const theirDefault = capabilities.defaults[key];
    if (typeof theirDefault === 'number' && theirDefault !== ours.default) {
      out.push(`${key}: the server's default is ${theirDefault}, the extension's ${ours.default}.`);
    }
  }
  for (const key of ['heatmapTokens', 'heatmapBins'] as const) {
    const theirs = capabilities.limits[key];
    if (theirs !== undefined && theirs !== LIMITS[key]) {
      out.push(`${key}: the server draws ${theirs}, the extension expects ${LIMITS[key]}.`);
    }
  }
  if (capabilities.python !== undefined && capabilities.python !== LIMITS.python) {
    out.push(`python: the server needs ${capabilities.python}, the extension checks ${LIMITS.python}.`);
  }
  return out;
}
