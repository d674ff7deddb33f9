import { describe, expect, it } from 'vitest';
import { CHECK_SCRIPT, expandInterpreterPath, isSupportedPython, MIN_PYTHON, parseCheckOutput, parseLowerBound, settingsEditorCommand } from '../../src/core/interpreter';

const ctx = { home: '/Users/me', workspaceFolder: '/ws/project', env: { VENV: '/opt/venv' } };

describe('expandInterpreterPath', () => {
  it('expands home, variables and relative paths', () => {
    expect(expandInterpreterPath('~/venv/bin/python', ctx)).toBe('/Users/me/venv/bin/python');
    expect(expandInterpreterPath('${userHome}/py', ctx)).toBe('/Users/me/py');
    expect(expandInterpreterPath('${workspaceFolder}/.venv/bin/python', ctx)).toBe('/ws/project/.venv/bin/python');
    expect(expandInterpreterPath('${env:VENV}/bin/python', ctx)).toBe('/opt/venv/bin/python');
    expect(expandInterpreterPath('${env:MISSING}/python', ctx)).toBe('/python');
    expect(expandInterpreterPath('./.venv/bin/python', ctx)).toBe('/ws/project/.venv/bin/python');
  });

  it('leaves bare commands and absolute paths alone', () => {
    expect(expandInterpreterPath('python3', ctx)).toBe('python3');
    expect(expandInterpreterPath('/usr/bin/python3', ctx)).toBe('/usr/bin/python3');
    expect(expandInterpreterPath('  ', ctx)).toBe('');
  });

  it('keeps ${workspaceFolder} when there is no folder', () => {
    expect(expandInterpreterPath('${workspaceFolder}/py', { home: '/h', env: {} })).toBe('${workspaceFolder}/py');
  });

  it('understands Windows paths', () => {
    const win = { home: 'C:\\Users\\me', workspaceFolder: 'C:\\ws', env: {}, windows: true };
    expect(expandInterpreterPath('.venv\\Scripts\\python.exe', win)).toBe('C:\\ws\\.venv\\Scripts\\python.exe');
    expect(expandInterpreterPath('D:\\py\\python.exe', win)).toBe('D:\\py\\python.exe');
    expect(expandInterpreterPath('~\\py\\python.exe', win)).toBe('C:\\Users\\me\\py\\python.exe');
  });

  it('keeps unicode paths', () => {
    expect(expandInterpreterPath('/Users/zoë/環境/bin/python', ctx)).toBe('/Users/zoë/環境/bin/python');
  });
});

describe('parseCheckOutput', () => {
  it('reads the report line even after noise', () => {
    const out = 'some warning\n{"found": true, "python": "3.11.4", "executable": "/x/python"}\n';
    expect(parseCheckOutput(out)).toEqual({ found: true, python: '3.11.4', executable: '/x/python' });
  });

  it('reads a missing package', () => {
    expect(parseCheckOutput('{"found": false, "python": "3.12.0", "executable": "/y"}')?.found).toBe(false);
  });

  it('returns undefined for garbage', () => {
    expect(parseCheckOutput('')).toBeUndefined();
    expect(parseCheckOutput('Traceback (most recent call last):\n  ...')).toBeUndefined();
    expect(parseCheckOutput('{"python": "3.12"}')).toBeUndefined();
    expect(parseCheckOutput('[1, 2]')).toBeUndefined();
  });

  it('the check script does not import the server package', () => {
    expect(CHECK_SCRIPT).toContain('find_spec("atten_scope")');
    expect(CHECK_SCRIPT).not.toMatch(/import atten_scope/);
  });
});

describe('versions and hints', () => {
  it('needs the Python that pyproject.toml declares (limits.json: >=3.10)', () => {
    expect(MIN_PYTHON).toEqual([3, 10]);
    expect(isSupportedPython('3.8.10')).toBe(false);
    expect(isSupportedPython('3.9.18')).toBe(false);
    expect(isSupportedPython('3.10.0')).toBe(true);
    expect(isSupportedPython('3.13.1')).toBe(true);
    expect(isSupportedPython('4.0')).toBe(true);
    expect(isSupportedPython('2.7.18')).toBe(false);
    expect(isSupportedPython('weird')).toBe(true);
  });

  it('reads ">=X.Y" bounds and refuses others', () => {
    expect(parseLowerBound('>=3.10')).toEqual([3, 10]);
    expect(parseLowerBound(' >= 3.12 ')).toEqual([3, 12]);
    expect(isSupportedPython('3.11.2', [3, 12])).toBe(false);
    expect(() => parseLowerBound('~=3.10')).toThrow(/>=X\.Y/);
  });
});

describe('settingsEditorCommand', () => {
  it('opens the Remote tab in a remote window, the user settings otherwise', () => {
    expect(settingsEditorCommand('ssh-remote', 'attenScope.pythonPath')).toEqual({
      command: 'workbench.action.openRemoteSettings',
      args: { query: 'attenScope.pythonPath' },
    });
    expect(settingsEditorCommand(undefined, 'attenScope.pythonPath')).toEqual({
      command: 'workbench.action.openSettings',
      args: { query: 'attenScope.pythonPath' },
    });
  });
});
