/** Messages from the extension to its webviews. */
import type { Aggregate, Direction, IndexSelection, Refinement } from './protocol';

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
  n: number;
  /** document index of the first token */
  offset: number;
  scale: number;
  /** base64 lower triangle, as the server sent it */
  data: string;
  /** token texts, in order (tokens[i] is document token offset + i) */
  tokens: string[];
  layers: number;
  heads: number;
  view: HeatmapView;
  /** the choices of the view's selects: the running server's lists */
  refinements: NamedChoice[];
  aggregates: NamedChoice[];
  note?: string;
}

export type ToHeatmap = LoadingMessage | ErrorMessage | HeatmapDataMessage;

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
