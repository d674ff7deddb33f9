/** HTML helpers for webviews: escaping, nonces and the content security policy. */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const NONCE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random nonce; `random` returns bytes (crypto.getRandomValues-like). */
export function makeNonce(random: (bytes: Uint8Array) => Uint8Array, length = 32): string {
  const bytes = random(new Uint8Array(length));
  let out = '';
  for (const b of bytes) {
    out += NONCE_CHARS[b % NONCE_CHARS.length];
  }
  return out;
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
  ].join('; ');
}
