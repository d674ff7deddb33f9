import { describe, expect, it } from 'vitest';
import {
  initialPainting,
  isHeat,
  modeOf,
  modeSentence,
  modeSuffix,
  transition,
  type OverlayMode,
  type PaintingEvent,
  type PaintingState,
} from '../../src/core/painting';

const STDIO = 'file:///usr/include/stdio.h';
const MAIN = 'file:///src/main.c';
const OVERLAYS: OverlayMode[] = ['effect', 'accumulative', 'contrast', 'compare', 'completion'];

/** Runs the events from a window that shows the attention everywhere. */
function run(...events: PaintingEvent[]): PaintingState {
  return events.reduce((state, event) => transition(state, event).state, initialPainting('attention'));
}

describe('the painting transitions', () => {
  it('starts with every document showing the window heat', () => {
    expect(modeOf(initialPainting('attention'), MAIN)).toBe('attention');
    expect(modeOf(initialPainting('surprise'), MAIN)).toBe('surprise');
    expect(modeOf(initialPainting('surprise'), undefined)).toBe('surprise');
  });

  it('an open comparison in one editor leaves the tints and gutter heat of another (the Compare tab case)', () => {
    // Compare With... the saved version of main.c, then open stdio.h and click a token there
    const state = run({ type: 'enter', doc: MAIN, mode: 'compare' }, { type: 'cursorMoved', doc: STDIO });
    expect(modeOf(state, MAIN)).toBe('compare');
    expect(modeOf(state, STDIO)).toBe('attention');
    expect(isHeat(modeOf(state, STDIO))).toBe(true);
    expect(isHeat(modeOf(state, MAIN))).toBe(false);
    // the analysis of stdio.h does not close the comparison in main.c either
    expect(modeOf(transition(state, { type: 'analysed', doc: STDIO }).state, MAIN)).toBe('compare');
  });

  it('Toggle Heat Mode over the effect heat ends it and shows the surprise (the effect heat case)', () => {
    const shown = run({ type: 'enter', doc: MAIN, mode: 'effect' });
    const toggled = transition(shown, { type: 'heat', heat: 'surprise', doc: MAIN });
    expect(modeOf(toggled.state, MAIN)).toBe('surprise');
    expect(toggled.ended).toEqual([{ doc: MAIN, mode: 'effect' }]);
    expect(toggled.changed).toBe('all');
    expect(modeSuffix(modeOf(toggled.state, MAIN))).toBe(' · surprise');
    // and back: the attention, not the effect heat again
    expect(modeOf(transition(toggled.state, { type: 'heat', heat: 'attention', doc: MAIN }).state, MAIN)).toBe('attention');
  });

  it('the heat chosen in one editor leaves the overlays of the others', () => {
    const state = run({ type: 'enter', doc: MAIN, mode: 'effect' }, { type: 'heat', heat: 'surprise', doc: STDIO });
    expect(modeOf(state, MAIN)).toBe('effect');
    expect(modeOf(state, STDIO)).toBe('surprise');
  });

  it('the heat changed outside any editor changes only the documents without an overlay', () => {
    const { state, ended, changed } = transition(run({ type: 'enter', doc: MAIN, mode: 'compare' }), { type: 'heat', heat: 'surprise' });
    expect(modeOf(state, MAIN)).toBe('compare');
    expect(modeOf(state, STDIO)).toBe('surprise');
    expect(ended).toEqual([]);
    expect(changed).toBe('all');
  });

  it('Clear ends every overlay and returns to the attention', () => {
    const before = run(
      { type: 'heat', heat: 'surprise' },
      { type: 'enter', doc: MAIN, mode: 'effect' },
      { type: 'enter', doc: STDIO, mode: 'compare' },
    );
    const { state, ended, changed } = transition(before, { type: 'clear' });
    expect(modeOf(state, MAIN)).toBe('attention');
    expect(modeOf(state, STDIO)).toBe('attention');
    expect(state.heat).toBe('attention');
    expect(ended).toEqual([
      { doc: MAIN, mode: 'effect' },
      { doc: STDIO, mode: 'compare' },
    ]);
    expect(changed).toBe('all');
  });

  it('entering an overlay ends the one the document showed, and only that one', () => {
    const before = run({ type: 'enter', doc: MAIN, mode: 'effect' }, { type: 'enter', doc: STDIO, mode: 'completion' });
    const { state, ended, changed } = transition(before, { type: 'enter', doc: MAIN, mode: 'accumulative' });
    expect(modeOf(state, MAIN)).toBe('accumulative');
    expect(modeOf(state, STDIO)).toBe('completion');
    expect(ended).toEqual([{ doc: MAIN, mode: 'effect' }]);
    expect(changed).toEqual([MAIN]);
    // a new effect heat replaces the shown one: its owner is told that the earlier one ended
    expect(transition(run({ type: 'enter', doc: MAIN, mode: 'effect' }), { type: 'enter', doc: MAIN, mode: 'effect' }).ended).toEqual([
      { doc: MAIN, mode: 'effect' },
    ]);
  });

  it('leaving ends only the overlay left: a closed comparison leaves a later effect heat', () => {
    const compared = run({ type: 'enter', doc: MAIN, mode: 'compare' });
    expect(modeOf(transition(compared, { type: 'leave', doc: MAIN, mode: 'compare' }).state, MAIN)).toBe('attention');
    const replaced = transition(compared, { type: 'enter', doc: MAIN, mode: 'effect' }).state;
    const left = transition(replaced, { type: 'leave', doc: MAIN, mode: 'compare' });
    expect(modeOf(left.state, MAIN)).toBe('effect');
    expect(left.ended).toEqual([]);
    expect(left.changed).toEqual([]);
  });

  it('an edit ends the overlays of one version of the text and keeps the others', () => {
    const after = (mode: OverlayMode) => modeOf(run({ type: 'enter', doc: MAIN, mode }, { type: 'edited', doc: MAIN }), MAIN);
    expect(after('effect')).toBe('attention');
    expect(after('completion')).toBe('attention');
    expect(after('contrast')).toBe('attention');
    expect(after('accumulative')).toBe('accumulative');
    expect(after('compare')).toBe('compare');
  });

  it('a cursor move ends the overlays about the token at the cursor only', () => {
    const after = (mode: OverlayMode) => modeOf(run({ type: 'enter', doc: MAIN, mode }, { type: 'cursorMoved', doc: MAIN }), MAIN);
    expect(after('accumulative')).toBe('attention');
    expect(after('contrast')).toBe('attention');
    expect(after('effect')).toBe('effect');
    expect(after('compare')).toBe('compare');
    expect(after('completion')).toBe('completion');
  });

  it("a new analysis ends the document's overlay; a dropped store ends them all", () => {
    for (const mode of OVERLAYS) {
      const shown = run({ type: 'enter', doc: MAIN, mode }, { type: 'enter', doc: STDIO, mode });
      const own = transition(shown, { type: 'analysed', doc: MAIN });
      expect(modeOf(own.state, MAIN), mode).toBe('attention');
      expect(modeOf(own.state, STDIO), mode).toBe(mode);
      expect(own.changed).toEqual([MAIN]);
      const all = transition(shown, { type: 'analysed' });
      expect(all.ended.map((e) => e.doc).sort(), mode).toEqual([MAIN, STDIO].sort());
    }
  });

  it("no event about one document changes another document's overlay", () => {
    const events: PaintingEvent[] = [
      { type: 'edited', doc: STDIO },
      { type: 'cursorMoved', doc: STDIO },
      { type: 'analysed', doc: STDIO },
      { type: 'leave', doc: STDIO, mode: 'compare' },
      { type: 'enter', doc: STDIO, mode: 'compare' },
      { type: 'heat', heat: 'surprise', doc: STDIO },
    ];
    for (const mode of OVERLAYS) {
      for (const event of events) {
        const { state, ended } = transition(run({ type: 'enter', doc: MAIN, mode }), event);
        expect(modeOf(state, MAIN), `${mode} after ${event.type}`).toBe(mode);
        expect(ended.some((e) => e.doc === MAIN)).toBe(false);
      }
    }
  });

  it('does not change the state it is given', () => {
    const before = run({ type: 'enter', doc: MAIN, mode: 'effect' });
    transition(before, { type: 'clear' });
    transition(before, { type: 'enter', doc: STDIO, mode: 'compare' });
    expect([...before.overlays]).toEqual([[MAIN, 'effect']]);
    expect(before.heat).toBe('attention');
  });

  it('names each mode in the status bar and explains it in the tooltip', () => {
    expect(modeSuffix('attention')).toBe('');
    expect(modeSuffix('effect')).toBe(' · effect heat');
    expect(modeSuffix('compare')).toBe(' · compare');
    const suffixes = (['attention', 'surprise', ...OVERLAYS] as const).map(modeSuffix);
    expect(new Set(suffixes).size).toBe(suffixes.length);
    expect(modeSentence('surprise')).toMatch(/bits a step/);
    expect(modeSentence('effect')).toMatch(/Toggle Heat Mode/);
  });
});
