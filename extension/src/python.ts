/** Which Python runs the server, and whether it has the server package. */
import { execFile } from 'node:child_process';
import * as os from 'node:os';
import { PVSC_EXTENSION_ID, PythonExtension } from '@vscode/python-extension';
import * as vscode from 'vscode';
import { CHECK_SCRIPT, expandInterpreterPath, isSupportedPython, MIN_PYTHON, parseCheckOutput } from './core/interpreter';
import type { Settings } from './core/settings';

export type InterpreterSource = 'setting' | 'pythonExtension' | 'default' | 'managed';

export interface Interpreter {
  /** executable followed by fixed arguments (a conda run wrapper may need some) */
  command: string[];
  source: InterpreterSource;
}

/** The Python extension's typed API; undefined when it is not installed or fails to start. */
async function pythonApi(log: vscode.LogOutputChannel): Promise<PythonExtension | undefined> {
  if (!vscode.extensions.getExtension(PVSC_EXTENSION_ID)) {
    return undefined;
  }
  try {
    return await PythonExtension.api();
  } catch (error) {
    log.warn(`The Python extension could not be activated: ${String(error)}`);
    return undefined;
  }
}

/** Subscribes to interpreter changes in the Python extension, when it is installed. */
export async function onPythonInterpreterChanged(
  listener: () => void,
  log: vscode.LogOutputChannel,
): Promise<vscode.Disposable | undefined> {
  const api = await pythonApi(log);
  return api?.environments.onDidChangeActiveEnvironmentPath(() => listener());
}

/**
 * attenScope.pythonPath, else the Python extension's active interpreter (trusted workspaces
 * only: an untrusted workspace can point that at its own binary), else python3.
 */
export async function resolveInterpreter(settings: Settings, trusted: boolean, log: vscode.LogOutputChannel): Promise<Interpreter> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (settings.pythonPath) {
    const expanded = expandInterpreterPath(settings.pythonPath, {
      home: os.homedir(),
      workspaceFolder: folder?.uri.fsPath,
      env: process.env,
      windows: process.platform === 'win32',
    });
    return { command: [expanded], source: 'setting' };
  }
  if (trusted) {
    const exe = await pythonExtensionInterpreter(log);
    if (exe) {
      return { command: [exe], source: 'pythonExtension' };
    }
  } else {
    log.info('Untrusted workspace: the Python extension\'s interpreter is not used.');
  }
  return { command: [process.platform === 'win32' ? 'python' : 'python3'], source: 'default' };
}

/** The Python extension's active interpreter for the first folder; undefined without one. */
export async function pythonExtensionInterpreter(log: vscode.LogOutputChannel): Promise<string | undefined> {
  const api = await pythonApi(log);
  if (!api) {
    return undefined;
  }
  try {
    const folder = vscode.workspace.workspaceFolders?.[0];
    const env = await api.environments.resolveEnvironment(api.environments.getActiveEnvironmentPath(folder?.uri));
    const exe = env?.executable.uri?.fsPath;
    if (!exe) {
      log.info('The Python extension has no resolvable active interpreter.');
    }
    return exe;
  } catch (error) {
    log.warn(`Could not read the Python extension's interpreter: ${String(error)}`);
    return undefined;
  }
}

export type CheckResult =
  | { ok: true; python: string; executable: string }
  | { ok: false; reason: 'notFound' | 'missingModule' | 'unsupported' | 'failed'; detail: string };

/** Runs the interpreter once to see that it exists and has the server package. */
export function checkInterpreter(interpreter: Interpreter, cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<CheckResult> {
  const [exe, ...args] = interpreter.command;
  return new Promise((resolve) => {
    execFile(exe, [...args, '-c', CHECK_SCRIPT], { cwd, env, timeout: timeoutMs, windowsHide: true }, (error, stdout, stderr) => {
      const report = parseCheckOutput(String(stdout));
      if (report) {
        if (!isSupportedPython(report.python)) {
          resolve({ ok: false, reason: 'unsupported', detail: `Python ${report.python} is too old; Atten-Scope needs Python ${MIN_PYTHON.join('.')} or newer.` });
        } else if (report.found) {
          resolve({ ok: true, python: report.python, executable: report.executable });
        } else {
          resolve({ ok: false, reason: 'missingModule', detail: report.executable || exe });
        }
        return;
      }
      const code = (error as NodeJS.ErrnoException | null)?.code;
      if (code === 'ENOENT' || code === 'EACCES') {
        resolve({ ok: false, reason: 'notFound', detail: `${exe}: ${code}` });
        return;
      }
      const detail = String(stderr).trim() || (error ? error.message : 'no output');
      resolve({ ok: false, reason: 'failed', detail });
    });
  });
}
