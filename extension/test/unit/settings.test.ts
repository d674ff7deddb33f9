import { describe, expect, it } from 'vitest';
import LIMITS from '../../src/core/limits.json';
import {
  applyOverrides,
  DEFAULTS,
  needsRestart,
  normalizeIndexSelection,
  pickValue,
  pruneOverrides,
  resolveSettings,
  sameSelection,
  serverSettings,
  viewChanged,
  type Inspected,
} from '../../src/core/settings';
import { BUILTIN_NAMES } from '../../src/core/protocol';

const defaults = (): Inspected =>
  Object.fromEntries(Object.entries(DEFAULTS).map(([k, v]) => [k, { defaultValue: v }]));

describe('pickValue', () => {
  it('prefers folder, then workspace, then user, then default', () => {
    expect(pickValue('device', { defaultValue: 'auto', globalValue: 'cpu', workspaceValue: 'cuda', workspaceFolderValue: 'mps' }, true).value).toBe('mps');
    expect(pickValue('device', { defaultValue: 'auto', globalValue: 'cpu', workspaceValue: 'cuda' }, true).value).toBe('cuda');
    expect(pickValue('device', { defaultValue: 'auto', globalValue: 'cpu' }, true).value).toBe('cpu');
    expect(pickValue('device', { defaultValue: 'auto' }, true).value).toBe('auto');
    expect(pickValue('device', undefined, true).value).toBeUndefined();
  });

  it('ignores workspace values of restricted keys when untrusted', () => {
    const r = pickValue('pythonPath', { defaultValue: '', globalValue: '/usr/bin/python3', workspaceValue: './evil/python' }, false);
    expect(r.value).toBe('/usr/bin/python3');
    expect(r.ignoredWorkspaceValue).toBe(true);
  });

  it('keeps workspace values of other keys when untrusted', () => {
    const r = pickValue('refinement', { defaultValue: DEFAULTS.refinement, workspaceValue: 'raw' }, false);
    expect(r.value).toBe('raw');
    expect(r.ignoredWorkspaceValue).toBe(false);
  });
});

describe('resolveSettings', () => {
  it('returns the defaults when nothing is set', () => {
    const { settings, warnings } = resolveSettings(defaults(), true);
    expect(settings).toEqual(DEFAULTS);
    expect(warnings).toEqual([]);
  });

  it('the default view is the most faithful one measured: norm, lastLayers, attendsTo', () => {
    expect(DEFAULTS.refinement).toBe('norm');
    expect(DEFAULTS.aggregate).toBe('lastLayers');
    expect(DEFAULTS.direction).toBe('attendsTo');
  });

  it('uses only user values of model, pythonPath and trustRemoteCode in an untrusted workspace', () => {
    const inspected = defaults();
    inspected.model = { defaultValue: DEFAULTS.model, globalValue: 'Qwen/Qwen2.5-Coder-1.5B', workspaceValue: 'evil/model' };
    inspected.pythonPath = { defaultValue: '', workspaceFolderValue: '.venv/bin/python' };
    inspected.trustRemoteCode = { defaultValue: false, workspaceValue: true };
    inspected.topK = { defaultValue: 20, workspaceValue: 7 };
    const untrusted = resolveSettings(inspected, false);
    expect(untrusted.settings.model).toBe('Qwen/Qwen2.5-Coder-1.5B');
    expect(untrusted.settings.pythonPath).toBe('');
    expect(untrusted.settings.trustRemoteCode).toBe(false);
    expect(untrusted.settings.topK).toBe(7);
    expect(untrusted.warnings.length).toBe(3);

    const trusted = resolveSettings(inspected, true);
    expect(trusted.settings.model).toBe('evil/model');
    expect(trusted.settings.pythonPath).toBe('.venv/bin/python');
    expect(trusted.settings.trustRemoteCode).toBe(true);
  });

  it('turns trustRemoteCode off in an untrusted workspace even from user settings', () => {
    const inspected = defaults();
    inspected.trustRemoteCode = { defaultValue: false, globalValue: true };
    const r = resolveSettings(inspected, false);
    expect(r.settings.trustRemoteCode).toBe(false);
    expect(r.warnings.some((w) => w.includes('trustRemoteCode'))).toBe(true);
    expect(resolveSettings(inspected, true).settings.trustRemoteCode).toBe(true);
  });

  it('replaces invalid values with defaults and says so', () => {
    const inspected = defaults();
    inspected.refinement = { defaultValue: DEFAULTS.refinement, globalValue: 'magic' };
    inspected.device = { defaultValue: 'auto', globalValue: 42 };
    inspected.layers = { defaultValue: 'all', globalValue: [1, -2] };
    inspected.dropSink = { defaultValue: true, globalValue: 'yes' };
    inspected.model = { defaultValue: DEFAULTS.model, globalValue: '   ' };
    inspected.topK = { defaultValue: 20, globalValue: NaN };
    const r = resolveSettings(inspected, true);
    expect(r.settings).toEqual(DEFAULTS);
    expect(r.warnings).toHaveLength(6);
  });

  it('clamps numbers to the server\'s limits and rounds them', () => {
    const inspected = defaults();
    inspected.topK = { defaultValue: 20, globalValue: 1e12 };
    inspected.maxTokens = { defaultValue: 4096, globalValue: 1 };
    inspected.cacheDocuments = { defaultValue: 8, globalValue: 3.6 };
    const r = resolveSettings(inspected, true);
    expect(r.settings.topK).toBe(LIMITS.topK.max);
    expect(r.settings.maxTokens).toBe(LIMITS.maxTokens.min);
    expect(r.settings.cacheDocuments).toBe(4);
  });

  it('accepts the three tint units and nothing else', () => {
    const inspected = defaults();
    inspected.tintUnit = { defaultValue: 'token', globalValue: 'identifier' };
    expect(resolveSettings(inspected, true).settings.tintUnit).toBe('identifier');
    inspected.tintUnit = { defaultValue: 'token', globalValue: 'word' };
    const r = resolveSettings(inspected, true);
    expect(r.settings.tintUnit).toBe('token');
    expect(r.warnings).toEqual(['attenScope.tintUnit has an invalid value; using the default.']);
    expect(applyOverrides({ ...DEFAULTS }, { tintUnit: 'definition' }).tintUnit).toBe('definition');
  });

  it('falls back to built-in defaults when the manifest has none', () => {
    expect(resolveSettings({}, true).settings).toEqual(DEFAULTS);
  });

  it('trims model and interpreter paths, keeps unicode', () => {
    const inspected = defaults();
    inspected.model = { defaultValue: DEFAULTS.model, globalValue: '  /modèles/コード  ' };
    expect(resolveSettings(inspected, true).settings.model).toBe('/modèles/コード');
  });
});

describe('index selections', () => {
  it('normalises', () => {
    expect(normalizeIndexSelection('all')).toBe('all');
    expect(normalizeIndexSelection([])).toBe('all');
    expect(normalizeIndexSelection([3, 1, 3, 0])).toEqual([0, 1, 3]);
    expect(normalizeIndexSelection([1.5])).toBeUndefined();
    expect(normalizeIndexSelection('some')).toBeUndefined();
    expect(normalizeIndexSelection([NaN])).toBeUndefined();
  });

  it('compares', () => {
    expect(sameSelection('all', 'all')).toBe(true);
    expect(sameSelection('all', [0])).toBe(false);
    expect(sameSelection([0, 1], [0, 1])).toBe(true);
    expect(sameSelection([0, 1], [0, 2])).toBe(false);
  });
});

describe('aggregates', () => {
  it('accept lastLayers and reject the old layerMean', () => {
    const inspected = { ...defaults(), aggregate: { defaultValue: DEFAULTS.aggregate, globalValue: 'lastLayers' } };
    expect(resolveSettings(inspected, true).settings.aggregate).toBe('lastLayers');
    const old = resolveSettings({ ...defaults(), aggregate: { defaultValue: DEFAULTS.aggregate, globalValue: 'layerMean' } }, true);
    expect(old.settings.aggregate).toBe(DEFAULTS.aggregate);
    expect(old.warnings).toEqual(['attenScope.aggregate has an invalid value; using the default.']);
  });
});

describe('the default view per model', () => {
  const names = {
    ...BUILTIN_NAMES,
    recommendedViews: {
      'embedded:gemma3-270m': { refinement: 'raw', aggregate: 'headMean', rho: 0.58 },
      'odd/model': { refinement: 'gradient', aggregate: 'flow', rho: 0.9 },
    },
  };
  const withModel = (model: string, extra: Inspected = {}): Inspected => ({
    ...defaults(),
    model: { defaultValue: DEFAULTS.model, globalValue: model },
    ...extra,
  });

  it('follows the evidence for the model in use when the user chose no view', () => {
    const { settings } = resolveSettings(withModel('embedded:gemma3-270m'), true, names);
    expect([settings.refinement, settings.aggregate]).toEqual(['raw', 'headMean']);
  });

  it('keeps the built-in default for a model nobody measured', () => {
    const { settings } = resolveSettings(withModel('someone/else'), true, names);
    expect([settings.refinement, settings.aggregate]).toEqual([DEFAULTS.refinement, DEFAULTS.aggregate]);
  });

  it('lets a value the user set win, key by key, in any scope', () => {
    const inspected = withModel('embedded:gemma3-270m', { refinement: { defaultValue: DEFAULTS.refinement, workspaceValue: 'effective' } });
    const { settings } = resolveSettings(inspected, true, names);
    expect([settings.refinement, settings.aggregate]).toEqual(['effective', 'headMean']);
  });

  it('ignores a recommendation that names a view this server does not offer', () => {
    const { settings } = resolveSettings(withModel('odd/model'), true, names);
    expect([settings.refinement, settings.aggregate]).toEqual([DEFAULTS.refinement, DEFAULTS.aggregate]);
  });
});

describe('view changes', () => {
  it('are changes of the model or of what is shown', () => {
    expect(viewChanged(DEFAULTS, { ...DEFAULTS, model: 'gpt2' })).toBe(true);
    expect(viewChanged(DEFAULTS, { ...DEFAULTS, refinement: 'raw' })).toBe(true);
    expect(viewChanged(DEFAULTS, { ...DEFAULTS, aggregate: 'headMean' })).toBe(true);
    expect(viewChanged(DEFAULTS, { ...DEFAULTS, direction: 'attendedBy' })).toBe(true);
    expect(viewChanged(DEFAULTS, { ...DEFAULTS, dropSink: false })).toBe(true);
    expect(viewChanged(DEFAULTS, { ...DEFAULTS, layers: [3] })).toBe(true);
    expect(viewChanged({ ...DEFAULTS, heads: [1] }, { ...DEFAULTS, heads: [2] })).toBe(true);
  });

  it('leave out settings that do not change the weights', () => {
    expect(viewChanged(DEFAULTS, { ...DEFAULTS })).toBe(false);
    expect(viewChanged(DEFAULTS, { ...DEFAULTS, topK: 5, device: 'cpu', maxTokens: 512, autoAnalyze: true, cacheDocuments: 2 })).toBe(false);
    expect(viewChanged({ ...DEFAULTS, layers: [1, 2] }, { ...DEFAULTS, layers: [1, 2] })).toBe(false);
  });
});

describe('view overrides', () => {
  it('override the configuration and are validated', () => {
    const s = applyOverrides({ ...DEFAULTS }, { direction: 'attendedBy', layers: [2, 1], refinement: 'bogus' });
    expect(s.direction).toBe('attendedBy');
    expect(s.layers).toEqual([1, 2]);
    expect(s.refinement).toBe(DEFAULTS.refinement);
  });

  it('are dropped when the same key changes in the configuration', () => {
    const kept = pruneOverrides({ direction: 'attendedBy', heads: [1] }, (k) => k === 'heads');
    expect(kept).toEqual({ direction: 'attendedBy' });
  });
});

describe('server settings', () => {
  it('leave out client-only keys', () => {
    const s = serverSettings({ ...DEFAULTS, pythonPath: '/x/python' });
    expect(s).not.toHaveProperty('pythonPath');
    expect(s).not.toHaveProperty('autoAnalyze');
    expect(s).not.toHaveProperty('tintUnit');
    expect(s).toMatchObject({ model: DEFAULTS.model, refinement: 'norm', aggregate: 'lastLayers', topK: 20, cacheDocuments: 8 });
  });

  it('a new interpreter needs a new process; a new model does not', () => {
    expect(needsRestart(DEFAULTS, { ...DEFAULTS, pythonPath: '/x' })).toBe(true);
    expect(needsRestart(DEFAULTS, { ...DEFAULTS, model: 'gpt2' })).toBe(false);
  });
});
