import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMPLETION_LIMITS, DEFAULTS, resolveSettings, serverSettings, type Inspected } from '../../src/core/settings';

const root = join(__dirname, '..', '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  contributes: { configuration: { properties: Record<string, { default: unknown; minimum?: number; maximum?: number; type: string }> } };
};

const withGlobal = (key: keyof typeof COMPLETION_LIMITS, value: unknown): Inspected => ({ [key]: { defaultValue: DEFAULTS[key], globalValue: value } });

describe('the completion settings', () => {
  it('are declared in package.json with the bounds and defaults the code uses', () => {
    for (const [key, limits] of Object.entries(COMPLETION_LIMITS)) {
      const prop = manifest.contributes.configuration.properties[`attenScope.${key}`];
      expect({ min: prop.minimum, max: prop.maximum, default: prop.default, integer: prop.type === 'integer' }, key).toEqual(limits);
    }
    expect(DEFAULTS['completion.maxNewTokens']).toBe(48);
    expect(DEFAULTS['completion.temperature']).toBe(0);
    expect(DEFAULTS['completion.alternatives']).toBe(5);
    expect(DEFAULTS['completion.ablations']).toBe(32);
  });

  it('are clamped to their bounds, rounded where they count, and refused when not numbers', () => {
    expect(resolveSettings(withGlobal('completion.maxNewTokens', 999), true).settings['completion.maxNewTokens']).toBe(256);
    expect(resolveSettings(withGlobal('completion.ablations', 2), true).settings['completion.ablations']).toBe(8);
    expect(resolveSettings(withGlobal('completion.alternatives', 3.6), true).settings['completion.alternatives']).toBe(4);
    expect(resolveSettings(withGlobal('completion.temperature', 0.7), true).settings['completion.temperature']).toBe(0.7);
    const refused = resolveSettings(withGlobal('completion.temperature', 'hot'), true);
    expect(refused.settings['completion.temperature']).toBe(0);
    expect(refused.warnings).toEqual(['attenScope.completion.temperature has an invalid value; using the default.']);
  });

  it('are not sent to the server as settings: each request carries them', () => {
    expect(Object.keys(serverSettings(DEFAULTS)).filter((k) => k.startsWith('completion.'))).toEqual([]);
  });
});
