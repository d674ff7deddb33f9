/**
 * The painting mode of each document (core/painting.ts holds the transitions): the events of the
 * editor, the store and the settings move it, overlays are entered and left through it, and an
 * overlay that ends loses its decorations and tells its owner.
 */
import * as vscode from 'vscode';
import type { AnalysisStore } from './analyses';
import { initialPainting, isHeat, modeOf, transition, type OverlayMode, type PaintingEvent, type PaintingState, type PaintMode } from './core/painting';
import type { HeatMode } from './core/settings';
import type { Painter } from './decorations';
import type { SettingsService } from './settings';

/** What the owner of an overlay gives when it enters one. */
export interface OverlayPaint {
  /** Paints the overlay into an editor of its document: at once, and into each editor of it shown later. */
  paint(editor: vscode.TextEditor): void;
  /** The overlay ended (an edit, an analysis, the heat chosen, Clear, another overlay): forget it. */
  ended?(): void;
}

/** One overlay entered in one document. */
export interface OverlayHandle {
  /** whether the document still shows this overlay */
  readonly active: boolean;
  /** Ends the overlay when the document still shows it (its panel closed). */
  leave(): void;
}

interface Registration {
  overlay: OverlayPaint;
  /** the editors it was painted into: VS Code makes a new editor when a hidden tab is shown again */
  painted: WeakSet<vscode.TextEditor>;
}

function keyOf(document: vscode.TextDocument | vscode.Uri): string {
  return ('uri' in document ? document.uri : document).toString();
}

/**
 * What every document of the window paints: the heat (the cursor view paints it) or an overlay
 * (its owner paints it through `enter`). Built before the cursor view, so that its listeners move
 * the mode before the cursor asks for it.
 */
export class Painting implements vscode.Disposable {
  private state: PaintingState;
  private readonly registrations = new Map<string, Registration>();
  private readonly emitter = new vscode.EventEmitter<string | undefined>();
  private readonly disposables: vscode.Disposable[] = [this.emitter];

  /** Fires after a document's mode changed (undefined: every document's, the heat changed). */
  readonly onDidChange = this.emitter.event;

  constructor(
    private readonly settings: SettingsService,
    store: AnalysisStore,
    private readonly painter: Painter,
  ) {
    this.state = initialPainting(settings.effective.heatMode);
    this.disposables.push(
      settings.onDidChange(({ after }) => {
        if (after.heatMode !== this.state.heat) {
          this.apply({ type: 'heat', heat: after.heatMode, doc: this.activeKey() });
        }
      }),
      store.onDidChange((uri) => this.apply({ type: 'analysed', doc: uri?.toString() })),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0) {
          this.apply({ type: 'edited', doc: keyOf(e.document) });
        }
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => this.apply({ type: 'cursorMoved', doc: keyOf(e.textEditor.document) })),
      vscode.window.onDidChangeVisibleTextEditors((editors) => {
        for (const editor of editors) {
          const registration = this.registrations.get(keyOf(editor.document));
          if (registration) {
            this.paintInto(registration, editor);
          }
        }
      }),
    );
  }

  /** What the editors of `document` show (no document: the window's heat). */
  modeOf(document: vscode.TextDocument | vscode.Uri | undefined): PaintMode {
    return modeOf(this.state, document && keyOf(document));
  }

  /** Whether the cursor view paints `document`: it shows the heat `heat` (either heat when left out). */
  showsHeat(document: vscode.TextDocument, heat?: HeatMode): boolean {
    const mode = this.modeOf(document);
    return isHeat(mode) && (heat === undefined || mode === heat);
  }

  /**
   * Shows an overlay in `document`'s editors in place of its heat or earlier overlay, which end
   * first; paints it into every visible editor of the document. Other documents keep theirs.
   */
  enter(document: vscode.TextDocument, mode: OverlayMode, overlay: OverlayPaint): OverlayHandle {
    const doc = keyOf(document);
    const changed = this.step({ type: 'enter', doc, mode });
    // the heat's tints go too: an overlay with decorations of its own would show over them
    this.painter.clearDocument(doc);
    const registration: Registration = { overlay, painted: new WeakSet() };
    this.registrations.set(doc, registration);
    for (const editor of vscode.window.visibleTextEditors) {
      if (keyOf(editor.document) === doc) {
        this.paintInto(registration, editor);
      }
    }
    this.fire(changed);
    const registrations = this.registrations;
    return {
      get active() {
        return registrations.get(doc) === registration;
      },
      leave: () => {
        if (registrations.get(doc) === registration) {
          this.apply({ type: 'leave', doc, mode });
        }
      },
    };
  }

  /** Atten-Scope: Clear: every overlay ends and the heat returns to attention. */
  clear(): void {
    this.apply({ type: 'clear' });
    if (this.settings.effective.heatMode !== this.state.heat) {
      this.settings.setView({ heatMode: this.state.heat });
    }
  }

  private activeKey(): string | undefined {
    const editor = vscode.window.activeTextEditor;
    return editor && keyOf(editor.document);
  }

  private paintInto(registration: Registration, editor: vscode.TextEditor): void {
    if (!registration.painted.has(editor)) {
      registration.painted.add(editor);
      registration.overlay.paint(editor);
    }
  }

  private apply(event: PaintingEvent): void {
    this.fire(this.step(event));
  }

  /** Moves to the next state; the overlays it ended lose their decorations and their owners are told. */
  private step(event: PaintingEvent): 'all' | string[] {
    const { state, ended, changed } = transition(this.state, event);
    this.state = state;
    for (const { doc } of ended) {
      const registration = this.registrations.get(doc);
      this.registrations.delete(doc);
      this.painter.clearDocument(doc);
      registration?.overlay.ended?.();
    }
    return changed;
  }

  private fire(changed: 'all' | string[]): void {
    if (changed === 'all') {
      this.emitter.fire(undefined);
    } else {
      for (const doc of new Set(changed)) {
        this.emitter.fire(doc);
      }
    }
  }

  dispose(): void {
    vscode.Disposable.from(...this.disposables).dispose();
  }
}
