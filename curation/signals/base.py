"""The shape every signal shares, and the prepared text columns they read.

A signal is a vectorised function from records to a `score` column plus its
evidence: what made it fire, as structured `Evidence` (field, span, value; see
`curation.signals.evidence`), kept as JSON in a `found` column next to the line
people read (`evidence`). Whether a record is *flagged* is decided later from
the score and the signal's threshold, so thresholds can change without
recomputing anything.

Directions:
- `flag`: flagged when score > 0 (a count of matches, or 1 for yes);
- `above`: flagged when score > threshold;
- `below`: flagged when score < threshold (NaN means "does not apply");
- `differs`: flagged when the evidence (e.g. a language code) differs from the threshold.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from curation.signals.evidence import Evidence, describe, dumps
from curation.signals.task import Task, task_of


@dataclass(frozen=True)
class Signal:
    name: str
    description: str
    reason: str
    direction: str
    compute: Callable[[Texts], pd.DataFrame]
    threshold: float | str | None = None
    unit: str = ""
    severity: float = 0.5  # how much a flag lowers the quality score (see quality.py)
    fields: tuple[str, ...] = field(default=("output",))  # where to look for the evidence
    fix: str = ""  # a cleaning flag: how its records are repaired (they are fixed, not rejected)
    auto_fix: bool = False  # … and export applies that repair by itself

    @property
    def action(self) -> str:
        """What a curator may do with every record this flag marks at once: `fix` (a cleaning flag), `reject` (its
        measured precision is at least 0.9 on at least 20 labels) or `review` (open them and decide one by one)."""
        from curation.signals.measured import action

        return action(self)

    def flagged(self, score: pd.Series, evidence: pd.Series, threshold=None) -> pd.Series:
        t = self.threshold if threshold is None else threshold
        if self.direction == "flag":
            return score.fillna(0) > 0
        if self.direction == "above":
            return score.fillna(-np.inf) > float(t)
        if self.direction == "below":
            return score.fillna(np.inf) < float(t)
        return evidence.notna() & (evidence != t)


JOINED = {"prompt": ("instruction", "input"), "fields": ("system", "instruction", "input", "output"),
          "everything": ("system", "instruction", "input", "output", "messages")}
MAX_FOUND = 20  # pieces of evidence kept per record and signal


class Texts:
    """The text columns of a batch of records, prepared once and shared by every signal."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame.reset_index(drop=True)
        self.n = len(self.frame)
        self._arrays: dict[int, tuple[pd.Series, pa.Array]] = {}
        self._tasks: dict[int, Task] = {}
        self._lists: dict[str, list[str]] = {}

    def col(self, name: str) -> pd.Series:
        return self.frame[name].fillna("").astype(str)

    @cached_property
    def instruction(self) -> pd.Series:
        return self.col("instruction")

    @cached_property
    def input(self) -> pd.Series:
        return self.col("input")

    @cached_property
    def output(self) -> pd.Series:
        return self.col("output")

    @cached_property
    def system(self) -> pd.Series:
        return self.col("system")

    @cached_property
    def meta(self) -> pd.Series:
        """The source row's other fields as stored JSON (empty when the frame has none): read only to know whether
        the record declares tools, never scanned for content."""
        return self.col("meta") if "meta" in self.frame else pd.Series([""] * self.n, dtype=object)

    def task(self, i: int) -> Task:
        """What record `i`'s instruction asks (computed once per record, on demand)."""
        if i not in self._tasks:
            self._tasks[i] = task_of(*(self.values(name)[i] for name in ("instruction", "input", "system", "messages", "meta")))
        return self._tasks[i]

    def values(self, name: str) -> list[str]:
        """A column as a Python list (indexing it in a loop is much faster than `Series.iat`)."""
        if name not in self._lists:
            self._lists[name] = getattr(self, name).tolist()
        return self._lists[name]

    @cached_property
    def messages(self) -> pd.Series:
        """The conversation as stored (JSON text; empty for single-turn records)."""
        return self.col("messages")

    @cached_property
    def prompt(self) -> pd.Series:
        """Instruction and input together: what the model is asked."""
        return self.instruction + "\n" + self.input

    @cached_property
    def fields(self) -> pd.Series:
        """The record's own fields, decoded: system, instruction, input and output (for a conversation, its last
        exchange; the stored JSON of the whole conversation is not part of it)."""
        return self.system + "\n" + self.prompt + "\n" + self.output

    @cached_property
    def everything(self) -> pd.Series:
        """Every text of the record: system, instruction, input, output and the whole conversation."""
        return self.system + "\n" + self.prompt + "\n" + self.output + "\n" + self.messages

    def found(self, column: str, i: int, start: int, end: int, note: str = "{value}", strip: bool = True) -> Evidence:
        """Evidence for `column[i][start:end]`, where `column` is a field or a joined column (`prompt`, `everything`):
        located in the field it falls in, with leading and trailing white space left out unless `strip` is false."""
        text = self.values(column)[i]
        while strip and start < end and text[start].isspace():
            start += 1
        while strip and end > start and text[end - 1].isspace():
            end -= 1
        offset = 0
        parts = JOINED.get(column, (column,))
        for k, name in enumerate(parts):
            value = self.values(name)[i]
            if start < offset + len(value) or k == len(parts) - 1:
                lo = min(max(start - offset, 0), len(value))
                hi = min(max(end - offset, lo), len(value))
                return Evidence(value[lo:hi], name, lo, hi, note)
            offset += len(value) + 1  # the "\n" that joins the fields
        raise AssertionError("unreachable")

    def arrow(self, series: pd.Series) -> pa.Array:
        """The series as an Arrow string array, converted once per series."""
        key = id(series)
        if key not in self._arrays:
            self._arrays[key] = (series, pa.array(series.tolist(), type=pa.large_string()))
        return self._arrays[key][1]


def matches(texts: Texts, series: pd.Series, pattern: str) -> np.ndarray:
    """Rows whose text matches an RE2-compatible regex, computed in Arrow (fast, vectorised)."""
    arr = texts.arrow(series)
    return np.asarray(pc.match_substring_regex(arr, pattern).to_numpy(zero_copy_only=False), dtype=bool)


def regex_signal(column: str, pattern: str, *, count: bool = True):
    """A `flag` signal over a text column (a field, `prompt` or `everything`): score = number of matches of
    `pattern` (or 1), evidence = each match, located in its field (the first `MAX_FOUND`)."""
    compiled = re.compile(pattern)

    def compute(texts: Texts) -> pd.DataFrame:
        series = getattr(texts, column)
        hit = matches(texts, series, pattern)
        score = np.zeros(texts.n)
        found: list[list[Evidence] | None] = [None] * texts.n
        values = texts.values(column)
        for i in np.flatnonzero(hit):
            spans = [m.span() for m in compiled.finditer(values[i])]
            score[i] = len(spans) if count else 1.0
            found[i] = [texts.found(column, i, lo, hi) for lo, hi in spans[:MAX_FOUND]]
        return result(score, found)

    return compute


def result(score, found) -> pd.DataFrame:
    """A signal's output: `score`, `evidence` (the line people read) and `found` (the evidence as JSON), one row a record.
    `found` holds a list of `Evidence` (or None) per record."""
    return pd.DataFrame({
        "score": np.asarray(score, dtype=float),
        "evidence": np.array([describe(f) if f else None for f in found], dtype=object),  # most records: nothing found
        "found": np.array([dumps(f) if f else None for f in found], dtype=object),
    })
