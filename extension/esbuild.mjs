// Bundles the extension (Node, CommonJS) and the webview scripts (browser, IIFE).
import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** @type {esbuild.BuildOptions} */
const common = {
  bundle: true,
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'info',
  absWorkingDir: root,
  legalComments: 'none',
};

const builds = [
  {
    ...common,
    entryPoints: ['extension/src/extension.ts'],
    outfile: 'extension/out/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    external: ['vscode'],
    mainFields: ['module', 'main'],
  },
  {
    ...common,
    entryPoints: {
      heatmap: 'extension/src/webview/heatmap.ts',
      modelView: 'extension/src/webview/modelView.ts',
      compare: 'extension/src/webview/compare.ts',
      neuron: 'extension/src/webview/neuron.ts',
      flow: 'extension/src/webview/flow.ts',
      completion: 'extension/src/webview/completion.ts',
      pinnedCard: 'extension/src/webview/pinnedCard.ts',
      // standalone drawing code for plain pages (benchmarks): window.drawHeatmap
      heatmapDraw: 'extension/src/webview/heatmapGlobal.ts',
    },
    outdir: 'extension/out/webview',
    platform: 'browser',
    format: 'iife',
    target: 'es2020',
  },
];

if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
