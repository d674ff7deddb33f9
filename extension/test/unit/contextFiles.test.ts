import { describe, expect, it } from 'vitest';
import { candidatePaths, contextNote, contextSummary, importSpecifiers, lineLink } from '../../src/core/contextFiles';
import type { ContextShare } from '../../src/core/protocol';

const HELPERS = 'file:///project/src/helpers.py';

function share(overrides: Partial<ContextShare> = {}): ContextShare {
  return {
    weight: 0.3,
    files: [{ uri: HELPERS, name: 'helpers.py', weight: 0.28 }],
    targets: [],
    lines: [
      { uri: HELPERS, name: 'helpers.py', line: 39, weight: 0.21, text: 'def parse(line):', definition: 'def parse' },
      { uri: HELPERS, name: 'helpers.py', line: 2, weight: 0.04, text: 'import re', definition: null },
    ],
    ...overrides,
  };
}

describe('the status bar names the context files', () => {
  it('counts and names them', () => {
    expect(contextNote(undefined)).toBe('');
    expect(contextNote([])).toBe('');
    expect(contextNote([{ name: 'helpers.py' }])).toBe('with 1 context file (helpers.py)');
    expect(contextNote([{ name: 'helpers.py' }, { name: 'lib/util.py' }])).toBe('with 2 context files (helpers.py, lib/util.py)');
    expect(contextNote(['a', 'b', 'c', 'd'].map((name) => ({ name })))).toBe('with 4 context files (a, b, c, …)');
  });
});

describe('links to a line of a context file', () => {
  it('opens the file at the line through the #L fragment', () => {
    expect(lineLink(HELPERS, 'helpers.py', 39)).toBe('[`helpers.py:40`](file:///project/src/helpers.py#L40)');
  });

  it('stays one inert link whatever the URI and the name', () => {
    const link = lineLink('file:///p/a b)(c)[d]<e>`f`|g.py', 'a`b.py', 0);
    const target = link.slice(link.indexOf('](') + 2, -1);
    expect(target).toBe('file:///p/a%20b%29%28c%29%5Bd%5D%3Ce%3E%60f%60%7Cg.py#L1');
    expect(link.startsWith('[``a`b.py:1``](')).toBe(true);
  });

  it('names the heaviest lines with their definition, else their text, and the share in all', () => {
    expect(contextSummary(share())).toBe(
      'Drew on other files: [`helpers.py:40`](file:///project/src/helpers.py#L40) `def parse` 21.0% · ' +
        '[`helpers.py:3`](file:///project/src/helpers.py#L3) `import re` 4.0% · 30.0% in all',
    );
    expect(contextSummary(share(), 1)).toBe('Drew on other files: [`helpers.py:40`](file:///project/src/helpers.py#L40) `def parse` 21.0% · 30.0% in all');
  });

  it('says nothing without context or where none was drawn on', () => {
    expect(contextSummary(undefined)).toBeUndefined();
    expect(contextSummary(share({ weight: 0, lines: [] }))).toBeUndefined();
  });
});

describe('the simple import resolver', () => {
  it("reads Python's imports where their module names stand", () => {
    const text = 'import os, lib.util\nfrom .helpers import parse\n  from ..pkg.mod import x\nx = "import y"\n';
    expect(importSpecifiers(text, 'python')).toEqual([
      { specifier: 'os', line: 0, character: 7 },
      { specifier: 'lib.util', line: 0, character: 11 },
      { specifier: '.helpers', line: 1, character: 5 },
      { specifier: '..pkg.mod', line: 2, character: 7 },
    ]);
  });

  it("reads a script's relative imports only, and C's quoted includes", () => {
    const script = "import { a } from './a';\nimport React from 'react';\nconst b = require(\"../lib/b\");\nexport * from './c.js';\n";
    expect(importSpecifiers(script, 'typescript')).toEqual([
      { specifier: './a', line: 0, character: 19 },
      { specifier: '../lib/b', line: 2, character: 19 },
      { specifier: './c.js', line: 3, character: 15 },
    ]);
    expect(importSpecifiers('#include <stdio.h>\n#include "ring.h"\n', 'c')).toEqual([{ specifier: 'ring.h', line: 1, character: 10 }]);
    expect(importSpecifiers('use crate::x;\n', 'rust')).toEqual([]);
  });

  it('turns an import into the paths it may name, most likely first', () => {
    expect(candidatePaths({ specifier: 'lib.util' }, 'python', '/w/src/main.py', ['/w'])).toEqual([
      '/w/src/lib/util.py',
      '/w/src/lib/util/__init__.py',
      '/w/lib/util.py',
      '/w/lib/util/__init__.py',
    ]);
    expect(candidatePaths({ specifier: '..pkg.mod' }, 'python', '/w/src/app/main.py')).toEqual(['/w/src/pkg/mod.py', '/w/src/pkg/mod/__init__.py']);
    expect(candidatePaths({ specifier: '.' }, 'python', '/w/src/main.py')).toEqual(['/w/src/__init__.py']);
    expect(candidatePaths({ specifier: '../lib/b' }, 'typescript', '/w/src/app.ts').slice(0, 3)).toEqual(['/w/lib/b', '/w/lib/b.ts', '/w/lib/b.tsx']);
    expect(candidatePaths({ specifier: 'react' }, 'typescript', '/w/src/app.ts')).toEqual([]);
    expect(candidatePaths({ specifier: 'ring.h' }, 'c', '/w/src/main.c')).toEqual(['/w/src/ring.h']);
  });
});
