import { describe, expect, it } from 'vitest';
import {
  cardHeader,
  cardHeading,
  cardModel,
  codeSpan,
  hoverTexts,
  isCopyCardMessage,
  isToPinnedCard,
  pickCard,
  pinnedTitle,
  plainCodeSpans,
  reviewMarkdown,
  stripEditorLinks,
} from '../../src/core/hoverCard';

const ARGS = '%5B%22file%3A%2F%2F%2Fproject%2Fsample.py%22%2C%7B%22line%22%3A2%2C%22character%22%3A4%7D%5D';

/** A card as the server writes it (server/atten_scope/lsp/hover.py, hover_markdown). */
const CARD = [
  '**Atten-Scope** \u2014 `\u00b7total` (line 3)',
  '',
  'Predicts `)` (62%); actual next `)`: rank 1 (62%)',
  '',
  '**Draws most on**',
  '',
  '- definitions: `def total` (line 2) 60.0% \u00b7 outside them 10.0%',
  '- other files: [`helpers.py:40`](file:///project/helpers.py#L40) `def parse` 21.0% \u00b7 all context files 30.0%',
  '',
  'Drew on:',
  '',
  '| token | line | weight |',
  '| :-- | --: | --: |',
  '| `items` | 2 | 10.0% |',
  '',
  '*norm \u00b7 lastLayers \u00b7 attendsTo* \u2014 `embedded:smollm2-135m`',
  '',
  `[Show information flow](command:attenScope.showFlow?${ARGS}) \u00b7 [Pin hover card](command:attenScope.pinHoverCard?${ARGS})`,
].join('\n');

describe('picking the Atten-Scope card among the hovers', () => {
  it('reads Markdown strings, plain strings and marked strings', () => {
    const texts = hoverTexts([
      { contents: [{ value: 'a' }, 'b'] },
      { contents: [{ language: 'python', value: 'c' }, 42, null] },
    ]);
    expect(texts).toEqual(['a', 'b', 'c']);
  });

  it("keeps the server's card, not another provider's or the surprise heat's", () => {
    const surprise = "**Atten-Scope surprise heat**\n\nThis token's colour: ...";
    expect(pickCard(['```python\ndef total()\n```', surprise, CARD])).toBe(CARD);
    expect(pickCard([surprise, 'Atten-Scope mentioned later'])).toBeUndefined();
    expect(pickCard([])).toBeUndefined();
  });

  it('keeps the card of a token edited after the analysis too', () => {
    const stale = '**Atten-Scope** \u2014 this token changed after the analysis. Tokens before 4 still show their attention.';
    expect(pickCard([stale])).toBe(stale);
    expect(cardHeading(stale)).toBeUndefined();
  });
});

describe("the card's token, line and model", () => {
  it('reads the heading', () => {
    expect(cardHeading(CARD)).toEqual({ token: '\u00b7total', line: 3 });
    expect(cardHeading('**Atten-Scope** \u2014 `il` in `nil` (line 12)\n\nmore')).toEqual({ token: 'il in nil', line: 12 });
    expect(cardHeading('**Atten-Scope** \u2014 `` a`b `` (line 1)')).toEqual({ token: 'a`b', line: 1 });
  });

  it('reads the model at the end of the settings line', () => {
    expect(cardModel(CARD)).toBe('embedded:smollm2-135m');
    expect(cardModel('**Atten-Scope** \u2014 this token changed')).toBeUndefined();
  });

  it('takes the fences off code spans', () => {
    expect(plainCodeSpans('`x` and ``y`z`` and `` `q ``')).toBe('x and y`z and `q');
  });
});

describe('the card without the links that work only in the editor', () => {
  it('drops the command links and the line they leave empty', () => {
    const out = stripEditorLinks(CARD);
    expect(out).not.toContain('command:');
    expect(out).not.toContain('Show information flow');
    expect(out).not.toContain('Pin hover card');
    expect(out.endsWith('*norm \u00b7 lastLayers \u00b7 attendsTo* \u2014 `embedded:smollm2-135m`')).toBe(true);
  });

  it("keeps a file link's text, not this machine's path", () => {
    const out = stripEditorLinks(CARD);
    expect(out).toContain('- other files: `helpers.py:40` `def parse` 21.0%');
    expect(out).not.toContain('file:');
  });

  it('keeps the rest of the card as it is: table, lists, emphasis, other links', () => {
    const out = stripEditorLinks(CARD);
    expect(out).toContain('| token | line | weight |\n| :-- | --: | --: |\n| `items` | 2 | 10.0% |');
    expect(out.startsWith('**Atten-Scope** \u2014 `\u00b7total` (line 3)\n\nPredicts')).toBe(true);
    expect(stripEditorLinks('see [docs](https://example.com/a) here')).toBe('see [docs](https://example.com/a) here');
  });

  it('keeps the text around a command link inside a line, and no run of blank lines', () => {
    expect(stripEditorLinks('a [run](command:x.y?%5B%5D) b \u00b7 [go](command:x.z)\n\n\n\nc')).toBe('a b\n\nc');
  });
});

describe('the Markdown exported for a review', () => {
  it('opens with the file, the line and the model', () => {
    expect(cardHeader({ file: 'src/sample.py', line: 3, model: 'embedded:smollm2-135m' })).toBe(
      '### Atten-Scope hover card: `src/sample.py`, line 3\n\nModel: `embedded:smollm2-135m`',
    );
    expect(cardHeader({ file: 'a`b.py', line: 1, model: undefined })).toBe('### Atten-Scope hover card: ``a`b.py``, line 1\n\nModel: unknown');
  });

  it('is the header, a rule and the card without editor links', () => {
    const out = reviewMarkdown(CARD, { file: 'sample.py', line: 3, model: 'embedded:smollm2-135m' });
    expect(out).toBe(`${cardHeader({ file: 'sample.py', line: 3, model: 'embedded:smollm2-135m' })}\n\n---\n\n${stripEditorLinks(CARD)}\n`);
    expect(out).toContain('**Draws most on**');
    expect(out).not.toMatch(/command:|file:/);
  });

  it('names code spans safely whatever the text', () => {
    expect(codeSpan('x')).toBe('`x`');
    expect(codeSpan('a``b')).toBe('```a``b```');
    expect(codeSpan('`x')).toBe('`` `x ``');
  });
});

describe('the pinned panel', () => {
  it('is titled with the token and the line', () => {
    expect(pinnedTitle('\u00b7total', 3)).toBe('Pinned: \u00b7total (line 3)');
    expect(pinnedTitle('x'.repeat(60), 9)).toBe(`Pinned: ${'x'.repeat(39)}\u2026 (line 9)`);
  });

  it('accepts only well-formed messages', () => {
    expect(isCopyCardMessage({ type: 'copy' })).toBe(true);
    expect(isCopyCardMessage({ type: 'paste' })).toBe(false);
    expect(isCopyCardMessage(null)).toBe(false);
    expect(isToPinnedCard({ type: 'copied' })).toBe(true);
    expect(isToPinnedCard({ type: 'copyFailed', message: 'no clipboard' })).toBe(true);
    expect(isToPinnedCard({ type: 'copyFailed' })).toBe(false);
    expect(isToPinnedCard('copied')).toBe(false);
  });
});
