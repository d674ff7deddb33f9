"""Document -> tokens, each with the exact span of source text it stands for.

The spans partition the text: concatenating every token's text gives the document back, byte
for byte, including whitespace, tabs, CRLF, a BOM and characters split across byte-level BPE
pieces. A character split over several tokens belongs to the token that starts it; the
continuation pieces get an empty span at that point, so a hover on any character resolves to
exactly one token.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from .errors import DocumentError


@dataclass(frozen=True)
class TokenizedDocument:
    text: str
    ids: list[int]
    starts: list[int]  # code-point offsets; token k spans [starts[k], ends[k])
    ends: list[int]
    special: list[bool]  # BOS/EOS-like tokens added by the tokenizer

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
    join the token before them, and a token whose start falls inside an earlier token's
    characters (a split multi-byte character) gets an empty span.
    """
    n = len(offsets)
    starts: list[int] = []
    previous = 0
    for start, _end in offsets:
        start = max(previous, min(start, len(text)))
        starts.append(start)
        previous = start
    if starts:
        starts[0] = 0
    ends = [*starts[1:], len(text)] if n else []
    return starts, ends


def _byte_offsets(text: str, pieces: list[bytes]) -> list[tuple[int, int]] | None:
    """Offsets from the exact bytes of each token, when they reproduce the text."""
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
    for piece in pieces:
        first = position
        position += len(piece)
        start_char = char_of_byte[first]
        if first < len(encoded) and first > 0 and char_of_byte[first - 1] == start_char:
            start_char += 1  # begins inside a character the previous piece started
        offsets.append((start_char, char_of_byte[position] if position < len(encoded) else len(text)))
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


def tokenize(tokenizer: Any, text: str) -> TokenizedDocument:
    """Tokenize ``text`` as the model will see it, with exact source spans (see module doc)."""
    if "\x00" in text:
        raise DocumentError("The file looks binary (it contains NUL characters); open a text file.")
    encoding = tokenizer(text, add_special_tokens=True, return_offsets_mapping=getattr(tokenizer, "is_fast", False))
    ids = [int(i) for i in encoding["input_ids"]]
    special_ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    special = [i in special_ids for i in ids]
    body_ids = [i for i, s in zip(ids, special, strict=True) if not s]
    offsets: list[tuple[int, int]] | None = None
    # Byte-level vocabularies give exact bytes; the tokenizer's own offsets blur split characters.
    pieces = _token_bytes(tokenizer, body_ids)
    if pieces is not None:
        offsets = _byte_offsets(text, pieces)
    if offsets is None and "offset_mapping" in encoding:
        offsets = [(int(a), int(b)) for (a, b), s in zip(encoding["offset_mapping"], special, strict=True) if not s]
    if offsets is None:
        offsets = _decode_offsets(tokenizer, body_ids, text)
    body_starts, body_ends = _partition(text, offsets)
    starts: list[int] = []
    ends: list[int] = []
    body = 0
    for is_special in special:
        if is_special:
            # Added tokens stand before (BOS) or after (EOS) the text; they cover nothing.
            at = body_starts[body] if body < len(body_starts) else len(text)
            starts.append(at)
            ends.append(at)
        else:
            starts.append(body_starts[body])
            ends.append(body_ends[body])
            body += 1
    if starts and not special[0] and starts[0] != 0:
        starts[0] = 0
    return TokenizedDocument(text=text, ids=ids, starts=starts, ends=ends, special=special)


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


_VISIBLE = {"\n": "\u21b5", "\r": "\u240d", "\t": "\u21e5"}
MAX_SHOWN = 80  # characters of a token shown; longer ones are cut with an ellipsis


def visible(text: str) -> str:
    """A token as a label: whitespace a reader would not see (line breaks, tabs, edge spaces) as symbols.

    Control characters are dropped; labels longer than MAX_SHOWN are cut with an ellipsis.
    """
    text = "".join(_VISIBLE.get(ch, ch) for ch in text)
    text = "".join(ch for ch in text if ch.isprintable() or ch == " ")
    stripped = text.strip(" ")
    lead = len(text) - len(text.lstrip(" "))
    trail = len(text) - len(text.rstrip(" "))
    text = "\u00b7" * lead + stripped + "\u00b7" * trail if stripped else "\u00b7" * len(text)
    if len(text) > MAX_SHOWN:
        text = text[: MAX_SHOWN - 1] + "\u2026"
    return text or "\u2205"
