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

import re
from collections import Counter

import pandas as pd

from curation.embed import record_texts

BOILERPLATE_SHARE = 0.01
BOILERPLATE_MIN = 10
_SPACE = re.compile(r"\s+")


def normalise(line: str) -> str:
    return _SPACE.sub(" ", line).strip().lower()


def boilerplate_lines(texts: list[str], share: float = BOILERPLATE_SHARE, min_records: int = BOILERPLATE_MIN) -> dict[str, int]:
    """Normalised lines that recur in many records -> how many records contain them, most common first."""
    counts: Counter = Counter()
    for text in texts:
        counts.update({normalise(line) for line in text.splitlines()} - {""})
    floor = max(min_records, share * len(texts))
    return {line: n for line, n in counts.most_common() if n >= floor}


def strip_lines(texts: list[str], lines: set[str]) -> list[str]:
    if not lines:
        return list(texts)
    out = []
    for text in texts:
        kept = "\n".join(line for line in text.splitlines() if normalise(line) not in lines).strip()
        out.append(kept or text)
    return out


def comparable_texts(frame: pd.DataFrame, choice: str = "prompt", strip: bool = True) -> tuple[list[str], list[str], dict[str, int]]:
    """(full texts, texts to compare, boilerplate lines removed with their record counts)."""
    full = record_texts(frame, choice)
    lines = boilerplate_lines(full) if strip else {}
    return full, strip_lines(full, set(lines)), lines
