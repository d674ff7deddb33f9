/** The entries of the Choose Refinement picker, built from a catalog. No 'vscode' import. */
import type { Catalog, Choice } from './catalog';
import type { Aggregate, Refinement } from './protocol';

export type ViewEntry =
  | { kind: 'separator'; label: string }
  | { kind: 'refinement'; refinement: Refinement; label: string; description: string; detail: string; current: boolean }
  | { kind: 'aggregate'; aggregate: Aggregate; label: string; description: string; detail: string; current: boolean };

/** The label the user reads, the setting's name beside it, the description (and cost) below. */
function shown(choice: Choice, current: boolean): { label: string; description: string; detail: string; current: boolean } {
  return {
    label: choice.label,
    description: choice.label === choice.name ? '' : choice.name,
    detail: choice.cost ? `${choice.description} Cost: ${choice.cost}` : choice.description,
    current,
  };
}

/** Refinements, then aggregates, each under its heading, in the order the catalog gives them. */
export function viewEntries(catalog: Catalog, current: { refinement: Refinement; aggregate: Aggregate }): ViewEntry[] {
  return [
    { kind: 'separator', label: 'Refinement' },
    ...catalog.refinements.map((r): ViewEntry => ({ kind: 'refinement', refinement: r.name, ...shown(r, r.name === current.refinement) })),
    { kind: 'separator', label: 'Aggregation' },
    ...catalog.aggregates.map((a): ViewEntry => ({ kind: 'aggregate', aggregate: a.name, ...shown(a, a.name === current.aggregate) })),
  ];
}
