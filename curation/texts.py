"""Text helpers every stage shares: what a record's text is, and where terms occur in a text.

- `record_texts(frame, choice)`: the text of each record for one of `TEXT_CHOICES`
  (what embedding, the map, near-duplicate detection and export's similarity
  check compare);
- `FrameTexts(frame, choice)` / `ListTexts(texts)`: the same texts read a slice or
  a few rows at a time (issue 18: a stage that walks a million records, such as
  embedding and the map, never holds a Python list of every record's text);
- `placeholder_text(value)`: is an input a stand-in for "no input" (`<noinput>`,
  `N/A`…)? Such inputs count as empty everywhere (signals, embedding, export);
- `find_spans(text, terms)` / `merge_spans(spans)`: where terms occur in a text,
  as sorted, non-overlapping (start, end) pairs, for highlighting.

Light on purpose (no numpy): the command line's `--help` imports it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from curation.errors import CurationError
from curation.records import loads

if TYPE_CHECKING:
    import pandas as pd

TEXT_CHOICES = {
    "prompt": "instruction + input (what the model is asked; for conversations, every turn before the last answer)",
    "output": "the output (what the model learns to write)",
    "conversation": "the whole record: system, every turn, or instruction, input and output",
}
PLACEHOLDERS = {"noinput", "noinputs", "na", "none", "null", "nil", "nan", "empty", "blank", "noinputrequired", "noinputneeded",
                "notapplicable", "noinputgiven", "noinputprovided"}


def placeholder_text(value: str) -> bool:
    """Is this input a stand-in for "no input" (`<noinput>`, `No input.`, `N/A`…)? Such inputs count as empty."""
    return re.sub(r"[^a-z]", "", value.lower()) in PLACEHOLDERS and bool(value.strip())


TEXT_FIELDS = ["instruction", "input", "output", "system", "messages"]  # the columns record_texts reads


def record_texts(frame: pd.DataFrame, choice: str = "prompt") -> list[str]:
    """The text of each record (a frame of records) for a text choice."""
    if choice not in TEXT_CHOICES:
        raise CurationError(f"unknown text choice {choice!r}: choose one of {', '.join(TEXT_CHOICES)}")
    out = []
    for ins, inp, output, system, messages in _rows(frame):
        inp = "" if not isinstance(inp, str) or placeholder_text(inp) else inp
        turns = loads(messages)
        if choice == "prompt" and turns:
            last = max((i for i, m in enumerate(turns) if m.get("role") == "assistant"), default=len(turns))
            out.append("\n".join(m.get("content", "") for m in turns[:last] if m.get("role") != "system").strip())
        elif choice == "prompt":
            out.append(f"{ins}\n{inp}".strip())
        elif choice == "output":
            out.append(output or "")
        else:
            parts = [m.get("content", "") for m in turns] if turns else [system or "", ins or "", inp, output or ""]
            out.append("\n".join(p for p in parts if p).strip())
    return out


SLICE = 20_000  # records whose texts a columnar walk holds at once (issue 18: ~15 MB of t0 prompts, not 1M texts)


def _rows(frame: pd.DataFrame, size: int = 512) -> Iterator[tuple]:
    """The text columns' values row by row, read a slice of rows at a time as object arrays: walking an Arrow-backed
    column yields one element per call (issue 18: ~8x slower), and all of it at once would hold every column's texts."""
    for lo in range(0, len(frame), size):
        yield from zip(*(frame[c].iloc[lo : lo + size].to_numpy(object) for c in TEXT_FIELDS))


@dataclass(frozen=True)
class FrameTexts:
    """The texts of a frame of records for a text choice, made a slice or a few rows at a time (issue 18): embedding
    and the map hash every text, then need only the texts they embed or label, so no list of every text is built.
    `at(rows)` and `slices()` give exactly what `record_texts` gives for those rows."""

    frame: pd.DataFrame
    choice: str = "prompt"

    def __post_init__(self):
        if self.choice not in TEXT_CHOICES:
            raise CurationError(f"unknown text choice {self.choice!r}: choose one of {', '.join(TEXT_CHOICES)}")

    def __len__(self) -> int:
        return len(self.frame)

    def slices(self, size: int | None = None) -> Iterator[list[str]]:
        """The texts in record order, `size` records at a time (default `SLICE`)."""
        size = size or SLICE
        for lo in range(0, len(self.frame), size):
            yield record_texts(self.frame.iloc[lo : lo + size], self.choice)

    def at(self, rows: Sequence[int]) -> list[str]:
        """The texts of these rows (positions), in the order given."""
        return record_texts(self.frame.iloc[list(rows)], self.choice) if len(rows) else []


@dataclass(frozen=True)
class ListTexts:
    """Texts already in a list, read the way `FrameTexts` is (for callers that have their texts in hand)."""

    texts: Sequence[str]

    def __len__(self) -> int:
        return len(self.texts)

    def slices(self, size: int | None = None) -> Iterator[list[str]]:
        size = size or SLICE
        for lo in range(0, len(self.texts), size):
            yield list(self.texts[lo : lo + size])

    def at(self, rows: Sequence[int]) -> list[str]:
        return [self.texts[int(i)] for i in rows]


def as_texts(texts) -> FrameTexts | ListTexts:
    """Texts readable a slice or a few rows at a time: a `FrameTexts`/`ListTexts` as it is, a sequence of strings wrapped."""
    if isinstance(texts, (FrameTexts, ListTexts)):
        return texts
    return ListTexts(texts if isinstance(texts, (list, tuple)) else list(texts))


def merge_spans(spans) -> list[tuple[int, int]]:
    """(start, end) pairs sorted, with overlapping or touching ones merged."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def find_spans(text: str, terms) -> list[tuple[int, int]]:
    """Where the terms occur in the text (case-insensitive), overlapping spans merged, in order."""
    return merge_spans(
        (m.start(), m.end()) for term in terms if term for m in re.finditer(re.escape(term), text, flags=re.IGNORECASE)
    )
