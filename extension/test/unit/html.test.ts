import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, escapeHtml, makeNonce } from '../../src/core/html';

describe('escapeHtml', () => {
  it('escapes markup characters', () => {
    expect(escapeHtml(`<img src=x onerror="alert('x')">&`)).toBe('&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;');
  });
  it('keeps unicode and empty text', () => {
    expect(escapeHtml('😀 é 漢字')).toBe('😀 é 漢字');
    expect(escapeHtml('')).toBe('');
  });
});

describe('nonce and CSP', () => {
  it('makes alphanumeric nonces of the asked length that differ', () => {
    const a = makeNonce((b) => randomFillSync(b));
    const b = makeNonce((b) => randomFillSync(b));
    expect(a).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(a).not.toBe(b);
    expect(makeNonce((x) => x.fill(0), 4)).toBe('AAAA');
  });

  it('allows nothing remote', () => {
    const csp = contentSecurityPolicy('https://file+.vscode-resource.vscode-cdn.net', 'abc');
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'nonce-abc'");
    expect(csp).toContain("style-src https://file+.vscode-resource.vscode-cdn.net 'nonce-abc'");
    expect(csp).toContain('img-src https://file+.vscode-resource.vscode-cdn.net data:');
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
  });
});
