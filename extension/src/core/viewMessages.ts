/** Messages from the extension to its webviews. */
import type { FlowLayout } from './flow';
import type { NeuronView } from './neuron';
import type { Aggregate, Direction, IndexSelection, Refinement } from './protocol';
import type { HeatmapResult } from './protocolViews';

export interface LoadingMessage {
  type: 'loading';
  text: string;
}

export interface ErrorMessage {
  type: 'error';
  message: string;
}

/** A well-formed loading or error message (``value`` is whatever arrived over postMessage). */
export function isProgressMessage(value: unknown): value is LoadingMessage | ErrorMessage {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const m = value as Record<string, unknown>;
  return (m.type === 'loading' && typeof m.text === 'string') || (m.type === 'error' && typeof m.message === 'string');
}

export interface NamedChoice {
  name: string;
  label: string;
}

export interface HeatmapView {
  layer: number | 'all';
  head: number | 'all';
  refinement: Refinement;
  aggregate: Aggregate;
}

export interface HeatmapDataMessage {
  type: 'data';
  title: string;
  /** the overview: the whole analysed file, max-pooled (the server's answer) */
  grid: HeatmapResult;
  /** a token to mark on both axes (the cursor's when the panel opened) */
  focus?: number;
  layers: number;
  heads: number;
  view: HeatmapView;
  /** the choices of the view's selects: the running server's lists */
  refinements: NamedChoice[];
  aggregates: NamedChoice[];
  note?: string;
}

/** A finer grid of the range the page zoomed into (an answer to its 'zoom'). */
export interface HeatmapDetailMessage {
  type: 'detail';
  grid: HeatmapResult;
}

export type ToHeatmap = LoadingMessage | ErrorMessage | HeatmapDataMessage | HeatmapDetailMessage;

export interface ModelViewCell {
  layer: number;
  head: number;
  entropy: number;
  weight: number;
  top: { index: number; text: string; label?: string } | null;
}

export interface ModelViewDataMessage {
  type: 'data';
  title: string;
  token: { index: number; text: string; label?: string; line: number };
  layers: number;
  heads: number;
  cells: ModelViewCell[];
  selected: { layers: IndexSelection; heads: IndexSelection };
  refinement: Refinement;
  direction: Direction;
}

export type ToModelView = LoadingMessage | ErrorMessage | ModelViewDataMessage;

/** The neuron view's data: one (query, source) pair at one head, its logit in parts. */
export interface NeuronDataMessage {
  type: 'data';
  title: string;
  token: { label: string; line: number };
  source: { label: string; line: number };
  layer: number;
  head: number;
  kvHead: number;
  view: NeuronView;
}

export type ToNeuronView = LoadingMessage | ErrorMessage | NeuronDataMessage;

// Each page's data message is its own contract: alike in shape to the others, not in meaning.
/** The information-flow view's data: the laid-out graph and the options it was traced with. */
export interface FlowDataMessage {
  type: 'data';
  title: string;
  token: { label: string; line: number };
  layout: FlowLayout;
  threshold: number;
  maxNodes: number;
  caption: string;
}

export type ToFlowView = LoadingMessage | ErrorMessage | FlowDataMessage;
