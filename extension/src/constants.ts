/** Identifiers shared by the manifest (package.json) and the code. No 'vscode' import. */

export const EXTENSION_ID = 'atten-scope.atten-scope';
export const CONFIG_SECTION = 'attenScope';
export const SERVER_MODULE = 'atten_scope';
export const SAVED_SCHEME = 'atten-scope-saved';

export const Commands = {
  analyzeFile: 'attenScope.analyzeFile',
  showHeatmap: 'attenScope.showHeatmap',
  showModelView: 'attenScope.showModelView',
  toggleDirection: 'attenScope.toggleDirection',
  chooseLayersHeads: 'attenScope.chooseLayersHeads',
  chooseRefinement: 'attenScope.chooseRefinement',
  compareWith: 'attenScope.compareWith',
  markSelection: 'attenScope.markSelection',
  clear: 'attenScope.clear',
  restartServer: 'attenScope.restartServer',
  showLogs: 'attenScope.showLogs',
  statusMenu: 'attenScope.statusMenu',
} as const;

/** Delay between the last cursor move and the attention request. */
export const CURSOR_DEBOUNCE_MS = 120;
/** Idle time after an edit before an analysed document is analysed again (autoAnalyze). */
export const REANALYZE_IDLE_MS = 1500;
/** Time limits of requests that a user does not wait on explicitly. */
export const ATTENTION_TIMEOUT_MS = 15_000;
export const HEATMAP_TIMEOUT_MS = 120_000;
export const HEADS_TIMEOUT_MS = 30_000;
/** Largest number of tokens drawn in one heatmap; longer documents show a window around the cursor. */
export const HEATMAP_MAX_TOKENS = 4096;
/** How many targets a comparison asks for on each side. */
export const COMPARE_TOP_K = 200;
