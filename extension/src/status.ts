/** The status bar item: model, server state, the current view and how faithful that view measured. */
import * as vscode from 'vscode';
import type { AnalysisStore } from './analyses';
import { Commands } from './constants';
import { contextNote, contextSummary } from './core/contextFiles';
import { faithfulnessLabel, faithfulnessSentence, modelLabel, viewLabel } from './core/format';
import { modeSentence, modeSuffix, type PaintMode } from './core/painting';
import type { ContextShare, Faithfulness } from './core/protocol';
import { displayLabel, type DisplayState } from './core/serverDisplay';
import { viewChanged, type Settings } from './core/settings';
import { keptBefore } from './staleness';

export type { DisplayState } from './core/serverDisplay';

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private state: DisplayState = 'stopped';
  private message = '';
  private model: string | undefined;
  private settings: Settings;
  private note = '';
  /** undefined: unknown (no answer yet for this view, or a server that does not say) */
  private faithfulness: Faithfulness | null | undefined;
  private lineFaithfulness: Faithfulness | undefined;
  /** what the active editor paints (painting.ts) */
  private mode: PaintMode = 'attention';
  /** the last attention answer's share in the context files, with links to their lines */
  private drewOn: string | undefined;

  constructor(settings: Settings) {
    this.settings = settings;
    this.item = vscode.window.createStatusBarItem('attenScope.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Atten-Scope';
    this.item.command = Commands.statusMenu;
    this.render();
    this.item.show();
  }

  setState(state: DisplayState, message = '', model?: string): void {
    this.state = state;
    this.message = message;
    if (model) {
      if (this.model !== undefined && model !== this.model) {
        this.faithfulness = undefined;
        this.lineFaithfulness = undefined;
      }
      this.model = model;
    }
    this.render();
  }

  get currentState(): DisplayState {
    return this.state;
  }

  setSettings(settings: Settings): void {
    if (settings.model !== this.settings.model) {
      this.model = undefined;
    }
    if (viewChanged(this.settings, settings)) {
      this.faithfulness = undefined;
      this.lineFaithfulness = undefined;
    }
    this.settings = settings;
    this.render();
  }

  /** What the active editor paints: the heat or an overlay. */
  setMode(mode: PaintMode): void {
    this.mode = mode;
    this.render();
  }

  /** A short note about the active document ("not analysed", "2 windows"...). */
  setNote(note: string): void {
    this.note = note;
    this.render();
  }

  /**
   * The faithfulness reported with an attention answer. `measuredWith` is the view the answer was
   * asked for: an answer that lands after the view changed must not label the new view.
   */
  setFaithfulness(
    faithfulness: Faithfulness | null | undefined,
    measuredWith: Settings,
    lineFaithfulness?: Faithfulness | null,
  ): void {
    if (viewChanged(measuredWith, this.settings)) {
      return;
    }
    this.faithfulness = faithfulness;
    this.lineFaithfulness = lineFaithfulness ?? undefined;
    this.render();
  }

  /** What the last attention answer drew on in the context files read before the document (undefined: nothing, or none were read). */
  setContext(share: ContextShare | undefined): void {
    this.drewOn = contextSummary(share);
    this.render();
  }

  private icon(): string {
    switch (this.state) {
      case 'loadingModel':
      case 'analyzing':
      case 'starting':
      case 'settingUp':
        return '$(loading~spin)';
      case 'error':
      case 'failed':
        return '$(error)';
      case 'stopped':
        return '$(circle-slash)';
      default:
        return '$(eye)';
    }
  }

  private render(): void {
    const model = modelLabel(this.model ?? this.settings.model);
    const view = viewLabel(this.settings);
    const faithful = this.faithfulness ? faithfulnessLabel(this.faithfulness) : undefined;
    const heat = modeSuffix(this.mode);
    // while Set Up runs there is no server to describe: the bar says what happens instead
    this.item.text =
      this.state === 'settingUp' ? `${this.icon()} Atten-Scope: setting up` : `${this.icon()} ${model} · ${view}${faithful ? ` · ${faithful}` : ''}${heat}`;
    const tooltip = new vscode.MarkdownString(undefined, true);
    tooltip.isTrusted = false;
    tooltip.appendMarkdown('**Atten-Scope**\n\n');
    tooltip.appendText(`Model: ${this.model ?? this.settings.model}\n`);
    tooltip.appendMarkdown('\n\n');
    tooltip.appendText(`Server: ${displayLabel(this.state)}${this.message ? ` — ${this.message}` : ''}`);
    tooltip.appendMarkdown('\n\n');
    tooltip.appendText(`View: ${view}${this.settings.dropSink ? ' · sink dropped' : ''}`);
    tooltip.appendMarkdown('\n\n');
    tooltip.appendText(modeSentence(this.mode));
    if (this.faithfulness !== undefined) {
      tooltip.appendMarkdown('\n\n');
      tooltip.appendText(faithfulnessSentence(this.faithfulness, this.lineFaithfulness));
    }
    if (this.note) {
      tooltip.appendMarkdown('\n\n');
      tooltip.appendText(this.note);
    }
    if (this.drewOn) {
      // its links open the context files at their lines (file URIs: no command, so no trust needed)
      tooltip.appendMarkdown(`\n\n${this.drewOn}`);
    }
    tooltip.appendMarkdown('\n\nClick for Atten-Scope commands.');
    this.item.tooltip = tooltip;
    this.item.backgroundColor =
      this.state === 'error' || this.state === 'failed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    this.item.accessibilityInformation = {
      label: `Atten-Scope: ${model}, ${displayLabel(this.state)}, ${view}${faithful ? `, faithfulness ${faithful}` : ''}`,
    };
  }

  dispose(): void {
    this.item.dispose();
  }
}

/** What the status bar notes about the analysis of the document in `editor`. */
export function analysisNote(editor: vscode.TextEditor | undefined, store: AnalysisStore): string {
  if (!editor) {
    return '';
  }
  const entry = store.get(editor.document.uri);
  if (!entry) {
    return 'This file is not analysed.';
  }
  if (entry.version !== editor.document.version) {
    const from = store.stale(editor.document);
    return `The file changed since it was analysed${from ? `: attention before ${keptBefore(editor.document, from)} still shows` : ''}.`;
  }
  const r = entry.result;
  const windows = Array.isArray(r.windows) && r.windows.length > 1 ? `, ${r.windows.length} windows` : '';
  const context = contextNote(r.contextFiles);
  return `${r.tokens} tokens${windows}${r.truncated ? ', truncated' : ''}${context ? `, ${context}` : ''}.`;
}
