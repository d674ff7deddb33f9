import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Commands } from '../../src/constants';

interface Step {
  id: string;
  title: string;
  description: string;
  media: { markdown?: string; image?: string };
  completionEvents?: string[];
}

interface Manifest {
  contributes: {
    commands: { command: string }[];
    walkthroughs?: { id: string; title: string; description: string; steps: Step[] }[];
  };
}

const root = join(__dirname, '..', '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
const walkthroughs = manifest.contributes.walkthroughs ?? [];
const steps = walkthroughs.flatMap((w) => w.steps);
const contributed = new Set(manifest.contributes.commands.map((c) => c.command));

/** The commands a step's description links to ([text](command:id)). */
function linkedCommands(description: string): string[] {
  return [...description.matchAll(/\]\(command:([A-Za-z0-9_.]+)(?:\?[^)]*)?\)/g)].map((m) => m[1]);
}

/** Whether .vscodeignore lets `file` into the .vsix: a `!` pattern re-includes it after `**`. */
function packaged(file: string): boolean {
  const patterns = readFileSync(join(root, '.vscodeignore'), 'utf8')
    .split(/\r?\n/)
    .filter((line) => line.startsWith('!'))
    .map((line) => line.slice(1).trim());
  return patterns.some((pattern) => {
    const source = pattern
      .split('**')
      .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'))
      .join('.*');
    return new RegExp(`^${source}$`).test(file);
  });
}

describe('the first-run walkthrough', () => {
  it('walks through Set Up, Analyze File, the hover, Complete Here and the heatmap, in that order', () => {
    expect(walkthroughs).toHaveLength(1);
    expect(steps.map((s) => linkedCommands(s.description)[0])).toEqual([
      Commands.setUp,
      Commands.analyzeFile,
      Commands.toggleDirection,
      Commands.completeHere,
      Commands.showHeatmap,
    ]);
    expect(new Set(steps.map((s) => s.id)).size).toBe(steps.length);
  });

  it('links every step to a command the extension contributes, and completes it when that command runs', () => {
    for (const step of steps) {
      const linked = linkedCommands(step.description);
      expect(linked.length, step.id).toBeGreaterThan(0);
      for (const command of linked) {
        expect(contributed.has(command), `${step.id}: ${command}`).toBe(true);
      }
      for (const event of step.completionEvents ?? []) {
        const command = /^onCommand:(.+)$/.exec(event)?.[1];
        expect(command && contributed.has(command), `${step.id}: ${event}`).toBe(true);
      }
    }
  });

  it('gives every step a markdown page that exists, has a heading and goes into the .vsix', () => {
    for (const step of steps) {
      const page = step.media.markdown;
      expect(page, step.id).toMatch(/^extension\/walkthrough\/[A-Za-z]+\.md$/);
      const path = join(root, page ?? '');
      expect(existsSync(path), page).toBe(true);
      const text = readFileSync(path, 'utf8');
      expect(text, page).toMatch(/^# \S/);
      // a page may only point at files that exist beside it and go into the .vsix with it
      for (const [, target] of text.matchAll(/\]\(((?!https?:|command:|#)[^)]+)\)/g)) {
        expect(existsSync(join(path, '..', target)), `${page}: ${target}`).toBe(true);
        expect(packaged(posix.normalize(posix.join(posix.dirname(page ?? ''), target))), `${page}: ${target}`).toBe(true);
      }
      expect(packaged(page ?? ''), page).toBe(true);
    }
  });

  it('shows a screenshot of what each step after Set Up does', () => {
    for (const step of steps.slice(1)) {
      const text = readFileSync(join(root, step.media.markdown ?? ''), 'utf8');
      expect(text, step.id).toMatch(/!\[[^\]]+\]\(\.\.\/media\/screenshots\/step-[a-z]+\.png\)/);
    }
  });

  it('reads a .vscodeignore pattern as the packager does', () => {
    expect(packaged('extension/walkthrough/setUp.md')).toBe(true);
    expect(packaged('extension/media/gutter/heat1.svg')).toBe(true);
    expect(packaged('extension/media/screenshots/step-hover.png')).toBe(true);
    expect(packaged('extension/media/screenshots/hover.png')).toBe(false);
    expect(packaged('extension/walkthrough/notes.txt')).toBe(false);
    expect(packaged('extension/src/setup.ts')).toBe(false);
  });
});
