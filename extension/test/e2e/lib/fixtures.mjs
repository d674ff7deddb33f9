// The files the scenarios open, and the shipped faithfulness figures the hover and status bar state.
import fs from 'node:fs';
import path from 'node:path';
import { repo } from './config.mjs';

export const SAMPLE_NAME = 'sample.py';
// Line texts in the sample file that the test looks up on screen (keep in sync with SAMPLE).
export const SAMPLE = [
  '"""Atten-Scope end-to-end sample: a tiny HTML renderer."""',
  '',
  '',
  'def render(items, title):',
  '    head = "<script>alert(1)</script>"',
  '    label = "<b>bold</b>" + title',
  '    total = 0',
  '    for item in items:',
  '        total += len(item)',
  '    return head + label + str(total)',
  '',
  '',
  'print(render(["a", "bb", "ccc"], "demo"))',
  '',
].join('\n');
// A file with a change in the working tree of a git repository, for review in the diff editor.
export const REVIEW_NAME = 'review.py';
export const REVIEW_BEFORE = [
  'def mean(values):',
  '    """The arithmetic mean of a non-empty list."""',
  '    total = sum(values)',
  '    return total / len(values)',
  '',
].join('\n');
export const REVIEW_AFTER = [
  'def mean(values):',
  '    """The arithmetic mean of a list; 0.0 when it is empty."""',
  '    if not values:',
  '        return 0.0',
  '    total = sum(values)',
  '    return total / len(values)',
  '',
].join('\n');
// A real file over 8,000 tokens for the heatmap: the Python standard library's uuid.py (8,531
// tokens for the embedded model), copied from the interpreter under test at run time.
export const LONG_NAME = 'long_uuid.py';
export const LONG_MARKER = /UUID\s+objects\s+\(universally\s+unique/; // Monaco renders spaces as U+00A0

// Files without a language server's symbols whose code units come from the built-in parser: a C
// header (VS Code reads `.h` as C++) and a JavaScript file. Each definition opens below a comment,
// so a block of lines would be named by the comment, a parsed definition by what it defines.
export const UNITS_C_NAME = 'geometry.h';
export const UNITS_C = [
  '/* Small geometry helpers: points and the one nearest to the origin. */',
  '#include <stddef.h>',
  '',
  'typedef struct point {',
  '    int x;',
  '    int y;',
  '} point_t;',
  '',
  '/* The squared distance between two points. */',
  'static inline int distance2(point_t a, point_t b)',
  '{',
  '    int dx = a.x - b.x;',
  '    int dy = a.y - b.y;',
  '    return dx * dx + dy * dy;',
  '}',
  '',
  '/* The index of the point nearest to the origin, or -1 for none. */',
  'static inline int nearest(const point_t *points, size_t count)',
  '{',
  '    point_t origin = {0, 0};',
  '    int best = -1;',
  '    int best_d = 0;',
  '    for (size_t i = 0; i < count; i++) {',
  '        int d = distance2(points[i], origin);',
  '        if (best < 0 || d < best_d) {',
  '            best = (int)i;',
  '            best_d = d;',
  '        }',
  '    }',
  '    return best;',
  '}',
  '',
].join('\n');
export const UNITS_JS_NAME = 'shapes.js';
export const UNITS_JS = [
  '// Areas of simple shapes, and the largest of a list.',
  'const PI = Math.PI;',
  '',
  '// The area of a circle of radius r.',
  'function circleArea(r) {',
  '  return PI * r * r;',
  '}',
  '',
  '// The largest area among the shapes.',
  'function largestArea(shapes) {',
  '  let best = 0;',
  '  for (const shape of shapes) {',
  '    const area = circleArea(shape.radius);',
  '    if (area > best) {',
  '      best = area;',
  '    }',
  '  }',
  '  return best;',
  '}',
  '',
  'module.exports = { circleArea, largestArea };',
  '',
].join('\n');
// Context files: main.py calls parse_header, which helpers.py defines (line 6).
export const HELPERS_NAME = 'helpers.py';
export const HELPERS = [
  'import re',
  '',
  "SEPARATOR = re.compile(r'\\s*:\\s*')",
  '',
  '',
  'def parse_header(line):',
  '    """Split a header line into its name and value."""',
  '    name, value = SEPARATOR.split(line, maxsplit=1)',
  '    return name.strip().lower(), value.strip()',
  '',
].join('\n');
export const HELPERS_DEFINITION_LINE = 6; // 1-based line of `def parse_header` in HELPERS
export const CALLER_NAME = 'main.py';
export const CALLER = [
  'from helpers import parse_header',
  '',
  'headers = {}',
  "for line in open('request.txt'):",
  '    key, value = parse_header(line)',
  '    headers[key] = value',
  '',
].join('\n');

function faithfulnessTable(model) {
  const file = path.join(repo, 'server', 'atten_scope', 'data', 'faithfulness.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).tables.find((t) => t.model === model);
}

/** The view the shipped faithfulness table recommends for `model` (as the server picks it), or null. */
export function recommendedView(model) {
  const table = faithfulnessTable(model);
  if (!table) return null;
  const refinements = ['raw', 'norm', 'effective', 'effective+norm'];
  const aggregates = ['headMean', 'headMax', 'lastLayers', 'rollout'];
  let best = null;
  for (const row of table.methods) {
    const [refinement, aggregate] = row.method.split(' / ');
    if (refinements.includes(refinement) && aggregates.includes(aggregate) && (!best || row.on[0] > best.rho)) {
      best = { refinement, aggregate, rho: row.on[0] };
    }
  }
  return best;
}

/** The shipped figure of `method` on `model` for a situation (e.g. interior, token), or null where it was not measured. */
export function situationFigure(model, position, unit, method) {
  const table = faithfulnessTable(model);
  const entry = (table?.situations ?? []).find((e) => e.position === position && e.unit === unit);
  const row = entry?.methods.find((r) => r.method === method);
  return row ? { rho: row.on[0], corpus: entry.corpus, languages: entry.languages ?? [] } : null;
}
