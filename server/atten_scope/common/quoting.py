"""User values as messages quote them: short enough to read, however long the value.

A setting or a request field can hold anything (a model id of 10,000 characters pasted by
mistake); a message that repeats it whole is unreadable in a notification or the status bar.
Every message that echoes a user's value goes through ``quoted`` or ``shorten``.
"""

from __future__ import annotations

QUOTED_CHARACTERS = 80  # a long Hub id or a path with its file name fits
DETAIL_CHARACTERS = 300  # a library's error sentence, which may itself repeat the value
ELLIPSIS = "\u2026"


def shorten(text: str, limit: int = QUOTED_CHARACTERS) -> str:
    """``text`` when it has at most ``limit`` characters, else its start and end around an ellipsis,
    ``limit`` characters in all: the start says where a path or id begins, the end names its file."""
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 3
    head = limit - 1 - tail
    return f"{text[:head]}{ELLIPSIS}{text[len(text) - tail :]}"


def quoted(value: object, limit: int = QUOTED_CHARACTERS) -> str:
    """A user's value for a message: a string in single quotes, anything else as Python writes it,
    shortened to ``limit`` characters (quotes included)."""
    if isinstance(value, str):
        return f"'{shorten(value, limit - 2)}'"
    return shorten(repr(value), limit)


def detail(text: str, value: str) -> str:
    """Another component's sentence (a library's error) for a message about ``value``: every copy of
    ``value`` in it shortened, then the whole to ``DETAIL_CHARACTERS``."""
    if value:
        text = text.replace(value, shorten(value))
    return shorten(text, DETAIL_CHARACTERS)
