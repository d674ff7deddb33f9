/** Interpreter path handling and server-check parsing, with no 'vscode' import. */
import LIMITS from './limits.json';

export interface ExpandContext {
  home: string;
  workspaceFolder?: string;
  env: Record<string, string | undefined>;
  /** path separator handling: true on Windows */
  windows?: boolean;
}

/**
 * Expands ~, ${userHome}, ${workspaceFolder} and ${env:NAME} in a configured interpreter path.
 * A relative path containing a separator is resolved against the workspace folder.
 */
export function expandInterpreterPath(raw: string, ctx: ExpandContext): string {
  let value = raw.trim();
  if (value === '') {
    return '';
  }
  if (value === '~' || value.startsWith('~/') || value.startsWith('~\\')) {
    value = ctx.home + value.slice(1);
  }
  value = value.replace(/\$\{(userHome|workspaceFolder|env:([A-Za-z_][A-Za-z0-9_]*))\}/g, (match, name: string, envName?: string) => {
    if (name === 'userHome') {
      return ctx.home;
    }
    if (name === 'workspaceFolder') {
      return ctx.workspaceFolder ?? match;
    }
    return envName ? (ctx.env[envName] ?? '') : match;
  });
  const sep = ctx.windows ? /[\\/]/ : /\//;
  const absolute = ctx.windows ? /^([A-Za-z]:[\\/]|[\\/]{2})/.test(value) : value.startsWith('/');
  if (!absolute && sep.test(value) && ctx.workspaceFolder) {
    const joiner = ctx.windows ? '\\' : '/';
    value = ctx.workspaceFolder.replace(/[\\/]+$/, '') + joiner + value.replace(/^\.[\\/]/, '');
  }
  return value;
}

/** Python snippet that reports whether the server package is importable, without importing it. */
export const CHECK_SCRIPT = [
  'import importlib.util, json, sys',
  'spec = importlib.util.find_spec("atten_scope")',
  'print(json.dumps({"found": spec is not None, "python": sys.version.split()[0], "executable": sys.executable}))',
].join('\n');

export interface CheckReport {
  found: boolean;
  python: string;
  executable: string;
}

/**
 * The last line of `stdout` that is a JSON object whose `key` has type `kind` (the probe scripts
 * print one; anything a site hook or a warning prints around it is skipped), or undefined.
 */
export function lastJsonObject(stdout: string, key: string, kind: 'boolean' | 'string'): Record<string, unknown> | undefined {
  const lines = stdout.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const value: unknown = JSON.parse(lines[i]);
      if (typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as Record<string, unknown>)[key] === kind) {
        return value as Record<string, unknown>;
      }
    } catch {
      // not JSON: keep looking
    }
  }
  return undefined;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** Parses the last JSON line printed by CHECK_SCRIPT; undefined when the output is not one. */
export function parseCheckOutput(stdout: string): CheckReport | undefined {
  const v = lastJsonObject(stdout, 'found', 'boolean');
  return v && { found: v.found === true, python: text(v.python), executable: text(v.executable) };
}

/** The oldest Python the server supports: limits.json's ">=3.10", as pyproject.toml declares it. */
export const MIN_PYTHON = parseLowerBound(LIMITS.python);

/** [major, minor] of a ">=X.Y" bound. */
export function parseLowerBound(spec: string): [number, number] {
  const m = /^\s*>=\s*(\d+)\.(\d+)\s*$/.exec(spec);
  if (!m) {
    throw new Error(`Unsupported Python bound "${spec}": write it as >=X.Y.`);
  }
  return [Number(m[1]), Number(m[2])];
}

/** Whether an interpreter of `version` ("3.11.4") can run the server. */
export function isSupportedPython(version: string, [minMajor, minMinor]: [number, number] = MIN_PYTHON): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) {
    return true; // unknown: let the server decide
  }
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return major > minMajor || (major === minMajor && minor >= minMinor);
}

/**
 * The command and argument that open the settings editor where `attenScope.pythonPath` (a
 * machine-overridable setting) can be set: in a remote window (SSH, containers, WSL, code-server)
 * machine settings live on the Remote tab, which the User tab does not show. The argument is an
 * object: the remote command ignores a plain string query.
 */
export function settingsEditorCommand(remoteName: string | undefined, query: string): { command: string; args: { query: string } } {
  return { command: remoteName ? 'workbench.action.openRemoteSettings' : 'workbench.action.openSettings', args: { query } };
}
