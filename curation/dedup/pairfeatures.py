"""Surface features of a text pair, beside the cross-encoder's score in the second stage's combiner (`pairmodel`).

Each is symmetric (a pair's features do not depend on its order) and in [0, 1]:
word and word-bigram Jaccard, whether both texts hold the same numbers, the
length ratio, and rapidfuzz's character ratio and token-set ratio. On MRPC they
carry much of the signal (bench/RESULTS.md), and near copies in instruction data
share their words too.
"""

from __future__ import annotations

import re

import numpy as np

NAMES = ("word_jaccard", "bigram_jaccard", "same_numbers", "length_ratio", "char_ratio", "token_set_ratio")
WORD = re.compile(r"\w+")


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def pair_features(a: str, b: str) -> list[float]:
    from rapidfuzz import fuzz

    wa, wb = WORD.findall(a.lower()), WORD.findall(b.lower())
    numbers = {w for w in wa if w.isdigit()} == {w for w in wb if w.isdigit()}
    return [jaccard(set(wa), set(wb)), jaccard(set(zip(wa, wa[1:])), set(zip(wb, wb[1:]))), float(numbers),
            min(len(a), len(b)) / max(len(a), len(b), 1), fuzz.ratio(a, b) / 100, fuzz.token_set_ratio(a, b) / 100]


def features(a: list[str], b: list[str]) -> np.ndarray:
    """One row of `NAMES` per pair (a[k], b[k])."""
    return np.array([pair_features(x, y) for x, y in zip(a, b)], dtype=np.float64).reshape(len(a), len(NAMES))
