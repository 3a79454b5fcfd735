"""What near-duplicate detection compares: the chosen text, minus boilerplate lines.

Templated data repeats whole lines in hundreds of records: every GPTeacher
toolformer instruction starts with the same tool description, so embeddings of
the raw text put thousands of different tasks into one giant group. A line that
appears in at least `BOILERPLATE_SHARE` of the records (and in at least
`BOILERPLATE_MIN` of them) is boilerplate: it is removed before comparing. A
text that would be left empty keeps its original content. Exact duplicates are
always judged on the full text.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from curation.texts import record_texts

BOILERPLATE_SHARE = 0.01
BOILERPLATE_MIN = 10


def normalise(line: str) -> str:
    return " ".join(line.split()).lower()


def _lines(texts: list[str]) -> list[list[tuple[str, str]]]:
    """Each text's lines with their normalised form (computed once for counting and stripping)."""
    return [[(line, normalise(line)) for line in text.splitlines()] for text in texts]


def _boilerplate(split: list[list[tuple[str, str]]], share: float, min_records: int) -> dict[str, int]:
    counts: Counter = Counter()
    for lines in split:
        counts.update({norm for _, norm in lines if norm})
    floor = max(min_records, share * len(split))
    return {line: n for line, n in counts.most_common() if n >= floor}


def boilerplate_lines(texts: list[str], share: float = BOILERPLATE_SHARE, min_records: int = BOILERPLATE_MIN) -> dict[str, int]:
    """Normalised lines that recur in many records -> how many records contain them, most common first."""
    return _boilerplate(_lines(texts), share, min_records)


def comparable_texts(frame: pd.DataFrame, choice: str = "prompt", strip: bool = True) -> tuple[list[str], list[str], dict[str, int]]:
    """(full texts, texts to compare, boilerplate lines removed with their record counts)."""
    full = record_texts(frame, choice)
    if not strip:
        return full, list(full), {}
    split = _lines(full)
    lines = _boilerplate(split, BOILERPLATE_SHARE, BOILERPLATE_MIN)
    if not lines:
        return full, list(full), {}
    compared = ["\n".join(line for line, norm in parts if norm not in lines).strip() or text for text, parts in zip(full, split)]
    return full, compared, lines
