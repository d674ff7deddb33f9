from __future__ import annotations

from typing import Any

import pytest

from atten_scope.errors import DocumentError
from atten_scope.positions import LineIndex
from atten_scope.tokens import _partition, tokenize

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
