"""The instruction filters of self-instruct (Wang et al. 2022, `bootstrap_instructions.py`) and Alpaca
(`generate_instruction.py`): each returns None when a text passes it, else a short detail; `check` runs them in the
reference order and returns the first reason code that rejects a text.

- `length`: more than 3 and at most 150 words (the reference code's `len(inst.split()) <= 3 or > 150`);
- `keyword`: none of the words a text-only model cannot act on (Alpaca's blocklist, a superset of self-instruct's),
  matched as whole words, case-insensitively;
- `program`: does not start with "Write a program" (the reference says models add it to many instructions);
- `punctuation`: does not start with punctuation;
- `non_ascii`: does not start with a non-ASCII character.

Novelty (ROUGE-L against the pool) comes after these: `curation.generate.novelty`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass

BLOCKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps", "draw", "plot",
             "go to", "video", "audio", "music", "flowchart", "diagram")
BLOCKED = re.compile(r"\b(" + "|".join(re.escape(w) for w in BLOCKLIST) + r")\b", flags=re.IGNORECASE)


@dataclass(frozen=True)
class Filter:
    name: str
    description: str
    test: Callable[[str], str | None]


def too_short_or_long(text: str) -> str | None:
    words = len(text.split())
    return None if 3 < words <= 150 else f"{words} words"


def blocked_word(text: str) -> str | None:
    m = BLOCKED.search(text)
    return None if m is None else m.group(1).lower()


def write_a_program(text: str) -> str | None:
    return "Write a program" if text.startswith("Write a program") else None


def leading_punctuation(text: str) -> str | None:
    return text[0] if text and text[0] in string.punctuation else None


def leading_non_ascii(text: str) -> str | None:
    return text[0] if text and not text[0].isascii() else None


FILTERS = (
    Filter("length", "more than 3 and at most 150 words", too_short_or_long),
    Filter("keyword", "no word a text-only model cannot act on (" + ", ".join(BLOCKLIST) + ")", blocked_word),
    Filter("program", 'does not start with "Write a program"', write_a_program),
    Filter("punctuation", "does not start with punctuation", leading_punctuation),
    Filter("non_ascii", "does not start with a non-ASCII character", leading_non_ascii),
)
NAMES = tuple(f.name for f in FILTERS)


def clean(text: str) -> str:
    """Whitespace runs to one space, trailing colon dropped, first letter upper-case (the reference capitalises, which
    also lowercases every other letter: names and acronyms are kept here)."""
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text[:1].upper() + text[1:]


def check(text: str) -> tuple[str | None, str]:
    """(None, "") when the text passes every filter, else (reason code, detail) of the first that rejects it."""
    for f in FILTERS:
        detail = f.test(text)
        if detail is not None:
            return f.name, detail
    return None, ""
