"""Document -> tokens, each with the exact span of source text it stands for.

The spans partition the text: concatenating every token's text gives the document back, byte
for byte, including whitespace, tabs, CRLF, a BOM and characters split across byte-level BPE
pieces. A character split over several tokens belongs to the token that starts it; the
continuation pieces get an empty span at that point, so a hover on any character resolves to
exactly one token.

A token's *label* (``label``) is what a reader is shown for it: its text with invisible whitespace
as symbols, or, for a token that holds only part of a character's bytes, that character marked
``(part)``. The span stays the exact source text; the label is for display only.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from atten_scope.common.errors import DocumentError

if TYPE_CHECKING:
    from atten_scope.engine.context import ContextTokens


@dataclass(frozen=True)
class TokenizedDocument:
    text: str
    ids: list[int]
    starts: list[int]  # code-point offsets; token k spans [starts[k], ends[k])
    ends: list[int]
    special: list[bool]  # BOS/EOS-like tokens added by the tokenizer
    # Tokens whose bytes hold part of a character (byte-level BPE splits most CJK characters and
    # emoji): index -> [start, end) of the whole characters their bytes touch.
    fragments: dict[int, tuple[int, int]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)  # special tokens: the tokenizer's name for them
    # Labels of any vocabulary id (the tokens a model predicts), from the tokenizer that made ``ids``.
    vocabulary: Vocabulary | None = field(default=None, compare=False, repr=False)
    # Tokens read before the document (context files, ``context.py``): empty spans here, their own
    # spans in the files they came from. None: the model read the document alone.
    context: ContextTokens | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def token_text(self, index: int) -> str:
        return self.text[self.starts[index] : self.ends[index]]

    def token_at(self, offset: int) -> int:
        """The token covering the character at ``offset`` (the last token at the very end)."""
        if not self.ids:
            raise DocumentError("The document has no tokens.")
        offset = max(0, min(offset, len(self.text)))
        if offset >= len(self.text):
            candidates = [k for k in range(len(self.ids)) if self.ends[k] > self.starts[k]]
            return candidates[-1] if candidates else len(self.ids) - 1
        # The last token starting at or before the offset that is non-empty covers it.
        k = bisect.bisect_right(self.starts, offset) - 1
        while k > 0 and self.ends[k] <= offset:
            k -= 1
        while k + 1 < len(self.ids) and self.ends[k] <= offset:
            k += 1
        return max(k, 0)


def _partition(text: str, offsets: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Turn (possibly overlapping, gappy or trimmed) tokenizer offsets into a partition.

    Each token starts where the tokenizer says it does, pushed forward to stay monotonic; it
    ends where the next token starts. Gaps (spaces trimmed off by some tokenizers) therefore
    join the token before them, a token whose start falls inside an earlier token's characters
    (a split multi-byte character) gets an empty span, and no boundary falls between the ``\r``
    and ``\n`` of a line break.
    """
    n = len(offsets)
    starts: list[int] = []
    previous = 0
    for start, _end in offsets:
        start = min(start, len(text))
        if 0 < start < len(text) and text[start - 1] == "\r" and text[start] == "\n":
            # A boundary inside a CRLF pair has no LSP position: move it before the pair when the
            # previous token keeps a character, else after it.
            start = start - 1 if previous < start - 1 else start + 1
        start = max(previous, start)
        starts.append(start)
        previous = start
    if starts:
        starts[0] = 0
    ends = [*starts[1:], len(text)] if n else []
    return starts, ends


def _byte_offsets(
    text: str, pieces: list[bytes], fragments: dict[int, tuple[int, int]] | None = None
) -> list[tuple[int, int]] | None:
    """Offsets from the exact bytes of each token, when they reproduce the text.

    ``fragments`` receives, for each piece that starts or ends inside a character, the span of
    the characters its bytes touch (keyed by the piece's position in ``pieces``).
    """
    encoded = text.encode("utf-8")
    if b"".join(pieces) != encoded:
        return None
    # Code-point index of each byte; a piece that starts mid-character maps to the next one.
    char_of_byte = []
    for index, ch in enumerate(text):
        char_of_byte.extend([index] * len(ch.encode("utf-8")))
    char_of_byte.append(len(text))
    offsets = []
    position = 0
    for number, piece in enumerate(pieces):
        first = position
        position += len(piece)
        start_char = char_of_byte[first]
        starts_inside = 0 < first < len(encoded) and char_of_byte[first - 1] == start_char
        if starts_inside:
            start_char += 1  # begins inside a character the previous piece started
        offsets.append((start_char, char_of_byte[position] if position < len(encoded) else len(text)))
        ends_inside = 0 < position < len(encoded) and char_of_byte[position - 1] == char_of_byte[position]
        if fragments is not None and piece and (starts_inside or ends_inside):
            fragments[number] = (char_of_byte[first], char_of_byte[position - 1] + 1)
    return offsets


def _token_bytes(tokenizer: Any, ids: list[int]) -> list[bytes] | None:
    """The raw bytes of byte-level BPE tokens (GPT-2 style alphabet), or None for other vocabularies."""
    try:
        from transformers.convert_slow_tokenizer import bytes_to_unicode
    except ImportError:  # pragma: no cover - older or newer transformers layouts
        return None
    decoder = {v: k for k, v in bytes_to_unicode().items()}
    pieces = []
    for token in tokenizer.convert_ids_to_tokens(ids):
        if token is None or any(ch not in decoder for ch in token):
            return None
        pieces.append(bytes(decoder[ch] for ch in token))
    return pieces


def tokenize(tokenizer: Any, text: str, add_special_tokens: bool = True) -> TokenizedDocument:
    """Tokenize ``text`` as the model will see it, with exact source spans (see module doc);
    ``add_special_tokens``: with the tokens the tokenizer adds around a text (BOS), as for a
    document read on its own."""
    if "\x00" in text:
        raise DocumentError("The file looks binary (it contains NUL characters); open a text file.")
    encoding = tokenizer(
        text, add_special_tokens=add_special_tokens, return_offsets_mapping=getattr(tokenizer, "is_fast", False)
    )
    ids = [int(i) for i in encoding["input_ids"]]
    special_ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    special = [i in special_ids for i in ids]
    body_ids = [i for i, s in zip(ids, special, strict=True) if not s]
    offsets: list[tuple[int, int]] | None = None
    body_fragments: dict[int, tuple[int, int]] = {}
    # Byte-level vocabularies give exact bytes; the tokenizer's own offsets blur split characters.
    pieces = _token_bytes(tokenizer, body_ids)
    if pieces is not None:
        offsets = _byte_offsets(text, pieces, body_fragments)
    if offsets is None and "offset_mapping" in encoding:
        offsets = [(int(a), int(b)) for (a, b), s in zip(encoding["offset_mapping"], special, strict=True) if not s]
    if offsets is None:
        offsets = _decode_offsets(tokenizer, body_ids, text)
    body_starts, body_ends = _partition(text, offsets)
    if pieces is None:
        # Byte-fallback pieces (<0xE6>) get an empty span; the tokenizer's offsets still name their character.
        for b, (start, end) in enumerate(offsets):
            if body_starts[b] == body_ends[b] and 0 <= start < end <= len(text):
                body_fragments[b] = (start, end)
    starts: list[int] = []
    ends: list[int] = []
    fragments: dict[int, tuple[int, int]] = {}
    names: dict[int, str] = {}
    body = 0
    for index, is_special in enumerate(special):
        if is_special:
            # Added tokens stand before (BOS) or after (EOS) the text; they cover nothing.
            at = body_starts[body] if body < len(body_starts) else len(text)
            starts.append(at)
            ends.append(at)
            names[index] = str(tokenizer.convert_ids_to_tokens(ids[index]))
        else:
            starts.append(body_starts[body])
            ends.append(body_ends[body])
            if body in body_fragments:
                fragments[index] = body_fragments[body]
            body += 1
    if starts and not special[0] and starts[0] != 0:
        starts[0] = 0
    # Keyword arguments of the record (alike in shape with other records' constructors only).
    return TokenizedDocument(
        text=text,
        ids=ids,
        starts=starts,
        ends=ends,
        special=special,
        fragments=fragments,
        names=names,
        vocabulary=vocabulary_of(tokenizer),
    )


def extend(doc: TokenizedDocument, tokenizer: Any, ids: list[int]) -> TokenizedDocument:
    """``doc`` followed by tokens ``ids`` that a model generated after it: the text grows by what they
    spell, and the ids stay as generated (tokenizing the longer text again may split it otherwise).

    Spans follow ``tokenize``'s rules: exact bytes for byte-level vocabularies, else the growth of
    the decoded text token by token (decoded after ``doc``'s last token, which keeps a leading
    space that decoding alone would drop); an added special token covers nothing; a character
    whose bytes are spread over tokens belongs to the token that starts it. Bytes of a character
    left incomplete at the end are not part of the text: their tokens get an empty span there.
    """
    special_ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    special = [i in special_ids for i in ids]
    body = [i for i, s in zip(ids, special, strict=True) if not s]
    pieces = _token_bytes(tokenizer, body)
    fragments: dict[int, tuple[int, int]] = {}
    offsets: list[tuple[int, int]] | None = None
    added = _whole_characters(b"".join(pieces)) if pieces is not None else None
    if pieces is not None and added is not None:
        kept, used, complete = [], 0, len(added.encode("utf-8"))
        for piece in pieces:  # each piece's bytes up to where the whole characters end
            kept.append(piece[: max(0, complete - used)])
            used += len(piece)
        offsets = _byte_offsets(added, kept, fragments)
    if added is None or offsets is None:
        fragments = {}
        added, offsets = _decoded_growth(tokenizer, doc.ids[-1:], body)
    body_starts, body_ends = _partition(added, offsets)
    base = len(doc.text)
    starts, ends = list(doc.starts), list(doc.ends)
    names, all_fragments = dict(doc.names), dict(doc.fragments)
    b = 0
    for k, is_special in enumerate(special):
        index = len(doc.ids) + k
        if is_special:
            at = base + (body_starts[b] if b < len(body_starts) else len(added))
            starts.append(at)
            ends.append(at)
            names[index] = str(tokenizer.convert_ids_to_tokens(ids[k]))
            continue
        starts.append(base + body_starts[b])
        ends.append(base + body_ends[b])
        if b in fragments:
            all_fragments[index] = (base + fragments[b][0], base + fragments[b][1])
        b += 1
    return TokenizedDocument(
        text=doc.text + added,
        ids=[*doc.ids, *ids],
        starts=starts,
        ends=ends,
        special=[*doc.special, *special],
        fragments=all_fragments,
        names=names,
        vocabulary=doc.vocabulary or vocabulary_of(tokenizer),
        context=doc.context,
    )


def _whole_characters(raw: bytes) -> str | None:
    """``raw`` decoded, without the bytes of a last character that is not complete; None when bytes
    before the end are not UTF-8 (a sampled byte piece out of place)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.reason != "unexpected end of data":
            return None
        return raw[: error.start].decode("utf-8")


def _decoded_growth(tokenizer: Any, anchor: list[int], ids: list[int]) -> tuple[str, list[tuple[int, int]]]:
    """The text ``ids`` add after ``anchor`` by decoding, and each token's (start, end) in it: the text
    decoded so far, up to a trailing U+FFFD (a character whose bytes have not all come yet)."""

    def decoded(tokens: list[int]) -> str:
        return str(tokenizer.decode(tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False))

    head = decoded(anchor)
    text, offsets = "", []
    for k in range(len(ids)):
        grown = decoded(anchor + ids[: k + 1])
        grown = grown[len(head) :] if grown.startswith(head) else grown
        complete = grown.rstrip("\ufffd")
        start = len(text)
        if complete.startswith(text) and len(complete) >= len(text):
            text = complete
        offsets.append((start, len(text)))
    return text, offsets


def _decode_offsets(tokenizer: Any, ids: list[int], text: str) -> list[tuple[int, int]]:
    """Offsets by incremental decoding, for slow tokenizers without an offset mapping."""
    offsets = []
    previous = 0
    for k in range(len(ids)):
        decoded = tokenizer.decode(ids[: k + 1], skip_special_tokens=True, clean_up_tokenization_spaces=False)
        end = min(len(decoded), len(text))
        offsets.append((previous, end))
        previous = end
    return offsets


_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
_SYMBOLS = {"\t": "\u21e5"}  # line breaks become one \u21b5 each, CRLF included
MAX_SHOWN = 80  # characters of a token shown; longer ones are cut with an ellipsis
PART = " (part)"


def visible(text: str) -> str:
    """Text as a one-line label: line breaks as \u21b5, tabs as \u21e5, leading and trailing spaces as
    \u00b7 (inner spaces stay spaces, so ``def f`` reads as code), other invisible characters as
    ``\u27e8U+200D\u27e9``. Longer than MAX_SHOWN characters: cut with an ellipsis. Empty: \u2205."""
    text = _LINE_BREAKS.sub("\u21b5", text)
    text = "".join(
        _SYMBOLS.get(ch, ch) if ch.isprintable() or ch in _SYMBOLS or ch == " " else f"\u27e8U+{ord(ch):04X}\u27e9"
        for ch in text
    )
    stripped = text.strip(" ")
    lead = len(text) - len(text.lstrip(" "))
    trail = len(text) - len(text.rstrip(" "))
    text = "\u00b7" * lead + stripped + "\u00b7" * trail if stripped else "\u00b7" * len(text)
    if len(text) > MAX_SHOWN:
        text = text[: MAX_SHOWN - 1] + "\u2026"
    return text or "\u2205"


def source_span(doc: TokenizedDocument, index: int) -> tuple[str, int, int]:
    """The text token ``index`` was read from and its [start, end) there: the document's text, or for
    a token of a context file read before it (``context.py``), that file's piece of the prefix."""
    context = doc.context
    if context is not None and context.holds(index):
        return context.span(index)
    return doc.text, doc.starts[index], doc.ends[index]


def source_text(doc: TokenizedDocument, index: int) -> str:
    """The exact text token ``index`` stands for, in the text it was read from (``source_span``):
    ``token_text`` for the document's tokens, a context file's text for the prefix's."""
    text, start, end = source_span(doc, index)
    return text[start:end]


def _fragment(doc: TokenizedDocument, index: int) -> tuple[int, int] | None:
    """The characters a piece of a character touches, in the text ``source_span`` names."""
    context = doc.context
    if context is not None and context.holds(index):
        return context.fragments.get(index)
    return doc.fragments.get(index)


def label(doc: TokenizedDocument, index: int) -> str:
    """What a reader is shown for token ``index``: ``visible`` of its text; for a token holding part
    of a character's bytes, the character(s) its bytes touch and `` (part)`` (``折 (part)``); for an
    added special token, the tokenizer's name for it (``<|endoftext|>``).

    One function for every place a token is shown: hover, CLI, HTML report and the webviews (the
    protocol carries it as ``label``).
    """
    text, start, end = source_span(doc, index)
    fragment = _fragment(doc, index)
    if fragment is not None:
        return visible(text[fragment[0] : fragment[1]]) + PART
    name = doc.names.get(index)
    if name is not None:
        return name
    return visible(text[start:end])


MAX_WORD = 60  # characters of an enclosing word worth showing


def enclosing_word(doc: TokenizedDocument, index: int) -> str | None:
    """The word that token ``index`` is a piece of (``nil`` for the token ``il``), or None when the
    token is a whole word, or no piece of one.

    A word is a run of word characters (letters, digits, ``_``): the token's word characters (for a
    piece of a character, that character) are widened over the word characters next to them.
    """
    text, start, end = source_span(doc, index)
    start, end = _fragment(doc, index) or (start, end)
    while start < end and not _is_word(text[start]):
        start += 1
    while end > start and not _is_word(text[end - 1]):
        end -= 1
    if start >= end:
        return None
    first, last = start, end
    while first > 0 and _is_word(text[first - 1]):
        first -= 1
    while last < len(text) and _is_word(text[last]):
        last += 1
    if (first, last) == (start, end) or last - first > MAX_WORD:
        return None
    return text[first:last]


def word_like(doc: TokenizedDocument, index: int) -> bool:
    """Whether token ``index`` reads as content: it holds a word character (a letter, digit or
    ``_``; for a piece of a character, that character) or is a special token. The others are
    whitespace and punctuation only (``·/``, ``=``, ``↵···``)."""
    if doc.special[index]:
        return True
    text, start, end = source_span(doc, index)
    start, end = _fragment(doc, index) or (start, end)
    return any(_is_word(ch) for ch in text[start:end])


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


class Vocabulary:
    """Labels of vocabulary ids, for tokens that are not in the document (what a model predicts).

    A piece is shown like a document token (``visible`` of its text, a special token by its name);
    a piece that holds only part of a character's bytes, whose character cannot be known without
    the pieces around it, by its bytes: ``⟨E6 8A⟩ (part)``.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._special = set(getattr(tokenizer, "all_special_ids", []) or [])
        self._labels: dict[int, str] = {}

    def label(self, token_id: int) -> str:
        found = self._labels.get(token_id)
        if found is None:
            found = self._labels[token_id] = self._label(token_id)
        return found

    def _label(self, token_id: int) -> str:
        name = self._tokenizer.convert_ids_to_tokens(token_id)
        if token_id in self._special and name is not None:
            return str(name)
        pieces = _token_bytes(self._tokenizer, [token_id])
        if pieces is not None:
            raw = pieces[0]
        elif name is not None and _BYTE_PIECE.fullmatch(str(name)):
            raw = bytes([int(str(name)[3:5], 16)])
        else:
            return visible(self._tokenizer.decode([token_id], clean_up_tokenization_spaces=False))
        for whole in range(len(raw), -1, -1):  # the longest prefix of whole characters
            try:
                text = raw[:whole].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if whole == len(raw):
                return visible(text)
            rest = "\u27e8" + " ".join(f"{b:02X}" for b in raw[whole:]) + "\u27e9"
            return (visible(text) if text else "") + rest + PART
        return PART.strip()  # pragma: no cover - the empty prefix always decodes


def vocabulary_of(tokenizer: Any) -> Vocabulary:
    """The tokenizer's ``Vocabulary``, made once per tokenizer."""
    found = getattr(tokenizer, "_atten_scope_vocabulary", None)
    if isinstance(found, Vocabulary):
        return found
    vocabulary = Vocabulary(tokenizer)
    try:
        tokenizer._atten_scope_vocabulary = vocabulary
    except AttributeError:  # pragma: no cover - a tokenizer that takes no attributes
        pass
    return vocabulary


def id_label(doc: TokenizedDocument, token_id: int) -> str:
    """What a reader is shown for a vocabulary id (a predicted token), by ``Vocabulary.label``."""
    if doc.vocabulary is None:
        return f"\u27e8id {token_id}\u27e9"
    return doc.vocabulary.label(token_id)
