from __future__ import annotations

import pytest

from atten_scope.positions import LineIndex


def test_utf16_columns_count_astral_characters_twice() -> None:
    text = "a😀b\nx"
    index = LineIndex(text)
    assert index.position(2).to_lsp() == {"line": 0, "character": 3}  # after the emoji
    assert index.offset(0, 3) == 2
    assert index.offset(0, 2) == 1  # inside the surrogate pair: the emoji itself
    assert index.position(4).to_lsp() == {"line": 1, "character": 0}


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_breaks(newline: str) -> None:
    text = f"ab{newline}cd{newline}"
    index = LineIndex(text)
    assert index.line_count == 3
    second = text.index("c")
    assert index.position(second).to_lsp() == {"line": 1, "character": 0}
    assert index.offset(1, 1) == second + 1


def test_column_past_line_end_is_clamped_and_line_past_end_rejected() -> None:
    index = LineIndex("abc\r\ndef")
    assert index.offset(0, 99) == 3  # before the CRLF
    with pytest.raises(ValueError):
        index.offset(5, 0)
    with pytest.raises(ValueError):
        index.offset(-1, 0)


def test_non_ascii_bmp_counts_one_unit() -> None:
    index = LineIndex("é漢字 = 1")
    assert index.position(3).character == 3
