"""Word-level differences between two texts, for a side-by-side view."""

from __future__ import annotations

import difflib
import re

_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(a: str, b: str) -> list[tuple[str, str, str]]:
    """(tag, piece of a, piece of b) in order; tag is equal, replace, delete or insert (whitespace is kept)."""
    ta, tb = _TOKENS.findall(a or ""), _TOKENS.findall(b or "")
    matcher = difflib.SequenceMatcher(a=ta, b=tb, autojunk=False)
    return [(tag, "".join(ta[i1:i2]), "".join(tb[j1:j2])) for tag, i1, i2, j1, j2 in matcher.get_opcodes()]
