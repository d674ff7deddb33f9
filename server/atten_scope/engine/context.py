"""Context files: other files the model reads before the document, as a prefix.

Real code draws on its imports. An analysis *with context files* runs the model over

    [leading special tokens] header_1 file_1 header_2 file_2 ... header_doc document

where each header is one line naming the file in the document's comment syntax
(``# file: helpers.py``), a blank line before every header but the first, and ``header_doc`` names
the document, so the model reads it as a new file. Each piece (a header, a file's text) is tokenized
on its own, so every token of the prefix lies in exactly one piece and keeps its exact span there:
a token of a context file knows its file and its line and character in it.

The document's own tokens are those of the document tokenized alone (``tokens.tokenize``), the
tokenizer's leading special tokens (BOS) first, before the prefix. The prefix's tokens cover no text
of the document: like BOS, each has an empty span at the document's start. So every position,
range and line of the document is what it is without context files, a position always resolves to
one of the document's tokens, and only the token indices after the leading special tokens move by
the prefix's length.

A later version of the document, analysed with the same context files, begins with the same
prefix tokens, so the unchanged prefix's state is reused as any unchanged token prefix is
(``analysis.run_analysis`` compares token ids).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from atten_scope.common.errors import DocumentError, InvalidRequest
from atten_scope.engine.positions import LineIndex, Range
from atten_scope.engine.tokens import TokenizedDocument, tokenize

MAX_NAME = 120  # characters of a file's name in its header


@dataclass(frozen=True)
class ContextFile:
    """A file read before the document: its URI and its text as the editor holds it."""

    uri: str
    text: str


@dataclass(frozen=True)
class Piece:
    """One part of the prefix, tokenized on its own: a header line or a context file's text."""

    text: str
    file: int | None  # the context file it belongs to (its index); None: the document's own header
    header: bool


@dataclass(frozen=True)
class Prefix:
    """What the model reads before the document: the context files, their names, and the pieces."""

    files: tuple[ContextFile, ...]
    names: tuple[str, ...]  # each file's name, as its header and the hover say it
    pieces: tuple[Piece, ...]

    @property
    def text(self) -> str:
        return "".join(piece.text for piece in self.pieces)


# Line comments by VS Code language id; a language not listed gets a neutral separator line.
_LINE_COMMENTS: dict[str, str] = {
    **dict.fromkeys(
        ("python", "ruby", "shellscript", "perl", "r", "yaml", "toml", "dockerfile", "makefile", "powershell"), "#"
    ),
    **dict.fromkeys(("julia", "elixir", "coffeescript", "nim", "cmake", "properties"), "#"),
    **dict.fromkeys(
        ("c", "cpp", "csharp", "java", "javascript", "javascriptreact", "typescript", "typescriptreact", "go"), "//"
    ),
    **dict.fromkeys(("rust", "swift", "kotlin", "scala", "dart", "php", "groovy", "objective-c", "zig"), "//"),
    **dict.fromkeys(("fsharp", "jsonc", "objective-cpp", "cuda-cpp", "glsl", "hlsl", "proto", "solidity"), "//"),
    **dict.fromkeys(("sql", "lua", "haskell", "elm", "ada", "vhdl"), "--"),
    **dict.fromkeys(("latex", "tex", "matlab", "erlang", "prolog"), "%"),
    **dict.fromkeys(("clojure", "lisp", "scheme", "racket", "ini"), ";"),
    "vb": "'",
    "bat": "REM",
}
_BLOCK_COMMENTS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("html", "xml", "markdown", "vue", "svelte"), ("<!--", "-->")),
    **dict.fromkeys(("css", "scss", "less"), ("/*", "*/")),
    "ocaml": ("(*", "*)"),
}


def header_line(name: str, language: str | None) -> str:
    """The line that introduces file ``name`` in a document of ``language`` (a VS Code language id):
    a comment where the language has one (``# file: helpers.py``, ``// file: util.ts``), else a
    neutral separator (``==> data.json <==``, as ``head`` prints it)."""
    if language in _LINE_COMMENTS:
        return f"{_LINE_COMMENTS[language]} file: {name}\n"
    if language in _BLOCK_COMMENTS:
        opening, closing = _BLOCK_COMMENTS[language]
        return f"{opening} file: {name} {closing}\n"
    return f"==> {name} <==\n"


def file_name(uri: str, document_uri: str) -> str:
    """How a header names the file at ``uri``: its path relative to the document's folder when it lies
    below it (``lib/helpers.py``), else its file name; characters that are not printable (a line
    break would end the header) as ``?``, at most MAX_NAME characters."""
    parsed, document = urlparse(uri), urlparse(document_uri)
    path = unquote(parsed.path)
    folder = posixpath.dirname(unquote(document.path))
    below = (parsed.scheme, parsed.netloc) == (document.scheme, document.netloc) and folder not in ("", "/")
    if below and path.startswith(folder.rstrip("/") + "/"):
        name = path[len(folder.rstrip("/")) + 1 :]
    else:
        name = posixpath.basename(path) or uri
    name = "".join(ch if ch.isprintable() else "?" for ch in name)
    return name if len(name) <= MAX_NAME else "\u2026" + name[-(MAX_NAME - 1) :]


def build_prefix(files: Sequence[ContextFile], document_uri: str, language: str | None) -> Prefix | None:
    """The prefix that reads ``files`` in their order before the document at ``document_uri`` (module
    doc); None without files. Refuses (``InvalidRequest``) the document itself as a context file."""
    if not files:
        return None
    for number, file in enumerate(files):
        if file.uri == document_uri:
            raise InvalidRequest(f"contextFiles[{number}] is the document itself: list other files.")
    names = tuple(file_name(file.uri, document_uri) for file in files)
    pieces: list[Piece] = []
    previous = ""
    for number, (file, name) in enumerate(zip(files, names, strict=True)):
        pieces.append(Piece(_separator(previous, number) + header_line(name, language), number, True))
        pieces.append(Piece(file.text, number, False))
        previous = file.text
    own = file_name(document_uri, document_uri)
    pieces.append(Piece(_separator(previous, len(files)) + header_line(own, language), None, True))
    return Prefix(tuple(files), names, tuple(pieces))


def _separator(previous: str, number: int) -> str:
    """What comes before a header: nothing before the first; else the end of the previous file's last
    line if it has none, and a blank line."""
    if number == 0:
        return ""
    return ("" if not previous or previous.endswith(("\n", "\r")) else "\n") + "\n"


@dataclass(frozen=True)
class ContextTokens:
    """Where the prefix's tokens of one tokenized document came from: tokens [first, end) of the
    document are the prefix's, token ``first + k`` read from piece ``pieces[k]`` at [starts[k], ends[k])
    of its text (code points)."""

    prefix: Prefix
    first: int
    pieces: tuple[int, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    # Tokens holding part of a character's bytes (``tokens.TokenizedDocument.fragments``), by the
    # token's index in the document: the [start, end) of the characters in its piece's text.
    fragments: dict[int, tuple[int, int]] = field(default_factory=dict)
    _lines: dict[int, LineIndex] = field(default_factory=dict, compare=False, repr=False)

    @property
    def end(self) -> int:
        """The index of the document's first own token after the prefix."""
        return self.first + len(self.pieces)

    def holds(self, index: int) -> bool:
        return self.first <= index < self.end

    def piece(self, index: int) -> Piece:
        return self.prefix.pieces[self.pieces[index - self.first]]

    def span(self, index: int) -> tuple[str, int, int]:
        """The text token ``index`` was read from (its piece's) and its [start, end) there."""
        k = index - self.first
        return self.prefix.pieces[self.pieces[k]].text, self.starts[k], self.ends[k]

    def file_of(self, index: int) -> int | None:
        """The context file token ``index`` belongs to (its text or its header); None for the
        document's own header."""
        return self.piece(index).file

    def lines(self, file: int) -> LineIndex:
        """The line index of context file ``file``'s text (made once)."""
        found = self._lines.get(file)
        if found is None:
            found = self._lines[file] = LineIndex(self.prefix.files[file].text)
        return found

    def location(self, index: int) -> tuple[int, Range] | None:
        """(file, range in that file) of token ``index``: its span for a token of the file's text, the
        empty range at the file's start for a token of its header; None for the document's header."""
        piece = self.piece(index)
        if piece.file is None:
            return None
        lines = self.lines(piece.file)
        if piece.header:
            return piece.file, lines.range(0, 0)
        _, start, end = self.span(index)
        fragment = self.fragments.get(index)
        if fragment is not None:  # a piece of a character stands at that character
            start, end = min(start, fragment[0]), max(end, fragment[1])
        return piece.file, lines.range(start, end)

    def line(self, index: int) -> int | None:
        """The 0-based line token ``index`` starts on in its context file; None for a header's token."""
        piece = self.piece(index)
        if piece.file is None or piece.header:
            return None
        return self.lines(piece.file).line_of(self.starts[index - self.first])


def leading_specials(special: Sequence[bool]) -> int:
    """How many special tokens (BOS and the like) a tokenized text begins with."""
    count = 0
    while count < len(special) and special[count]:
        count += 1
    return count


def tokenize_with_prefix(tokenizer: Any, text: str, prefix: Prefix | None) -> TokenizedDocument:
    """``text`` tokenized as the model reads it after ``prefix`` (module doc); without a prefix,
    ``tokens.tokenize``. The document's own tokens and spans are those of ``text`` alone."""
    own = tokenize(tokenizer, text)
    if prefix is None:
        return own
    lead = leading_specials(own.special)
    ids, special = list(own.ids[:lead]), list(own.special[:lead])
    names = {i: name for i, name in own.names.items() if i < lead}
    pieces: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    fragments: dict[int, tuple[int, int]] = {}
    for number, piece in enumerate(prefix.pieces):
        if not piece.text:
            continue
        try:
            part = tokenize(tokenizer, piece.text, add_special_tokens=False)
        except DocumentError as error:
            name = prefix.names[piece.file] if piece.file is not None else "the header"
            raise DocumentError(f"The context file {name} cannot be read: {error}") from error
        for k in range(len(part)):
            index = len(ids)
            ids.append(part.ids[k])
            special.append(part.special[k])
            pieces.append(number)
            starts.append(part.starts[k])
            ends.append(part.ends[k])
            if k in part.fragments:
                fragments[index] = part.fragments[k]
            if k in part.names:
                names[index] = part.names[k]
    shift = len(pieces)
    context = ContextTokens(prefix, lead, tuple(pieces), tuple(starts), tuple(ends), fragments)
    names.update({i + shift: name for i, name in own.names.items() if i >= lead})
    return TokenizedDocument(
        text=own.text,
        ids=[*ids, *own.ids[lead:]],
        starts=[*own.starts[:lead], *([0] * shift), *own.starts[lead:]],
        ends=[*own.ends[:lead], *([0] * shift), *own.ends[lead:]],
        special=[*special, *own.special[lead:]],
        fragments={(i + shift if i >= lead else i): span for i, span in own.fragments.items()},
        names=names,
        vocabulary=own.vocabulary,
        context=context,
    )


def prefix_of(doc: TokenizedDocument) -> Prefix | None:
    """The prefix ``doc`` was read after (None: none)."""
    return doc.context.prefix if doc.context is not None else None


def retokenized_ids(doc: TokenizedDocument, tokenizer: Any, text: str) -> list[int]:
    """The token ids of ``text``, a later version of ``doc``'s document, read after the same prefix:
    ``text``'s ids with ``doc``'s prefix tokens after its leading special tokens."""
    ids = [int(i) for i in tokenizer(text, add_special_tokens=True)["input_ids"]]
    context = doc.context
    if context is None:
        return ids
    special_ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    lead = leading_specials([i in special_ids for i in ids])
    return [*ids[:lead], *doc.ids[context.first : context.end], *ids[lead:]]
