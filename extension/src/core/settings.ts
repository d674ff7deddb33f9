/**
 * Settings resolution without 'vscode': merging the configuration scopes, applying
 * the workspace-trust rules and validating every value.
 */
import LIMITS from './limits.json';
import {
  BUILTIN_NAMES,
  DEVICES,
  DIRECTIONS,
  type Aggregate,
  type Device,
  type Direction,
  type IndexSelection,
  type KnownNames,
  type Refinement,
} from './protocol';
import { TINT_UNITS, type TintUnit } from './units';

export interface Settings {
  model: string;
  pythonPath: string;
  device: Device;
  maxTokens: number;
  refinement: Refinement;
  aggregate: Aggregate;
  layers: IndexSelection;
  heads: IndexSelection;
  direction: Direction;
  dropSink: boolean;
  topK: number;
  tintUnit: TintUnit;
  autoAnalyze: boolean;
  reanalyzeAfterEdit: boolean;
  trustRemoteCode: boolean;
  cacheDocuments: number;
  memoryBudgetMB: number;
  /** megabytes of finished analyses the server keeps on disk (0: none) */
  analysisCacheMB: number;
  /** what the tints and the gutter show: the cursor token's attention, or every token's surprisal */
  heatMode: HeatMode;
  /** Complete Here and Explain: the most tokens generated */
  'completion.maxNewTokens': number;
  /** 0: greedy */
  'completion.temperature': number;
  /** alternatives shown per generated token */
  'completion.alternatives': number;
  /** random removals the explanation runs */
  'completion.ablations': number;
}

/**
 * Bounds of the completion settings: the limits the server refuses outside of
 * (Requests.complete and Requests.explainCompletion, docs/PROTOCOL.md).
 */
export const COMPLETION_LIMITS = {
  'completion.maxNewTokens': { min: 1, max: 256, default: 48, integer: true },
  'completion.temperature': { min: 0, max: 2, default: 0, integer: false },
  'completion.alternatives': { min: 0, max: 20, default: 5, integer: true },
  'completion.ablations': { min: 8, max: 256, default: 32, integer: true },
} as const;

export const HEAT_MODES = ['attention', 'surprise'] as const;
export type HeatMode = (typeof HEAT_MODES)[number];

export type SettingKey = keyof Settings;

/**
 * Defaults. They mirror the `default` of each property in package.json, which is what
 * VS Code reports; a unit test keeps the two equal. Change a default in both places (the
 * numeric ones in limits.json, which the server is checked against too).
 */
export const DEFAULTS: Readonly<Settings> = Object.freeze({
  model: 'embedded:smollm2-135m',
  pythonPath: '',
  device: 'auto',
  maxTokens: LIMITS.maxTokens.default,
  // The most faithful view measured (bench/RESULTS.md); package.json and the server agree.
  refinement: 'norm',
  aggregate: 'lastLayers',
  layers: 'all',
  heads: 'all',
  direction: 'attendsTo',
  dropSink: true,
  topK: LIMITS.topK.default,
  tintUnit: 'token',
  autoAnalyze: false,
  reanalyzeAfterEdit: true,
  trustRemoteCode: false,
  cacheDocuments: LIMITS.cacheDocuments.default,
  memoryBudgetMB: LIMITS.memoryBudgetMB.default,
  analysisCacheMB: LIMITS.analysisCacheMB.default,
  heatMode: 'attention',
  'completion.maxNewTokens': COMPLETION_LIMITS['completion.maxNewTokens'].default,
  'completion.temperature': COMPLETION_LIMITS['completion.temperature'].default,
  'completion.alternatives': COMPLETION_LIMITS['completion.alternatives'].default,
  'completion.ablations': COMPLETION_LIMITS['completion.ablations'].default,
});

export const SETTING_KEYS = Object.keys(DEFAULTS) as SettingKey[];

/** Settings a workspace may not set unless it is trusted (package.json restrictedConfigurations). */
export const RESTRICTED_KEYS: readonly SettingKey[] = ['model', 'pythonPath', 'trustRemoteCode'];

/** Settings that the server never sees (the extension uses them itself). */
const CLIENT_ONLY_KEYS: readonly SettingKey[] = [
  'pythonPath',
  'autoAnalyze',
  'reanalyzeAfterEdit',
  'heatMode',
  'tintUnit',
  // sent with each completion request instead
  'completion.maxNewTokens',
  'completion.temperature',
  'completion.alternatives',
  'completion.ablations',
];

/** The shape of `WorkspaceConfiguration.inspect()` for one key, as plain data. */
export interface InspectedValue {
  defaultValue?: unknown;
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
  /** language-specific values are folded into the scope above them by the caller if wanted */
}

export type Inspected = Partial<Record<SettingKey, InspectedValue | undefined>>;

export interface Resolution {
  settings: Settings;
  /** one sentence per value that was ignored */
  warnings: string[];
}

/** Picks the effective raw value of one key following the scope order and the trust rule. */
export function pickValue(
  key: SettingKey,
  inspected: InspectedValue | undefined,
  trusted: boolean,
): { value: unknown; ignoredWorkspaceValue: boolean } {
  if (!inspected) {
    return { value: undefined, ignoredWorkspaceValue: false };
  }
  const restricted = !trusted && RESTRICTED_KEYS.includes(key);
  let ignored = false;
  const candidates: unknown[] = [];
  for (const scoped of [inspected.workspaceFolderValue, inspected.workspaceValue]) {
    if (scoped === undefined) {
      continue;
    }
    if (restricted) {
      ignored = true;
    } else {
      candidates.push(scoped);
    }
  }
  candidates.push(inspected.globalValue, inspected.defaultValue);
  const value = candidates.find((v) => v !== undefined);
  return { value, ignoredWorkspaceValue: ignored };
}

function isIndexList(value: unknown): value is number[] {
  return (
    Array.isArray(value) &&
    value.every((v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)
  );
}

/** Validates "all" | non-negative integer list; duplicates removed, sorted. */
export function normalizeIndexSelection(value: unknown): IndexSelection | undefined {
  if (value === 'all') {
    return 'all';
  }
  if (isIndexList(value)) {
    if (value.length === 0) {
      return 'all';
    }
    return [...new Set(value)].sort((a, b) => a - b);
  }
  return undefined;
}

function validate(key: SettingKey, value: unknown, names: KnownNames): unknown {
  switch (key) {
    case 'model':
      return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
    case 'pythonPath':
      return typeof value === 'string' ? value.trim() : undefined;
    case 'device':
      return DEVICES.includes(value as Device) ? value : undefined;
    case 'refinement':
      return typeof value === 'string' && names.refinements.includes(value) ? value : undefined;
    case 'aggregate':
      return typeof value === 'string' && names.aggregates.includes(value) ? value : undefined;
    case 'direction':
      return DIRECTIONS.includes(value as Direction) ? value : undefined;
    case 'heatMode':
      return HEAT_MODES.includes(value as HeatMode) ? value : undefined;
    case 'tintUnit':
      return TINT_UNITS.includes(value as TintUnit) ? value : undefined;
    case 'layers':
    case 'heads':
      return normalizeIndexSelection(value);
    case 'dropSink':
    case 'autoAnalyze':
    case 'reanalyzeAfterEdit':
    case 'trustRemoteCode':
      return typeof value === 'boolean' ? value : undefined;
    case 'maxTokens':
    case 'topK':
    case 'cacheDocuments':
    case 'memoryBudgetMB':
    case 'analysisCacheMB': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return undefined;
      }
      // the server's bounds (limits.json); it would clamp too, but the status bar should not lie
      const { min, max } = LIMITS[key];
      return Math.min(max, Math.max(min, Math.round(value)));
    }
    case 'completion.maxNewTokens':
    case 'completion.temperature':
    case 'completion.alternatives':
    case 'completion.ablations': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return undefined;
      }
      // clamped here: the server refuses a value outside its limits rather than clamping it
      const { min, max, integer } = COMPLETION_LIMITS[key];
      return Math.min(max, Math.max(min, integer ? Math.round(value) : value));
    }
  }
}

/**
 * Resolves all settings. In an untrusted workspace the workspace and folder values of the
 * restricted keys are ignored, and trustRemoteCode is off whatever the user set. `names`: the
 * refinements and aggregates accepted (a running server may offer more than the built-in ones).
 */
export function resolveSettings(inspected: Inspected, trusted: boolean, names: KnownNames = BUILTIN_NAMES): Resolution {
  const warnings: string[] = [];
  const out: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const { value, ignoredWorkspaceValue } = pickValue(key, inspected[key], trusted);
    if (ignoredWorkspaceValue) {
      warnings.push(`The workspace value of attenScope.${key} is ignored because the workspace is not trusted.`);
    }
    let valid = value === undefined ? undefined : validate(key, value, names);
    if (value !== undefined && valid === undefined) {
      warnings.push(`attenScope.${key} has an invalid value; using the default.`);
    }
    valid ??= DEFAULTS[key];
    out[key] = valid;
  }
  const settings = out as unknown as Settings;
  // A view the user left at its default follows the evidence for the model in use: the most
  // faithful view can differ between models. A value the user set wins.
  const recommended = names.recommendedViews?.[settings.model];
  if (recommended) {
    for (const key of ['refinement', 'aggregate'] as const) {
      const chosen = inspected[key];
      const userSet = [chosen?.globalValue, chosen?.workspaceValue, chosen?.workspaceFolderValue].some((v) => v !== undefined);
      if (!userSet && validate(key, recommended[key], names) !== undefined) {
        settings[key] = recommended[key];
      }
    }
  }
  if (!trusted && settings.trustRemoteCode) {
    settings.trustRemoteCode = false;
    warnings.push('attenScope.trustRemoteCode is off because the workspace is not trusted.');
  }
  return { settings, warnings };
}

/** View choices the user made through the pickers; they override the configuration until it changes. */
export type ViewOverrides = Partial<Pick<Settings, 'refinement' | 'aggregate' | 'layers' | 'heads' | 'direction' | 'heatMode' | 'tintUnit'>>;

export function applyOverrides(settings: Settings, overrides: ViewOverrides, names: KnownNames = BUILTIN_NAMES): Settings {
  const merged: Settings = { ...settings };
  for (const [key, value] of Object.entries(overrides) as [keyof ViewOverrides, unknown][]) {
    const valid = validate(key, value, names);
    if (valid !== undefined) {
      (merged as unknown as Record<string, unknown>)[key] = valid;
    }
  }
  return merged;
}

/** Drops the overrides whose key changed in the configuration (the user's latest word wins). */
export function pruneOverrides(overrides: ViewOverrides, changed: (key: SettingKey) => boolean): ViewOverrides {
  const kept: ViewOverrides = {};
  for (const [key, value] of Object.entries(overrides) as [keyof ViewOverrides, never][]) {
    if (!changed(key)) {
      kept[key] = value;
    }
  }
  return kept;
}

/** The object the server receives (initializationOptions.settings and didChangeConfiguration). */
export function serverSettings(settings: Settings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    if (!CLIENT_ONLY_KEYS.includes(key)) {
      out[key] = settings[key];
    }
  }
  return out;
}

/** Whether the server loads another model: its analyses are gone. */
export function modelChanged(before: Settings, after: Settings): boolean {
  return before.model !== after.model || before.device !== after.device || before.trustRemoteCode !== after.trustRemoteCode;
}

/** Keys whose change needs a new server process rather than a configuration notification. */
export function needsRestart(before: Settings, after: Settings): boolean {
  return before.pythonPath !== after.pythonPath;
}

export function sameSelection(a: IndexSelection, b: IndexSelection): boolean {
  if (a === 'all' || b === 'all') {
    return a === b;
  }
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Whether a change gives a different view, so numbers measured for the old one no longer apply. */
export function viewChanged(before: Settings, after: Settings): boolean {
  return (
    before.model !== after.model ||
    before.refinement !== after.refinement ||
    before.aggregate !== after.aggregate ||
    before.direction !== after.direction ||
    before.dropSink !== after.dropSink ||
    !sameSelection(before.layers, after.layers) ||
    !sameSelection(before.heads, after.heads)
  );
}
