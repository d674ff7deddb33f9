// A scenario's private profile: temp folder, HOME and XDG dirs, user and remote settings, the
// workspace with its files, and the environment code-server runs in. Also how a scenario ends.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cache, node24 } from './config.mjs';
import {
  CALLER, CALLER_NAME, HELPERS, HELPERS_NAME, LONG_NAME, REVIEW_AFTER, REVIEW_BEFORE, REVIEW_NAME, SAMPLE, SAMPLE_NAME,
  UNITS_C, UNITS_C_NAME, UNITS_JS, UNITS_JS_NAME,
} from './fixtures.mjs';
import { closeBrowser, stopCodeServer, tempDirs } from './processes.mjs';
import { saveLogs } from './report.mjs';

function makeEnv(tmp, extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Do not inherit a surrounding VS Code / code-server instance (its CLI would reuse that window).
    if (/^(VSCODE_|CODE_SERVER_|ELECTRON_)/.test(k) || ['PASSWORD', 'HASHED_PASSWORD', 'PORT', 'TERM_PROGRAM'].includes(k)) continue;
    env[k] = v;
  }
  Object.assign(env, {
    HOME: path.join(tmp, 'home'),
    XDG_CONFIG_HOME: path.join(tmp, 'xdg/config'),
    XDG_DATA_HOME: path.join(tmp, 'xdg/data'),
    XDG_CACHE_HOME: path.join(tmp, 'xdg/cache'),
    XDG_RUNTIME_DIR: path.join(tmp, 'xdg/runtime'),
    PATH: `${path.dirname(node24)}:${process.env.PATH || '/usr/bin:/bin'}`,
    PYTHONDONTWRITEBYTECODE: '1',
  }, extra);
  for (const d of ['home', 'xdg/config', 'xdg/data', 'xdg/cache', 'xdg/runtime']) fs.mkdirSync(path.join(tmp, d), { recursive: true, mode: 0o700 });
  return env;
}

// Environment for the Python server the extension spawns: by default it shares a converted-model
// cache under the e2e cache folder so only the first run pays for converting the weights.
function modelCacheEnv() {
  if (process.env.ATTEN_SCOPE_E2E_COLD_MODEL === '1') return {};
  const dir = path.join(cache, 'model-cache');
  fs.mkdirSync(dir, { recursive: true });
  return { ATTEN_SCOPE_CACHE_DIR: dir };
}

// The test never reaches the network: a model id that is not on disk must fail fast.
const OFFLINE_ENV = { HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', HF_HUB_DISABLE_TELEMETRY: '1' };

export function userSettings(python, trusted) {
  return {
    'security.workspace.trust.enabled': trusted ? false : true,
    'security.workspace.trust.startupPrompt': 'never',
    'security.workspace.trust.banner': 'always',
    'security.workspace.trust.untrustedFiles': 'open',
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.enableExperiments': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'workbench.editor.enablePreview': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'workbench.layoutControl.enabled': false,
    'chat.disableAIFeatures': true,
    'chat.commandCenter.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    // git for the review check of the trusted scenario (its workspace is a repository)
    'git.enabled': trusted,
    'git.autoRepositoryDetection': trusted,
    'git.openRepositoryInParentFolders': 'never',
    'git.autofetch': false,
    'git.confirmSync': false,
    'diffEditor.renderSideBySide': true,
    'diffEditor.useInlineViewWhenSpaceIsLimited': false,
    'editor.minimap.enabled': false,
    'editor.hover.delay': 300,
    'editor.hover.sticky': true,
    'editor.occurrencesHighlight': 'off',
    'editor.selectionHighlight': false,
    'editor.matchBrackets': 'never',
    'editor.renderLineHighlight': 'none',
    'editor.guides.indentation': false,
    'editor.stickyScroll.enabled': false,
    'editor.inlayHints.enabled': 'off',
    'editor.lightbulb.enabled': 'off',
    'editor.fontSize': 14,
    'files.autoSave': 'off',
    'python.defaultInterpreterPath': python,
    'attenScope.pythonPath': python,
    'attenScope.device': 'cpu',
  };
}

// A fresh profile and workspace for the scenario `label`; a trusted one is a git repository with
// review.py committed and then changed, holds the long file when the interpreter has one, a C
// header and a JavaScript file, and helpers.py with main.py that calls it.
export async function makeRun(label, opts, trusted) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `atten-scope-e2e-${label}-`));
  tempDirs.push(tmp);
  const dirs = { tmp, userData: path.join(tmp, 'user-data'), extensions: path.join(tmp, 'extensions'), workspace: path.join(tmp, 'workspace') };
  for (const d of [dirs.userData, dirs.extensions, dirs.workspace, path.join(dirs.userData, 'User')]) fs.mkdirSync(d, { recursive: true });
  // code-server is a remote window: settings with machine scope (attenScope.pythonPath is
  // machine-overridable) count only in the remote user settings (<user-data-dir>/Machine), the
  // rest in <user-data-dir>/User. Write both, as a user would set them.
  const settings = userSettings(opts.python, trusted);
  fs.writeFileSync(path.join(dirs.userData, 'User/settings.json'), JSON.stringify(settings, null, 2));
  const machine = Object.fromEntries(Object.entries(settings).filter(([k]) => /^(attenScope|python)\./.test(k)));
  fs.mkdirSync(path.join(dirs.userData, 'Machine'), { recursive: true });
  fs.writeFileSync(path.join(dirs.userData, 'Machine/settings.json'), JSON.stringify(machine, null, 2));
  fs.writeFileSync(path.join(dirs.workspace, SAMPLE_NAME), SAMPLE);
  if (trusted && opts.longSource) fs.copyFileSync(opts.longSource, path.join(dirs.workspace, LONG_NAME));
  if (trusted) {
    // files for the parsed code units and for the context files
    for (const [name, text] of [[UNITS_C_NAME, UNITS_C], [UNITS_JS_NAME, UNITS_JS], [HELPERS_NAME, HELPERS], [CALLER_NAME, CALLER]]) {
      fs.writeFileSync(path.join(dirs.workspace, name), text);
    }
  }
  if (trusted) {
    // review.py committed, then changed in the working tree
    fs.writeFileSync(path.join(dirs.workspace, REVIEW_NAME), REVIEW_BEFORE);
    const git = (...args) => {
      const r = spawnSync('git', ['-c', 'user.name=Atten-Scope e2e', '-c', 'user.email=e2e@atten-scope.invalid', ...args], { cwd: dirs.workspace, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr || r.error}`);
    };
    git('init', '-q');
    git('add', REVIEW_NAME);
    git('commit', '-q', '-m', 'mean');
    fs.writeFileSync(path.join(dirs.workspace, REVIEW_NAME), REVIEW_AFTER);
  }
  // Analyses kept on disk stay with the scenario: one run's never answers another's analyze.
  const analyses = { ATTEN_SCOPE_ANALYSIS_CACHE_DIR: path.join(tmp, 'analyses') };
  const env = makeEnv(tmp, { ...OFFLINE_ENV, ...modelCacheEnv(), ...analyses });
  return { tmp, dirs, env };
}

// A profile as a new user has it: no attenScope.pythonPath, no Python extension, and on PATH only
// a `python3` without the server package (the project's environment is not on PATH); `python3(file)`
// puts that interpreter at `file`. PyTorch comes from pip's configured indexes
// (attenScope.setup.torch: pypi): no index is added.
export async function makeSetupRun(label, opts, python3) {
  const run = await makeRun(label, opts, true);
  const settings = userSettings('', true);
  delete settings['attenScope.pythonPath'];
  delete settings['python.defaultInterpreterPath'];
  settings['attenScope.setup.torch'] = 'pypi';
  fs.writeFileSync(path.join(run.dirs.userData, 'User/settings.json'), JSON.stringify(settings, null, 2));
  fs.writeFileSync(path.join(run.dirs.userData, 'Machine/settings.json'), JSON.stringify({ 'attenScope.device': 'cpu', 'attenScope.setup.torch': 'pypi' }, null, 2));
  const bin = path.join(run.tmp, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  python3(path.join(bin, 'python3'));
  run.env.PATH = [bin, path.dirname(node24), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
  // The server would take the extension host's PATH from a login shell (system folders first, so
  // this python3 would not be seen); VSCODE_CLI=1 makes it keep the environment it is given.
  run.env.VSCODE_CLI = '1';
  for (const k of ['PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', 'PYENV_VERSION', 'CONDA_PREFIX']) delete run.env[k];
  return run;
}

// Every scenario ends alike: its logs saved, the browser closed, code-server stopped.
export async function endScenario(run, label, page, cs) {
  if (run) await saveLogs(run, label, page).catch(() => {});
  await closeBrowser();
  await stopCodeServer(cs);
}

export function findFiles(root, pattern, depth = 8) {
  const out = [];
  const walk = (dir, d) => {
    let entries = [];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory() && d > 0) walk(full, d - 1);
      else if (e.isFile() && pattern.test(e.name)) out.push(full);
    }
  };
  walk(root, depth);
  return out;
}

// The managed environments (an `env` folder in the extension's global storage) under `root`.
export function managedEnvs(root, depth = 7) {
  const found = [];
  const walk = (dir, d) => {
    let entries = [];
    try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (!e.isDirectory() || e.isSymbolicLink()) continue;
      const full = path.join(dir, e.name);
      if (e.name === 'env' && /atten-scope/i.test(path.basename(dir))) found.push(full);
      else if (d > 0 && e.name !== 'extensions' && e.name !== 'workspace') walk(full, d - 1);
    }
  };
  walk(root, depth);
  return found;
}

// The extension's own log (its output channel, as the profile's logs folder holds it): the text
// written since `since` (what an earlier call returned as `at`; all of it without), and `at`.
export function extensionLog(run, since = {}) {
  const parts = [];
  const at = {};
  for (const file of findFiles(path.join(run.dirs.userData, 'logs'), /Atten-Scope\.log$/)) {
    const text = fs.readFileSync(file, 'utf8');
    at[file] = text.length;
    parts.push(text.slice(since[file] ?? 0));
  }
  return { text: parts.join('\n'), at };
}
