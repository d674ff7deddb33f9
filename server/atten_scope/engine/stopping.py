"""How generation chooses a token and when it stops (``generation.py``): transformers logits
processors and stopping criteria, duck-typed (no import of transformers here).

Sampling: the next token is drawn from softmax(z / T) by a ``torch.Generator`` seeded per request.
Stop rule for code: after a completed line, a line whose text is indented less than the cursor's
line (its leading whitespace, a tab to the next multiple of TAB_WIDTH columns) ends the
completion before it ("dedent"), and so do two blank lines in a row ("blankLines").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from atten_scope.common import cancellation

TAB_WIDTH = 8  # columns of a tab when indentations are compared (Python's rule)


def indent_width(line: str) -> int:
    """Columns of ``line``'s leading whitespace, a tab advancing to the next multiple of TAB_WIDTH."""
    return len(line[: len(line) - len(line.lstrip(" \t"))].expandtabs(TAB_WIDTH))


def stop_point(completion: str, indent: int, since: int = 0) -> tuple[str, int] | None:
    """(reason, cut) when ``completion`` meets the code stop rule, else None: a line after the first
    (whose start a completed line precedes) with text indented less than ``indent`` columns
    ("dedent", cut at that line's start), or two completed blank lines ("blankLines", cut at the
    first's start). Only events after ``since`` (the forced text's length) count."""
    lines = completion.split("\n")
    position = len(lines[0]) + 1
    blank_start: int | None = None
    for number in range(1, len(lines)):
        line = lines[number]
        if line.strip():
            first = position + len(line) - len(line.lstrip())
            if indent_width(line) < indent and first >= since:
                return "dedent", position
            blank_start = None
        elif number < len(lines) - 1:  # a completed blank line
            if blank_start is not None and position + len(line) >= since:
                return "blankLines", blank_start
            blank_start = position
        position += len(line) + 1
    return None


class SeededSampling:
    """A transformers logits processor that draws the next token from softmax(scores) with its own
    ``torch.Generator`` and leaves only that token possible, so generate's greedy step takes it.
    generate's own sampling draws from the global generator, which every thread shares."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._generators: dict[torch.device, torch.Generator] = {}

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        generator = self._generators.get(scores.device)
        if generator is None:
            generator = self._generators[scores.device] = torch.Generator(scores.device).manual_seed(self.seed)
        drawn = torch.multinomial(torch.softmax(scores.float(), dim=-1), 1, generator=generator)
        return torch.full_like(scores, -math.inf).scatter_(1, drawn, 0.0)


class CodeStop:
    """A transformers stopping criterion: the code stop rule on the text generated so far (decoded
    after the context's last token, which keeps a leading space), with cancellation and progress."""

    def __init__(self, tokenizer: Any, anchor: list[int], begin: int, indent: int, report: Callable[[int], None]):
        self.tokenizer, self.anchor, self.begin, self.indent, self.report = tokenizer, anchor, begin, indent, report
        self.head = str(tokenizer.decode(anchor, skip_special_tokens=True))
        self.since = 0  # the forced text's length: stop events inside it do not count
        self.active = True  # whether the code stop rule applies (else only cancellation and progress)

    def decode(self, ids: list[int]) -> str:
        """The text ``ids`` spell after the context."""
        if not ids:
            return ""
        text = str(self.tokenizer.decode(self.anchor + ids, skip_special_tokens=True))
        return text[len(self.head) :] if text.startswith(self.head) else text

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        cancellation.check()
        generated = input_ids[0, self.begin :].tolist()
        self.report(len(generated))
        stop = self.active and stop_point(self.decode(generated), self.indent, self.since) is not None
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)
