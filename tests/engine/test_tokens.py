from __future__ import annotations

from typing import Any

import pytest

from atten_scope.common.errors import DocumentError
from atten_scope.engine.positions import LineIndex
from atten_scope.engine.tokens import _partition, enclosing_word, label, tokenize, visible

SAMPLES = {
    "tabs": "def f(x):\n\tif x:\n\t\treturn x\t# tab\n",
    "crlf": "a = 1\r\nb = 2\r\n\r\nprint(a + b)\r\n",
    "bom": "\ufeffimport os\nprint(os.sep)\n",
    "emoji": "msg = '😀 héllo 👩‍💻'\nprint(msg)  # 🎉\n",
    "non_ascii_identifiers": "def größe(λ, 変数):\n    return λ * 変数\n",
    "mixed_lone_cr": "x = 1\ry = 2\n",
    "long_line": "x = [" + ", ".join(str(i % 10) for i in range(2000)) + "]",
}


@pytest.fixture(scope="module")
def tokenizer(embedded: Any) -> Any:
    return embedded.tokenizer


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_token_spans_partition_the_text(tokenizer: Any, name: str) -> None:
    text = SAMPLES[name]
    doc = tokenize(tokenizer, text)
    assert "".join(doc.token_text(i) for i in range(len(doc))) == text
    assert doc.starts[0] == 0 and doc.ends[-1] == len(text)
    for k in range(1, len(doc)):
        assert doc.starts[k] == doc.ends[k - 1]
    # Every character resolves to the one non-empty token that covers it.
    for offset in range(len(text)):
        k = doc.token_at(offset)
        assert doc.starts[k] <= offset < doc.ends[k]


def test_five_thousand_character_line(tokenizer: Any) -> None:
    text = "y = '" + "ab" * 2497 + "'"
    assert len(text) == 5000
    doc = tokenize(tokenizer, text)
    assert "".join(doc.token_text(i) for i in range(len(doc))) == text
    assert LineIndex(text).line_count == 1


def test_emoji_split_over_byte_pieces_is_owned_by_its_first_piece(tokenizer: Any) -> None:
    text = "a 😀"
    doc = tokenize(tokenizer, text)
    emoji = text.index("😀")
    owner = doc.token_at(emoji)
    assert doc.token_text(owner).endswith("😀")
    # Continuation pieces exist and are empty.
    assert any(doc.starts[k] == doc.ends[k] for k in range(len(doc))) or len(doc) == 2


def test_utf16_range_of_token_after_emoji(tokenizer: Any) -> None:
    text = "😀x = 1\n"
    doc = tokenize(tokenizer, text)
    index = LineIndex(text)
    k = doc.token_at(text.index("x"))
    start = index.position(doc.starts[k])
    assert start.character >= 2  # the emoji is two UTF-16 units


def test_empty_text_has_no_tokens(tokenizer: Any) -> None:
    doc = tokenize(tokenizer, "")
    assert len(doc) == 0
    with pytest.raises(DocumentError):
        doc.token_at(0)


def test_binary_text_is_rejected(tokenizer: Any) -> None:
    with pytest.raises(DocumentError, match="binary"):
        tokenize(tokenizer, "abc\x00def")


def test_partition_of_gappy_overlapping_offsets() -> None:
    text = "ab cd"
    starts, ends = _partition(text, [(0, 2), (3, 5), (4, 5)])
    assert (starts, ends) == ([0, 3, 4], [3, 4, 5])


def test_a_token_holding_part_of_a_character_is_labelled_with_that_character(tokenizer: Any) -> None:
    text = "s = '折' # 折\nmsg = '😀'\n"
    doc = tokenize(tokenizer, text)
    labels = [label(doc, k) for k in range(len(doc))]
    assert "∅" not in labels  # no token reads as nothing
    empty = [k for k in range(len(doc)) if doc.starts[k] == doc.ends[k]]
    assert empty, "the byte-level tokenizer splits these characters"
    for k in empty:
        assert labels[k] in ("折 (part)", "😀 (part)")
    # the token that owns the character's span is a part too, and keeps its leading space visible
    owner = doc.token_at(text.rindex("折"))
    assert labels[owner].endswith("折 (part)")
    assert doc.token_text(owner).endswith("折")  # the span is still the exact source text


def test_whole_tokens_keep_their_visible_text(tokenizer: Any) -> None:
    text = "def f(x):\r\n\treturn x\n"
    doc = tokenize(tokenizer, text)
    assert doc.fragments == {}
    assert [label(doc, k) for k in range(len(doc))] == [visible(doc.token_text(k)) for k in range(len(doc))]


def test_visible_uses_one_symbol_per_line_break_and_names_invisible_characters() -> None:
    assert visible("\r\n") == "↵"
    assert visible("\n\n") == "↵↵"
    assert visible("\r") == "↵"
    assert visible("\t x") == "⇥ x"
    assert visible("  a b ") == "··a b·"
    assert visible("\u200d") == "⟨U+200D⟩"
    assert visible("") == "∅"


def test_enclosing_word_names_the_word_a_token_is_a_piece_of(tokenizer: Any) -> None:
    text = "\tif err != nil {\n\t\treturn tokenizer_config\n"
    doc = tokenize(tokenizer, text)
    words = {doc.token_text(k): enclosing_word(doc, k) for k in range(len(doc))}
    assert words["il"] == "nil"  # SmolLM2 reads " nil" as " n" + "il"
    assert words[" n"] == "nil"  # the leading space is not part of the word
    assert words[" err"] is None and words[" !="] is None  # whole words and punctuation
    pieces = [enclosing_word(doc, k) for k in range(len(doc)) if "config" in doc.token_text(k)]
    assert pieces == ["tokenizer_config"]


def test_crlf_ranges_map_back_across_windows(embedded: Any) -> None:
    """A piece ending between \\r and \\n ("\\r\\n\\r\\n\\r", then "\\n") leaves no range inside a line break."""
    from pathlib import Path

    from atten_scope.engine.analysis import run_analysis
    from atten_scope.protocol.encode import token_json

    source = (Path(__file__).resolve().parents[2] / "examples" / "tokenizer.py").read_text(encoding="utf-8")
    text = source.replace("\n", "\r\n").replace("\r\n\r\n", "\r\n\r\n\r\n")[:3000]
    pieces = embedded.tokenizer.convert_ids_to_tokens(embedded.tokenizer(text)["input_ids"])
    assert any(piece.endswith("\u010d") and len(piece) > 1 for piece in pieces), "no piece ends inside a CRLF pair"
    analysis = run_analysis(embedded, text, 64)
    assert len(analysis.windows) > 2
    lines = LineIndex(text)
    rebuilt = []
    for index in range(analysis.token_count):
        span = token_json(analysis, index)["range"]
        start = lines.offset(span["start"]["line"], span["start"]["character"])
        end = lines.offset(span["end"]["line"], span["end"]["character"])
        assert text[start:end] == analysis.document.token_text(index), index
        rebuilt.append(text[start:end])
    assert "".join(rebuilt) == text[: analysis.document.ends[analysis.token_count - 1]]


def test_vocabulary_ids_are_labelled_like_document_tokens(tokenizer: Any) -> None:
    """Predicted ids (not in the document) get labels: visible text, a special token's name, and the
    bytes of a piece that holds only part of a character."""
    from atten_scope.engine.tokens import id_label

    doc = tokenize(tokenizer, "def f(x):\n    return '\u6298'\n")
    whole = [i for i in range(len(doc)) if i not in doc.fragments and not doc.special[i]]
    for index in whole:  # a whole token's id reads as the token does in the document
        assert id_label(doc, doc.ids[index]) == label(doc, index)
    pieces = [id_label(doc, doc.ids[index]) for index in sorted(doc.fragments)]
    assert pieces and all(piece.endswith(" (part)") and "\u27e8" in piece for piece in pieces)
    assert "E6" in "".join(pieces)  # the first byte of \u6298 (E6 8A 98)
    eos = tokenizer.eos_token_id
    assert id_label(doc, eos) == tokenizer.convert_ids_to_tokens(eos)
    assert id_label(doc, tokenizer.convert_tokens_to_ids("\u010a")) == "\u21b5"  # the byte-level newline
