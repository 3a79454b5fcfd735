"""What near-duplicate detection compares: the chosen text, minus boilerplate lines.

Templated data repeats whole lines in hundreds of records: every GPTeacher
toolformer instruction starts with the same tool description, so embeddings of
the raw text put thousands of different tasks into one giant group. A line that
appears in at least `BOILERPLATE_SHARE` of the records (and in at least
`BOILERPLATE_MIN` of them) is boilerplate: it is removed before comparing. A
text that would be left empty keeps its original content. Exact duplicates are
always judged on the full text.

Issue 18 (1M records): every record's lines are counted by a 64-bit hash of their
normalised form, kept in flat integer arrays, instead of holding each record's
split lines as Python tuples (4.7 GB at 1M records, most of it never returned to
the system). Only the boilerplate lines themselves are kept as text.
"""

from __future__ import annotations

from array import array

import numpy as np
import pandas as pd

from curation.texts import record_texts

BOILERPLATE_SHARE = 0.01
BOILERPLATE_MIN = 10


def normalise(line: str) -> str:
    return " ".join(line.split()).lower()


def line_key(norm: str) -> int:
    """A normalised line's counting key: 0 for an empty line (never boilerplate), else its hash (a collision between two
    of a few million distinct lines is about one chance in a million million)."""
    return hash(norm) if norm else 0


class LineKeys:
    """Every text's line keys (`line_key` of each of its lines, in order) in one flat array, with each text's offset."""

    def __init__(self, texts: list[str]):
        keys, offsets, distinct = array("q"), array("q", [0]), array("q")
        for text in texts:
            row = [line_key(normalise(line)) for line in text.splitlines()]
            keys.extend(row)
            offsets.append(len(keys))
            distinct.extend(set(row) - {0})  # a record counts a line once
        self.keys = np.frombuffer(keys, dtype=np.int64) if len(keys) else np.zeros(0, np.int64)
        self.offsets = np.frombuffer(offsets, dtype=np.int64)
        self.distinct = np.frombuffer(distinct, dtype=np.int64) if len(distinct) else np.zeros(0, np.int64)

    def frequent(self, floor: float) -> dict[int, int]:
        """Key -> records holding it, for the keys in at least `floor` records, most common first (then first seen)."""
        keys, first, counts = np.unique(self.distinct, return_index=True, return_counts=True)
        chosen = np.flatnonzero(counts >= floor)
        chosen = chosen[np.lexsort((first[chosen], -counts[chosen]))]
        return dict(zip(keys[chosen].tolist(), counts[chosen].tolist()))


def _boilerplate(texts: list[str], share: float, min_records: int) -> tuple[dict[str, int], LineKeys, np.ndarray]:
    """(normalised boilerplate line -> records holding it, every text's line keys, mask of the lines that are boilerplate)."""
    found = LineKeys(texts)
    frequent = found.frequent(max(min_records, share * len(texts)))
    drop = np.isin(found.keys, np.fromiter(frequent, dtype=np.int64, count=len(frequent)))
    named: dict[int, str] = {}
    for row in np.flatnonzero(per_text(found, drop)):  # each boilerplate line's text, from the first record holding it
        start = found.offsets[row]
        for offset, line in enumerate(texts[row].splitlines()):
            key = int(found.keys[start + offset])
            if key in frequent and key not in named:
                named[key] = normalise(line)
        if len(named) == len(frequent):
            break
    return {named[k]: n for k, n in frequent.items()}, found, drop


def per_text(found: LineKeys, lines: np.ndarray) -> np.ndarray:
    """Mask of the texts holding at least one of the lines in the mask `lines` (one entry per line of every text)."""
    total = np.concatenate([[0], np.cumsum(lines, dtype=np.int64)])
    return total[found.offsets[1:]] > total[found.offsets[:-1]]


def boilerplate_lines(texts: list[str], share: float = BOILERPLATE_SHARE, min_records: int = BOILERPLATE_MIN) -> dict[str, int]:
    """Normalised lines that recur in many records -> how many records contain them, most common first."""
    return _boilerplate(texts, share, min_records)[0]


def rejoined(text: str) -> str:
    """The text with its lines joined by newlines and the ends stripped (what stripping leaves when no line goes)."""
    out = "\n".join(text.splitlines()).strip() or text
    return text if out == text else out  # the same string object: no second copy of an unchanged text


def comparable_texts(frame: pd.DataFrame, choice: str = "prompt", strip: bool = True) -> tuple[list[str], list[str], dict[str, int]]:
    """(full texts, texts to compare, boilerplate lines removed with their record counts)."""
    full = record_texts(frame, choice)
    if not strip:
        return full, list(full), {}
    lines, found, drop = _boilerplate(full, BOILERPLATE_SHARE, BOILERPLATE_MIN)
    if not lines:
        return full, list(full), {}
    holding, offsets = per_text(found, drop).tolist(), found.offsets.tolist()
    compared = []
    for row, text in enumerate(full):
        if not holding[row]:
            compared.append(rejoined(text))
            continue
        gone = drop[offsets[row] : offsets[row + 1]].tolist()
        compared.append("\n".join(line for line, out in zip(text.splitlines(), gone) if not out).strip() or text)
    return full, compared, lines
