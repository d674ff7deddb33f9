// Builds the Python server's wheel and its runtime pins into extension/python/, which the .vsix
// carries: "Atten-Scope: Set Up Atten-Scope" installs them into a managed virtual environment.
//
// Usage: node extension/bundle-python.mjs   (Python: $ATTEN_SCOPE_BUILD_PYTHON, else .venv/bin/python,
// else python3; it needs setuptools >= 77, and nothing is downloaded: --no-build-isolation)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const out = path.join(root, 'extension', 'python');

function buildPython() {
  if (process.env.ATTEN_SCOPE_BUILD_PYTHON) {
    return process.env.ATTEN_SCOPE_BUILD_PYTHON;
  }
  const venv = path.join(root, '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
  return fs.existsSync(venv) ? venv : process.platform === 'win32' ? 'python' : 'python3';
}

/** The runtime dependencies' names from pyproject.toml's [project] dependencies. */
export function runtimeNames(pyproject) {
  const block = /^dependencies\s*=\s*\[([\s\S]*?)^\]/m.exec(pyproject);
  if (!block) {
    throw new Error('pyproject.toml has no [project] dependencies list');
  }
  return [...block[1].matchAll(/"\s*([A-Za-z0-9][A-Za-z0-9._-]*)/g)].map((m) => normalise(m[1]));
}

const normalise = (name) => name.toLowerCase().replace(/[-_.]+/g, '-');

/** requirements.lock's pins of the runtime dependencies, in the lock's order. */
export function runtimePins(lock, names) {
  const wanted = new Set(names);
  const pins = lock.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .filter((l) => wanted.has(normalise(l.split(/[=<>!~ ;[]/)[0])));
  const pinned = new Set(pins.map((l) => normalise(l.split(/[=<>!~ ;[]/)[0])));
  const missing = names.filter((n) => !pinned.has(n));
  if (missing.length) {
    throw new Error(`requirements.lock pins no version of ${missing.join(', ')}`);
  }
  return pins;
}

function main() {
  const python = buildPython();
  // Build from a clean copy: a stale build/ folder would put deleted modules into the wheel.
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'atten-scope-wheel-'));
  try {
    for (const f of ['pyproject.toml', 'README.md']) {
      fs.copyFileSync(path.join(root, f), path.join(src, f));
    }
    fs.cpSync(path.join(root, 'server'), path.join(src, 'server'), {
      recursive: true,
      filter: (p) => !/(__pycache__|\.egg-info|\.pyc$)/.test(p),
    });
    const dist = path.join(src, 'dist');
    const r = spawnSync(python, ['-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '--quiet', '-w', dist, src], {
      stdio: 'inherit',
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' },
    });
    if (r.error || r.status !== 0) {
      throw new Error(`${python} -m pip wheel failed (${r.error ? r.error.message : `exit ${r.status}`})`);
    }
    const wheels = fs.readdirSync(dist).filter((f) => /^atten_scope-.*\.whl$/.test(f));
    if (wheels.length !== 1) {
      throw new Error(`expected one atten_scope wheel, found: ${wheels.join(', ') || 'none'}`);
    }
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out, { recursive: true });
    fs.copyFileSync(path.join(dist, wheels[0]), path.join(out, wheels[0]));
    const pins = runtimePins(fs.readFileSync(path.join(root, 'requirements.lock'), 'utf8'),
      runtimeNames(fs.readFileSync(path.join(root, 'pyproject.toml'), 'utf8')));
    fs.writeFileSync(path.join(out, 'requirements.lock'),
      `# The server's runtime dependencies at the versions it is tested with.\n${pins.join('\n')}\n`);
    console.log(`extension/python: ${wheels[0]}, requirements.lock (${pins.length} pins)`);
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (e) {
    console.error(`bundle-python: ${e.message}`);
    process.exit(1);
  }
}
