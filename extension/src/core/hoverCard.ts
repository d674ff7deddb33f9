/**
 * The pinned hover card: the server's card picked out of every hover provider's Markdown, its
 * token and line, and the Markdown exported for a code review (a header naming the file, the line
 * and the model; the card without the links that only work inside the editor). No 'vscode' import.
 */

/** The server's card opens with `**Atten-Scope** — ` (the surprise heat's own hover does not). */
const CARD_START = /^\s*\*\*Atten-Scope\*\*\s+\u2014/;
/** Its first line: `**Atten-Scope** — `total` (line 12)`, or `` `il` in `nil` `` for a piece of a word. */
const HEADING = /^\s*\*\*Atten-Scope\*\*\s+\u2014\s+(.+?)\s+\(line (\d+)\)\s*$/;
/** Its settings line ends with the model as a code span: `*norm · lastLayers* — `model``. */
const MODEL_AT_END = /^\*.*\*\s+\u2014\s+(`+)(.+?)\1\s*$/;
/** A Markdown link `[text](target)` whose target has no spaces or parentheses (the server's links). */
const LINK = /\[((?:\\.|[^\\\]])*)\]\(([a-z][a-z0-9+.-]*:[^()\s]*)\)/gi;

/** Hover contents as VS Code's `vscode.executeHoverProvider` returns them. */
export interface HoverLike {
  readonly contents: readonly unknown[];
}

/** The Markdown (or plain text) of each part of each hover. */
export function hoverTexts(hovers: readonly HoverLike[]): string[] {
  const texts: string[] = [];
  for (const hover of hovers) {
    for (const part of hover.contents) {
      if (typeof part === 'string') {
        texts.push(part);
      } else if (typeof part === 'object' && part !== null && typeof (part as { value?: unknown }).value === 'string') {
        texts.push((part as { value: string }).value);
      }
    }
  }
  return texts;
}

/** The Atten-Scope card among the hover texts, if any. */
export function pickCard(texts: readonly string[]): string | undefined {
  return texts.find((text) => CARD_START.test(text));
}

/** The contents of the code spans in `text`, without their fences: `` `il` in `nil` `` -> `il in nil`. */
export function plainCodeSpans(text: string): string {
  return text.replace(/(`+)(.+?)\1(?!`)/g, (_, _fence: string, inner: string) => unpadded(inner));
}

/** A code span's content: one space each side is padding where both are there. */
function unpadded(inner: string): string {
  return /^ .* $/.test(inner) ? inner.slice(1, -1) : inner;
}

/** The token (as the card shows it, without code fences) and the 1-based line the card is about. */
export function cardHeading(card: string): { token: string; line: number } | undefined {
  const match = HEADING.exec(card.split('\n', 1)[0]);
  return match ? { token: plainCodeSpans(match[1]), line: Number(match[2]) } : undefined;
}

/** The model the card names at the end of its settings line, if any. */
export function cardModel(card: string): string | undefined {
  for (const line of card.split('\n').reverse()) {
    const match = MODEL_AT_END.exec(line.trim());
    if (match) {
      return unpadded(match[2]);
    }
  }
  return undefined;
}

/**
 * `markdown` without its `command:` links (they do nothing outside the editor) and with its
 * `file:` links as their text (a path of one machine means nothing in a review). A line left with
 * only separators (`·`) goes, and so do runs of blank lines.
 */
export function stripEditorLinks(markdown: string): string {
  const lines: string[] = [];
  for (const line of markdown.split('\n')) {
    let removed = false;
    const kept = line.replace(LINK, (link: string, text: string, target: string) => {
      if (/^command:/i.test(target)) {
        removed = true;
        return '';
      }
      return /^file:/i.test(target) ? text : link;
    });
    if (!removed) {
      lines.push(kept);
    } else if (!/^[\s\u00b7|,;]*$/.test(kept)) {
      lines.push(kept.replace(/ {2,}/g, ' ').replace(/[\s\u00b7|,;]+$/, ''));
    }
  }
  return lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** `text` as a Markdown code span, its fence longer than any run of backticks inside. */
export function codeSpan(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

export interface CardSource {
  /** the file as a review names it: its path in the workspace, else its name */
  file: string;
  /** 1-based */
  line: number;
  /** the model's id; undefined where it is not known */
  model: string | undefined;
}

/** The header of an exported card: a heading with the file and line, then the model. */
export function cardHeader({ file, line, model }: CardSource): string {
  return [`### Atten-Scope hover card: ${codeSpan(file)}, line ${line}`, '', `Model: ${model ? codeSpan(model) : 'unknown'}`].join('\n');
}

/** The card as Markdown for a review: the header, a rule, then the card without its editor links. */
export function reviewMarkdown(card: string, source: CardSource): string {
  return `${cardHeader(source)}\n\n---\n\n${stripEditorLinks(card)}\n`;
}

/** The pinned panel's title: `Pinned: total (line 12)`. */
export function pinnedTitle(token: string, line: number): string {
  const short = token.length > 40 ? `${token.slice(0, 39)}\u2026` : token;
  return `Pinned: ${short} (line ${line})`;
}

/** What the pinned card's page asks for: copying the card as Markdown. */
export interface CopyCardMessage {
  type: 'copy';
}

/** What the extension tells the page: whether the copy worked. */
export type ToPinnedCard = { type: 'copied' } | { type: 'copyFailed'; message: string };

/** A well-formed message from the pinned card's page (``value`` is whatever arrived over postMessage). */
export function isCopyCardMessage(value: unknown): value is CopyCardMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'copy';
}

/** A well-formed message to the pinned card's page. */
export function isToPinnedCard(value: unknown): value is ToPinnedCard {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const m = value as Record<string, unknown>;
  return m.type === 'copied' || (m.type === 'copyFailed' && typeof m.message === 'string');
}
