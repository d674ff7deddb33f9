"""A tiny tokenizer for arithmetic expressions, used as Atten-Scope's demo file."""

from dataclasses import dataclass

OPERATORS = {"+": 1, "-": 1, "*": 2, "/": 2}


@dataclass
class Token:
    kind: str
    text: str
    position: int


def tokenize(source: str) -> list[Token]:
    """Split ``source`` into numbers, operators and parentheses."""
    tokens: list[Token] = []
    index = 0
    while index < len(source):
        char = source[index]
        if char.isspace():
            index += 1
            continue
        if char.isdigit():
            start = index
            while index < len(source) and source[index].isdigit():
                index += 1
            tokens.append(Token("number", source[start:index], start))
            continue
        if char in OPERATORS or char in "()":
            tokens.append(Token("operator", char, index))
            index += 1
            continue
        raise ValueError(f"unexpected character {char!r} at {index}")
    return tokens


def precedence(token: Token) -> int:
    return OPERATORS.get(token.text, 0)
