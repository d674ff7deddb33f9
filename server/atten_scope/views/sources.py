"""The sources a hover card lists: the heaviest word-like tokens, with the whitespace and
punctuation tokens and the token itself summed apart.

Next to a token the heaviest sources are mostly the punctuation and indentation around it and the
token itself (``·/``, ``=``, ``↵···``): true weights, but they say little about which code the token
draws on. They are folded into one count and one share, over the whole row rather than only the
listed tokens, so the shares of the listed tokens, the folded ones and the token itself add up to
at most 100% of the row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atten_scope.engine.tokens import TokenizedDocument, word_like


@dataclass(frozen=True)
class FoldedSources:
    """A weight row split for reading."""

    words: list[int]  # the heaviest word-like sources (weight above 0), heaviest first, ties in token order
    folded: int  # whitespace-only and punctuation-only sources with a weight above 0
    folded_weight: float  # their summed weight
    own_weight: float  # the token's weight on itself


def fold_sources(doc: TokenizedDocument, weights: np.ndarray, token: int, count: int) -> FoldedSources:
    """``weights`` (one token's row or column over ``doc``'s tokens) as the ``count`` heaviest
    word-like sources other than ``token`` itself (``tokens.word_like``), and the rest summed:

        folded_weight = sum of w_j over j != token with w_j > 0 and j not word-like,
        own_weight = w_token.
    """
    order = np.argsort(-weights, kind="stable")
    words: list[int] = []
    folded = 0
    folded_weight = 0.0
    for index in (int(i) for i in order):
        weight = float(weights[index])
        if weight <= 0:
            break
        if index == token:
            continue
        if word_like(doc, index):
            if len(words) < count:
                words.append(index)
        else:
            folded += 1
            folded_weight += weight
    own = float(weights[token]) if 0 <= token < len(weights) else 0.0
    return FoldedSources(words, folded, folded_weight, own)
