from __future__ import annotations

import pytest

from atten_scope.engine.positions import LineIndex, column_index, editor_column


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


def test_editor_columns_expand_tabs_to_tab_stops_and_count_code_points() -> None:
    line = "\tif err != nil {"
    assert editor_column(line, 0) == 1
    assert editor_column(line, 1) == 5  # after one tab
    assert editor_column(line, line.index("nil")) == 15
    assert editor_column(line, 1, tab_size=8) == 9
    assert editor_column("ab\tc", 3) == 5  # a tab after two characters reaches the next stop
    emoji = '\ts := "\U0001f600 ok"'
    assert editor_column(emoji, emoji.index("ok")) == 13  # the emoji is one column, two UTF-16 units


@pytest.mark.parametrize("tab_size", [2, 4, 8])
def test_column_index_inverts_editor_column(tab_size: int) -> None:
    line = "\t\tx = '\U0001f600'\t# \u6298"
    for index in range(len(line) + 1):
        assert column_index(line, editor_column(line, index, tab_size), tab_size) == index
    assert column_index(line, 2, tab_size) == 0  # inside the first tab's width: the tab
    last = editor_column(line, len(line), tab_size)
    with pytest.raises(ValueError, match=f"last column is {last}"):
        column_index(line, last + 1, tab_size)
    with pytest.raises(ValueError):
        column_index(line, 0, tab_size)
