import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { AnalysisStore } from '../../src/analyses';
import type { HeatMode } from '../../src/core/settings';
import type { Painter } from '../../src/decorations';
import { Painting } from '../../src/painting';
import type { SettingsService } from '../../src/settings';

// The few parts of VS Code's API that painting.ts uses, driven by the tests.
const vs = vi.hoisted(() => {
  class EventEmitter<T> {
    private listeners: ((e: T) => void)[] = [];
    readonly event = (listener: (e: T) => void): { dispose(): void } => {
      this.listeners.push(listener);
      return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
    };
    fire(e: T): void {
      for (const listener of [...this.listeners]) {
        listener(e);
      }
    }
    dispose(): void {
      this.listeners = [];
    }
  }
  const selection = new EventEmitter<{ textEditor: { document: unknown } }>();
  const visible = new EventEmitter<unknown[]>();
  const edits = new EventEmitter<{ document: unknown; contentChanges: unknown[] }>();
  const window = {
    visibleTextEditors: [] as unknown[],
    activeTextEditor: undefined as unknown,
    onDidChangeTextEditorSelection: selection.event,
    onDidChangeVisibleTextEditors: visible.event,
  };
  const Disposable = { from: (...items: { dispose(): void }[]) => ({ dispose: () => items.forEach((d) => d.dispose()) }) };
  return { EventEmitter, selection, visible, edits, window, workspace: { onDidChangeTextDocument: edits.event }, Disposable };
});
vi.mock('vscode', () => ({ EventEmitter: vs.EventEmitter, window: vs.window, workspace: vs.workspace, Disposable: vs.Disposable }));

interface FakeDocument {
  uri: { toString(): string };
}
interface FakeEditor {
  document: FakeDocument;
}

const doc = (uri: string): FakeDocument => ({ uri: { toString: () => uri } });
const MAIN = doc('file:///src/main.c');
const STDIO = doc('file:///usr/include/stdio.h');

function setup(heat: HeatMode = 'attention') {
  const settingsChanged = new vs.EventEmitter<{ after: { heatMode: HeatMode } }>();
  const storeChanged = new vs.EventEmitter<{ toString(): string } | undefined>();
  const settings = {
    effective: { heatMode: heat },
    onDidChange: settingsChanged.event,
    setView(view: { heatMode: HeatMode }) {
      settings.effective = { heatMode: view.heatMode };
      settingsChanged.fire({ after: settings.effective });
    },
  };
  const toggle = (): void => settings.setView({ heatMode: settings.effective.heatMode === 'attention' ? 'surprise' : 'attention' });
  const cleared: string[] = [];
  const painter = { clearDocument: (uri: string) => cleared.push(uri) };
  const painting = new Painting(settings as unknown as SettingsService, { onDidChange: storeChanged.event } as unknown as AnalysisStore, painter as unknown as Painter);
  const changes: (string | undefined)[] = [];
  painting.onDidChange((d) => changes.push(d));
  return { painting, settings, toggle, storeChanged, cleared, changes };
}

/** An overlay owner that records where it painted and whether it was told that it ended. */
function owner() {
  const painted: FakeEditor[] = [];
  let ended = 0;
  return {
    painted,
    ended: () => ended,
    overlay: { paint: (editor: unknown) => painted.push(editor as FakeEditor), ended: () => void ended++ },
  };
}

const enter = (painting: Painting, document: FakeDocument, mode: Parameters<Painting['enter']>[1], overlay: ReturnType<typeof owner>['overlay']) =>
  painting.enter(document as never, mode, overlay);

describe('the painting of each document', () => {
  let main: FakeEditor;
  let stdio: FakeEditor;
  beforeEach(() => {
    main = { document: MAIN };
    stdio = { document: STDIO };
    vs.window.visibleTextEditors = [main, stdio];
    vs.window.activeTextEditor = main;
  });

  it('paints an overlay into the visible editors of its document only, and into one of it shown again later', () => {
    const { painting } = setup();
    const effect = owner();
    enter(painting, MAIN, 'effect', effect.overlay);
    expect(effect.painted).toEqual([main]);
    // the tab was hidden and shown again: VS Code made a new editor, without the decorations
    const again: FakeEditor = { document: MAIN };
    vs.window.visibleTextEditors = [again, stdio];
    vs.visible.fire(vs.window.visibleTextEditors);
    vs.visible.fire(vs.window.visibleTextEditors);
    expect(effect.painted).toEqual([main, again]);
  });

  it('with a comparison open in one editor, another editor still shows the heat', () => {
    const { painting, cleared } = setup();
    enter(painting, MAIN, 'compare', owner().overlay);
    vs.window.activeTextEditor = stdio;
    vs.selection.fire({ textEditor: stdio });
    expect(painting.showsHeat(STDIO as never, 'attention')).toBe(true);
    expect(painting.modeOf(STDIO as never)).toBe('attention');
    expect(painting.modeOf(MAIN as never)).toBe('compare');
    expect(cleared).not.toContain(STDIO.uri.toString());
  });

  it('Toggle Heat Mode over the effect heat ends it, clears its decorations and shows the surprise', () => {
    const { painting, toggle, cleared, changes } = setup();
    const effect = owner();
    enter(painting, MAIN, 'effect', effect.overlay);
    cleared.length = 0;
    changes.length = 0;
    toggle();
    expect(painting.modeOf(MAIN as never)).toBe('surprise');
    expect(painting.showsHeat(MAIN as never, 'surprise')).toBe(true);
    expect(effect.ended()).toBe(1);
    expect(cleared).toEqual([MAIN.uri.toString()]);
    expect(changes).toEqual([undefined]);
  });

  it('a handle left after its overlay was replaced leaves the newer one alone', () => {
    const { painting } = setup();
    const compare = owner();
    const first = enter(painting, MAIN, 'compare', compare.overlay);
    const effect = owner();
    enter(painting, MAIN, 'effect', effect.overlay);
    expect(first.active).toBe(false);
    expect(compare.ended()).toBe(1);
    first.leave();
    expect(painting.modeOf(MAIN as never)).toBe('effect');
    expect(effect.ended()).toBe(0);
  });

  it("an analysis of one document ends that document's overlay and no other", () => {
    const { painting, storeChanged } = setup();
    const inMain = owner();
    const inStdio = owner();
    enter(painting, MAIN, 'completion', inMain.overlay);
    enter(painting, STDIO, 'accumulative', inStdio.overlay);
    storeChanged.fire(STDIO.uri);
    expect(painting.modeOf(STDIO as never)).toBe('attention');
    expect(painting.modeOf(MAIN as never)).toBe('completion');
    expect([inMain.ended(), inStdio.ended()]).toEqual([0, 1]);
  });

  it('an edit ends the effect heat of the edited document', () => {
    const { painting } = setup();
    const effect = owner();
    enter(painting, MAIN, 'effect', effect.overlay);
    vs.edits.fire({ document: STDIO, contentChanges: [{}] });
    expect(painting.modeOf(MAIN as never)).toBe('effect');
    vs.edits.fire({ document: MAIN, contentChanges: [] });
    expect(painting.modeOf(MAIN as never)).toBe('effect');
    vs.edits.fire({ document: MAIN, contentChanges: [{}] });
    expect(painting.modeOf(MAIN as never)).toBe('attention');
    expect(effect.ended()).toBe(1);
  });

  it('Clear ends the overlays and sets the heat back to attention', () => {
    const { painting, settings, toggle } = setup();
    toggle();
    const effect = owner();
    enter(painting, MAIN, 'effect', effect.overlay);
    painting.clear();
    expect(settings.effective.heatMode).toBe('attention');
    expect(painting.modeOf(MAIN as never)).toBe('attention');
    expect(painting.modeOf(undefined)).toBe('attention');
    expect(effect.ended()).toBe(1);
  });
});
