/**
 * What the editors of each document paint, without 'vscode': one mode per document and the
 * transitions between modes.
 *
 * A document shows either the window's heat (attenScope.heatMode: the cursor's attention, or the
 * surprise heat) or one overlay that a command painted over it: the effect heat of removed lines,
 * a token's accumulative attention, why a token and not another (a contrast), a comparison, or a
 * completion's lines. An overlay belongs to
 * its document alone: entering, leaving or ending one never changes what another document shows.
 * The cursor view paints only documents that show the heat.
 */
import type { HeatMode } from './settings';
import { scaleSentence } from './surprise';

/** What a command paints over the heat of one document. */
export type OverlayMode = 'effect' | 'accumulative' | 'contrast' | 'compare' | 'completion';
/** What one document's editors show. */
export type PaintMode = HeatMode | OverlayMode;

export interface PaintingState {
  /** the heat of every document without an overlay (attenScope.heatMode) */
  readonly heat: HeatMode;
  /** document (its URI as a string) -> the overlay it shows */
  readonly overlays: ReadonlyMap<string, OverlayMode>;
}

export type PaintingEvent =
  /** a command painted an overlay into the document (it replaces the document's overlay, if any) */
  | { type: 'enter'; doc: string; mode: OverlayMode }
  /** the overlay's owner ended it (its panel closed); a no-op when the document shows another mode */
  | { type: 'leave'; doc: string; mode: OverlayMode }
  /** the heat was chosen (Toggle Heat Mode) with `doc` in the active editor: its overlay ends there */
  | { type: 'heat'; heat: HeatMode; doc?: string }
  /** the cursor moved in an editor of the document */
  | { type: 'cursorMoved'; doc: string }
  /** the document's text changed */
  | { type: 'edited'; doc: string }
  /** the document's analysis was replaced or dropped (undefined: every document's) */
  | { type: 'analysed'; doc?: string }
  /** Atten-Scope: Clear */
  | { type: 'clear' };

/** An overlay that a transition ended: its owner forgets it and its decorations go. */
export interface EndedOverlay {
  doc: string;
  mode: OverlayMode;
}

export interface Transition {
  state: PaintingState;
  ended: EndedOverlay[];
  /** the documents whose mode changed ('all': the heat changed, so every document without an overlay did) */
  changed: 'all' | string[];
}

/**
 * Which of the document's own events end each overlay (entering another overlay, the owner
 * leaving, Clear and choosing the heat end every overlay). The effect heat and a completion are
 * of one version of the text, so an edit ends them; the accumulative attention and a contrast are
 * about the token at the cursor and show until it moves (an edit moves it too); every overlay was
 * computed from the analysis, so a new analysis ends it.
 */
export const ENDS_ON: Readonly<Record<OverlayMode, Readonly<Record<'edited' | 'cursorMoved' | 'analysed', boolean>>>> = {
  effect: { edited: true, cursorMoved: false, analysed: true },
  accumulative: { edited: false, cursorMoved: true, analysed: true },
  contrast: { edited: true, cursorMoved: true, analysed: true },
  compare: { edited: false, cursorMoved: false, analysed: true },
  completion: { edited: true, cursorMoved: false, analysed: true },
};

/** The state of a window whose documents all show `heat`. */
export function initialPainting(heat: HeatMode): PaintingState {
  return { heat, overlays: new Map() };
}

/** What the editors of `doc` show (undefined: no document, the window's heat). */
export function modeOf(state: PaintingState, doc: string | undefined): PaintMode {
  return (doc === undefined ? undefined : state.overlays.get(doc)) ?? state.heat;
}

/** Whether the cursor view paints in this mode (the heat); an overlay is painted by its owner. */
export function isHeat(mode: PaintMode): mode is HeatMode {
  return mode === 'attention' || mode === 'surprise';
}

/** The state after `event`, the overlays it ended and the documents whose mode changed. */
export function transition(state: PaintingState, event: PaintingEvent): Transition {
  const overlays = new Map(state.overlays);
  const ended: EndedOverlay[] = [];
  const end = (doc: string): void => {
    const mode = overlays.get(doc);
    if (mode !== undefined) {
      overlays.delete(doc);
      ended.push({ doc, mode });
    }
  };
  let heat = state.heat;
  switch (event.type) {
    case 'enter':
      end(event.doc);
      overlays.set(event.doc, event.mode);
      return { state: { heat, overlays }, ended, changed: [event.doc] };
    case 'leave':
      if (overlays.get(event.doc) === event.mode) {
        end(event.doc);
      }
      break;
    case 'heat':
      heat = event.heat;
      if (event.doc !== undefined) {
        end(event.doc);
      }
      break;
    case 'cursorMoved':
    case 'edited': {
      const mode = overlays.get(event.doc);
      if (mode !== undefined && ENDS_ON[mode][event.type]) {
        end(event.doc);
      }
      break;
    }
    case 'analysed':
      for (const [doc, mode] of state.overlays) {
        if ((event.doc === undefined || event.doc === doc) && ENDS_ON[mode].analysed) {
          end(doc);
        }
      }
      break;
    case 'clear':
      heat = 'attention';
      for (const doc of state.overlays.keys()) {
        end(doc);
      }
      break;
  }
  const changed = heat !== state.heat ? 'all' : ended.map((e) => e.doc);
  return { state: { heat, overlays }, ended, changed };
}

const LABELS: Readonly<Record<PaintMode, string>> = {
  attention: 'attention',
  surprise: 'surprise',
  effect: 'effect heat',
  accumulative: 'accumulative',
  contrast: 'why this, not that',
  compare: 'compare',
  completion: 'completion',
};

/** The mode as the status bar names it after the view: nothing for the attention, the default. */
export function modeSuffix(mode: PaintMode): string {
  return mode === 'attention' ? '' : ` · ${LABELS[mode]}`;
}

/** One sentence on what the tints and the gutter show in `mode`, and what ends an overlay. */
export function modeSentence(mode: PaintMode): string {
  switch (mode) {
    case 'attention':
      return 'Heat: attention of the token under the cursor.';
    case 'surprise':
      return `Heat: surprise. ${scaleSentence()}`;
    case 'effect':
      return 'Effect heat: how removing the chosen lines changed the surprisal of each later token (red: the lines helped, green: they hindered). An edit, Toggle Heat Mode or Clear ends it.';
    case 'accumulative':
      return "Accumulative attention (ALTI rollout) of one token's sources, until the cursor moves.";
    case 'contrast':
      return "Why this and not that: green tokens pushed the prediction toward the model's choice, red ones toward the alternative, until the cursor moves.";
    case 'compare':
      return 'Comparison: green tokens gained attention, red ones lost it, until the Compare panel closes; Toggle Heat Mode or Clear ends it.';
    case 'completion':
      return 'Completion: the lines that drove the completion, until an edit or its panel closes; Toggle Heat Mode or Clear ends it.';
  }
}
