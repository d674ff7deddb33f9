import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Commands, CONFIG_SECTION, HOVER_COMMANDS } from '../../src/constants';
import { BUILTIN_CATALOG } from '../../src/core/catalog';
import LIMITS from '../../src/core/limits.json';
import { AGGREGATES, DEVICES, DIRECTIONS, REFINEMENTS } from '../../src/core/protocol';
import { DEFAULTS, RESTRICTED_KEYS, SETTING_KEYS } from '../../src/core/settings';
import { DEFAULT_TORCH_SETTING, TORCH_SETTINGS } from '../../src/core/setup';

interface Manifest {
  name: string;
  main: string;
  engines: { vscode: string };
  extensionKind: string[];
  activationEvents: string[];
  capabilities: { untrustedWorkspaces: { supported: string; restrictedConfigurations: string[] } };
  contributes: {
    commands: { command: string; title: string; category: string }[];
    configuration: {
      properties: Record<
        string,
        { default: unknown; enum?: string[]; enumDescriptions?: string[]; scope?: string; minimum?: number; maximum?: number }
      >;
    };
  };
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
}

const root = join(__dirname, '..', '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
const props = manifest.contributes.configuration.properties;

describe('package.json', () => {
  it('declares every setting with the same default as the code', () => {
    for (const key of SETTING_KEYS) {
      const prop = props[`${CONFIG_SECTION}.${key}`];
      expect(prop, key).toBeDefined();
      expect(prop.default, key).toEqual(DEFAULTS[key]);
    }
  });

  it('offers the enum values the protocol knows', () => {
    expect(props['attenScope.refinement'].enum).toEqual([...REFINEMENTS]);
    expect(props['attenScope.aggregate'].enum).toEqual([...AGGREGATES]);
    expect(props['attenScope.direction'].enum).toEqual([...DIRECTIONS]);
    expect(props['attenScope.device'].enum).toEqual([...DEVICES]);
  });

  it('offers the built-in lists that the pickers show before the server starts, in the same order', () => {
    expect(props['attenScope.refinement'].enum).toEqual(BUILTIN_CATALOG.refinements.map((r) => r.name));
    expect(props['attenScope.aggregate'].enum).toEqual(BUILTIN_CATALOG.aggregates.map((a) => a.name));
    expect(props['attenScope.direction'].enum).toEqual(BUILTIN_CATALOG.directions.map((d) => d.name));
  });

  it('bounds the numeric settings as limits.json does (the server checks limits.json too)', () => {
    for (const key of ['maxTokens', 'topK', 'cacheDocuments', 'memoryBudgetMB', 'analysisCacheMB'] as const) {
      const prop = props[`${CONFIG_SECTION}.${key}`];
      expect({ min: prop.minimum, max: prop.maximum, default: prop.default }, key).toEqual(LIMITS[key]);
    }
  });

  it('checks the Python version that pyproject.toml requires', () => {
    const pyproject = readFileSync(join(root, 'pyproject.toml'), 'utf8');
    const declared = /^requires-python\s*=\s*"([^"]+)"/m.exec(pyproject)?.[1];
    expect(declared).toBe(LIMITS.python);
  });

  it('describes every enum value', () => {
    for (const [key, prop] of Object.entries(props)) {
      if (prop.enum && prop.enumDescriptions) {
        expect(prop.enumDescriptions, key).toHaveLength(prop.enum.length);
      }
    }
    expect(props['attenScope.aggregate'].enumDescriptions).toHaveLength(AGGREGATES.length);
  });

  it('contributes every command in the Atten-Scope category', () => {
    const contributed = new Map(manifest.contributes.commands.map((c) => [c.command, c]));
    for (const id of Object.values(Commands)) {
      expect(contributed.get(id)?.category, id).toBe('Atten-Scope');
    }
    expect(manifest.contributes.commands).toHaveLength(Object.values(Commands).length);
  });

  it('trusts exactly the commands the server hover card links to, each a contributed command', () => {
    const hover = readFileSync(join(root, 'server', 'atten_scope', 'lsp', 'hover.py'), 'utf8');
    const linked = [...new Set([...hover.matchAll(/command:([A-Za-z.]+)/g)].map((m) => m[1]))];
    expect(linked.sort()).toEqual([...HOVER_COMMANDS].sort());
    const contributed = manifest.contributes.commands.map((c) => c.command);
    for (const id of HOVER_COMMANDS) {
      expect(contributed).toContain(id);
    }
  });

  it('restricts model, interpreter and remote code in untrusted workspaces', () => {
    expect(manifest.capabilities.untrustedWorkspaces.supported).toBe('limited');
    expect(manifest.capabilities.untrustedWorkspaces.restrictedConfigurations.sort()).toEqual(
      RESTRICTED_KEYS.map((k) => `${CONFIG_SECTION}.${k}`).sort(),
    );
    expect(props['attenScope.trustRemoteCode'].scope).toBe('machine');
  });

  it('runs as a workspace extension from the bundle', () => {
    expect(manifest.extensionKind).toEqual(['workspace']);
    expect(manifest.main).toBe('./extension/out/extension.js');
    expect(manifest.activationEvents).toContain('onLanguage:python');
  });

  it('offers the PyTorch sources that Set Up knows, as a machine setting', () => {
    const prop = props['attenScope.setup.torch'];
    expect(prop.enum).toEqual([...TORCH_SETTINGS]);
    expect(prop.default).toBe(DEFAULT_TORCH_SETTING);
    expect(prop.scope).toBe('machine');
  });

  it('packs the server wheel, its pins and the extension README into the .vsix', () => {
    const ignore = readFileSync(join(root, '.vscodeignore'), 'utf8').split(/\r?\n/);
    expect(ignore).toContain('!extension/python/*.whl');
    expect(ignore).toContain('!extension/python/requirements.lock');
    expect((manifest as unknown as { scripts: Record<string, string> }).scripts.package).toMatch(/bundle-python\.mjs.*--readme-path extension\/README\.md/);
  });

  it('pins exact dependency versions', () => {
    for (const [name, version] of Object.entries({ ...manifest.devDependencies, ...manifest.dependencies })) {
      expect(version, name).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });

  it('does not require a newer VS Code than the API types', () => {
    const engine = manifest.engines.vscode.replace(/^\^/, '');
    expect(manifest.devDependencies['@types/vscode'] <= engine || manifest.devDependencies['@types/vscode'] === engine).toBe(true);
  });
});
