/**
 * Context files without 'vscode': how the status bar names them, the Markdown links that open a
 * context file at a line, and the simple import resolver (a document's local imports read from its
 * text, and the paths each may name). The editor's own definition provider is asked first
 * (../contextFiles.ts); this stands in where no language server resolves an import.
 */
import type { ContextShare } from './protocol';

// POSIX path steps by hand: this module is also compiled for the webviews, which have no 'node:path'.
const posix = {
  dirname(path: string): string {
    const cut = path.replace(/\/+$/, '').lastIndexOf('/');
    return cut < 0 ? '.' : cut === 0 ? '/' : path.slice(0, cut);
  },
  join(...parts: string[]): string {
    const joined = parts.filter((part) => part !== '').join('/');
    const absolute = joined.startsWith('/');
    const out: string[] = [];
    for (const step of joined.split('/')) {
      if (step === '' || step === '.') {continue;}
      if (step === '..' && out.length > 0 && out[out.length - 1] !== '..') {out.pop();}
      else if (step !== '..' || !absolute) {out.push(step);}
    }
    const body = out.join('/');
    return absolute ? `/${body}` : body || '.';
  },
};

/** How many of the heaviest context lines the tooltip lists. */
export const CONTEXT_ROWS = 3;

/** "with 2 context files (helpers.py, util.py)"; '' without any. */
export function contextNote(files: readonly { name: string }[] | undefined): string {
  if (!files || files.length === 0) {
    return '';
  }
  const names = files.map((f) => f.name);
  const shown = names.length > 3 ? `${names.slice(0, 3).join(', ')}, …` : names.join(', ');
  return `with ${files.length} context file${files.length === 1 ? '' : 's'} (${shown})`;
}

/** Characters of a URI that could end a Markdown link or carry Markdown or HTML, percent-encoded. */
function linkTarget(uri: string): string {
  return uri.replace(/[\s()[\]<>"'`|\\]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** `text` as a Markdown code span, its fence longer than any run of backticks inside. */
function codeSpan(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/**
 * A Markdown link that opens context file `uri` at 0-based `line`: its URI with the fragment
 * `#L<n>`, which VS Code's link opener reads as line n; the text `name:n` as a code span
 * (`helpers.py:40`), as the server's hover names it.
 */
export function lineLink(uri: string, name: string, line: number): string {
  return `[${codeSpan(`${name}:${line + 1}`)}](${linkTarget(uri)}#L${line + 1})`;
}

/**
 * The tooltip's sentence about the context files an attention answer drew on: the
 * CONTEXT_ROWS heaviest lines, each a link to its line with the definition holding it (else its
 * text), and the share of everything read before the document; undefined where it drew nothing
 * there (or the document was read alone).
 */
export function contextSummary(share: ContextShare | undefined, rows = CONTEXT_ROWS): string | undefined {
  if (!share || !(share.weight > 0)) {
    return undefined;
  }
  const lines = share.lines.slice(0, rows).map((l) => {
    const reads = l.definition ?? l.text;
    return `${lineLink(l.uri, l.name, l.line)}${reads ? ` ${codeSpan(reads)}` : ''} ${percent(l.weight)}`;
  });
  return `Drew on other files: ${[...lines, `${percent(share.weight)} in all`].join(' · ')}`;
}

function percent(weight: number): string {
  return `${(100 * weight).toFixed(1)}%`;
}

/** An import in a document's text: what it names and where (0-based line and character of its name). */
export interface ImportRef {
  specifier: string;
  line: number;
  character: number;
}

const PYTHON_FROM = /^(\s*from\s+)([.\w]+)(\s+import\b)/;
const PYTHON_IMPORT = /^(\s*import\s+)([\w.]+(?:\s*,\s*[\w.]+)*)/;
const SCRIPT_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)(['"])([^'"\n]+)\1/g;
const C_INCLUDE = /^(\s*#\s*include\s*")([^"\n]+)"/;

const SCRIPT_LANGUAGES = new Set(['javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'vue', 'svelte']);
const C_LANGUAGES = new Set(['c', 'cpp', 'cuda-cpp', 'objective-c', 'objective-cpp']);

/**
 * The imports of a document that may name a file of the workspace: Python's `import a.b` and
 * `from .c import d`, JavaScript's and TypeScript's `import … from './x'`, `import('./x')` and
 * `require('./x')` (relative ones only: the others are packages), C's `#include "x.h"`. Other
 * languages: none (the definition provider alone).
 */
export function importSpecifiers(text: string, languageId: string): ImportRef[] {
  const found: ImportRef[] = [];
  text.split(/\r\n|\r|\n/).forEach((lineText, line) => {
    if (languageId === 'python') {
      const from = PYTHON_FROM.exec(lineText);
      if (from) {
        found.push({ specifier: from[2], line, character: from[1].length });
        return;
      }
      const plain = PYTHON_IMPORT.exec(lineText);
      if (plain) {
        let at = plain[1].length;
        for (const part of plain[2].split(',')) {
          const name = part.trim();
          found.push({ specifier: name, line, character: at + part.indexOf(name) });
          at += part.length + 1;
        }
      }
    } else if (SCRIPT_LANGUAGES.has(languageId)) {
      for (const match of lineText.matchAll(SCRIPT_IMPORT)) {
        if (match[2].startsWith('.')) {
          found.push({ specifier: match[2], line, character: (match.index ?? 0) + match[0].length - match[2].length - 1 });
        }
      }
    } else if (C_LANGUAGES.has(languageId)) {
      const include = C_INCLUDE.exec(lineText);
      if (include) {
        found.push({ specifier: include[2], line, character: include[1].length });
      }
    }
  });
  return found;
}

const SCRIPT_SUFFIXES = ['', '.ts', '.tsx', '.js', '.jsx', '.mjs', '.cjs', '.mts', '.cts', '/index.ts', '/index.tsx', '/index.js', '/index.jsx'];

/**
 * The paths an import may name, most likely first (the caller keeps the first that exists):
 * Python modules (`a.b` -> `a/b.py`, `a/b/__init__.py`) below each of `roots` (the document's
 * folder, then the workspace folders), relative ones (`.c`, `..c`) from the document's folder;
 * a script's relative path with each suffix the bundlers try; a C include beside the document.
 * Paths are POSIX, as `documentPath` is.
 */
export function candidatePaths(ref: Pick<ImportRef, 'specifier'>, languageId: string, documentPath: string, roots: readonly string[] = []): string[] {
  const folder = posix.dirname(documentPath);
  const spec = ref.specifier;
  if (languageId === 'python') {
    const dots = /^\.*/.exec(spec)?.[0].length ?? 0;
    const parts = spec.slice(dots).split('.').filter(Boolean);
    const bases = dots > 0 ? [posix.join(folder, ...Array<string>(dots - 1).fill('..'))] : [folder, ...roots];
    const out: string[] = [];
    for (const base of bases) {
      if (parts.length > 0) {
        out.push(`${posix.join(base, ...parts)}.py`, posix.join(base, ...parts, '__init__.py'));
      } else {
        out.push(posix.join(base, '__init__.py'));
      }
    }
    return [...new Set(out)];
  }
  if (SCRIPT_LANGUAGES.has(languageId)) {
    return spec.startsWith('.') ? SCRIPT_SUFFIXES.map((suffix) => posix.join(folder, spec) + suffix) : [];
  }
  if (C_LANGUAGES.has(languageId)) {
    return [posix.join(folder, spec)];
  }
  return [];
}
