import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { COMMANDS } from '../../src/commands';
import type { CommandContext } from '../../src/commands/context';

// The command modules import VS Code's API, which only the editor provides; the table needs none of it.
vi.mock('vscode', () => ({}));

const root = join(__dirname, '..', '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { contributes: { commands: { command: string }[] } };

describe('the command table', () => {
  it('has a factory for each command package.json contributes, and no other', () => {
    const contributed = manifest.contributes.commands.map((c) => c.command).sort();
    expect(Object.keys(COMMANDS).sort()).toEqual(contributed);
    for (const factory of Object.values(COMMANDS)) {
      expect(typeof factory).toBe('function');
    }
  });

  it('builds each handler without running anything', () => {
    const ctx = {} as CommandContext;
    for (const [id, factory] of Object.entries(COMMANDS)) {
      expect(typeof factory(ctx), id).toBe('function');
    }
  });
});
