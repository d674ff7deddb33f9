/** Identifiers shared by the manifest (package.json) and the code. No 'vscode' import. */

export const CONFIG_SECTION = 'attenScope';
export const SERVER_MODULE = 'atten_scope';
export const SAVED_SCHEME = 'atten-scope-saved';

export const Commands = {
  analyzeFile: 'attenScope.analyzeFile',
  analyzeWithContext: 'attenScope.analyzeWithContext',
  showHeatmap: 'attenScope.showHeatmap',
  showModelView: 'attenScope.showModelView',
  showNeuronView: 'attenScope.showNeuronView',
  showFlow: 'attenScope.showFlow',
  showAccumulative: 'attenScope.showAccumulative',
  removeLines: 'attenScope.removeLines',
  toggleDirection: 'attenScope.toggleDirection',
  toggleHeatMode: 'attenScope.toggleHeatMode',
  chooseTintUnit: 'attenScope.chooseTintUnit',
  chooseLayersHeads: 'attenScope.chooseLayersHeads',
  chooseRefinement: 'attenScope.chooseRefinement',
  chooseModel: 'attenScope.chooseModel',
  compareWith: 'attenScope.compareWith',
  markSelection: 'attenScope.markSelection',
  clear: 'attenScope.clear',
  restartServer: 'attenScope.restartServer',
  showLogs: 'attenScope.showLogs',
  statusMenu: 'attenScope.statusMenu',
  setUp: 'attenScope.setUp',
  completeHere: 'attenScope.completeHere',
  dismissCompletion: 'attenScope.dismissCompletion',
  explainPrediction: 'attenScope.explainPrediction',
  whyThisNotThat: 'attenScope.whyThisNotThat',
  showLogitLens: 'attenScope.showLogitLens',
  pinHoverCard: 'attenScope.pinHoverCard',
} as const;

/** Context key: a completion preview is shown in the active editor (Escape dismisses it). */
export const COMPLETION_PREVIEW_CONTEXT = 'attenScope.completionPreview';

/**
 * The commands the server's hover card may link to (`command:` links in its Markdown); the
 * language client trusts these and no others.
 */
export const HOVER_COMMANDS: readonly string[] = [Commands.showFlow, Commands.pinHoverCard];

/** Delay between the last cursor move and the attention request. */
export const CURSOR_DEBOUNCE_MS = 120;
/** Idle time after an edit before an analysed document is analysed again (autoAnalyze). */
export const REANALYZE_IDLE_MS = 1500;
/**
 * attenScope.reanalyzeAfterEdit re-analyses files up to this many tokens: a one-line edit at
 * 1.9k tokens took 1.3 s on two CPU cores (bench/RESULTS.md), short enough to follow typing.
 */
export const REANALYZE_MAX_TOKENS = 2048;
/** How many targets a comparison asks for on each side. */
export const COMPARE_TOP_K = 200;
/** A comparison asks for two answers of COMPARE_TOP_K targets at once: twice the attention limit. */
export const COMPARE_TIMEOUT_MS = 30_000;
