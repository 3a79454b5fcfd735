"""The shape every signal shares, and the prepared text columns they read.

A signal is a vectorised function from records to a `score` column (plus an
`evidence` column: the phrase, URL or n-gram that made it fire). Whether a
record is *flagged* is decided later from the score and the signal's
threshold, so thresholds can change without recomputing anything.

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

    def flagged(self, score: pd.Series, evidence: pd.Series, threshold=None) -> pd.Series:
        t = self.threshold if threshold is None else threshold
        if self.direction == "flag":
            return score.fillna(0) > 0
        if self.direction == "above":
            return score.fillna(-np.inf) > float(t)
        if self.direction == "below":
            return score.fillna(np.inf) < float(t)
        return evidence.notna() & (evidence != t)


class Texts:
    """The text columns of a batch of records, prepared once and shared by every signal."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame.reset_index(drop=True)
        self.n = len(self.frame)
        self._arrays: dict[int, tuple[pd.Series, pa.Array]] = {}

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
    def prompt(self) -> pd.Series:
        """Instruction and input together: what the model is asked."""
        return self.instruction + "\n" + self.input

    @cached_property
    def everything(self) -> pd.Series:
        """Every text of the record: system, instruction, input, output and the whole conversation."""
        messages = self.frame["messages"].fillna("").astype(str)
        return self.system + "\n" + self.prompt + "\n" + self.output + "\n" + messages

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


def regex_signal(series_of: Callable[[Texts], pd.Series], pattern: str, *, count: bool = True):
    """A `flag` signal: score = number of matches of `pattern`, evidence = the first matches."""
    compiled = re.compile(pattern)

    def compute(texts: Texts) -> pd.DataFrame:
        series = series_of(texts)
        hit = matches(texts, series, pattern)
        score = np.zeros(texts.n)
        evidence = np.full(texts.n, None, dtype=object)
        for i in np.flatnonzero(hit):
            found = [m.group(0) for m in compiled.finditer(series.iat[i])]
            score[i] = len(found) if count else 1.0
            evidence[i] = " | ".join(dict.fromkeys(f.strip() for f in found))[:200]
        return pd.DataFrame({"score": score, "evidence": evidence})

    return compute


def result(score, evidence) -> pd.DataFrame:
    return pd.DataFrame({"score": np.asarray(score, dtype=float), "evidence": np.asarray(evidence, dtype=object)})
