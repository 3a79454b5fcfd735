"""Summaries of the signals for people: length statistics, live threshold counts,
flag overlaps. (What to highlight for a flag comes from its structured evidence:
`curation.signals.evidence`.)"""

from __future__ import annotations

import numpy as np
import pandas as pd

from curation.signals import SIGNALS

LENGTH_FIELDS = ("instruction", "input", "output", "record")
UNITS = ("tokens", "words", "chars")


def length_summary(frame: pd.DataFrame, field: str, unit: str, by: str | None, short: int, long: int) -> pd.DataFrame:
    """Per group: records, median, p90, max, and the share under `short` / over `long` (in `unit`)."""
    column = f"{field}_{unit}"
    groups = frame.groupby(by, sort=True) if by else [("all", frame)]
    rows = []
    for name, g in groups:
        values = g[column].to_numpy()
        if not len(values):
            continue
        rows.append({
            "group": name, "records": len(values), "median": float(np.median(values)), "p90": float(np.percentile(values, 90)),
            "max": int(values.max()), f"share < {short}": float((values < short).mean()), f"share > {long}": float((values > long).mean()),
        })
    return pd.DataFrame(rows)


def count_at(table: pd.DataFrame, name: str, threshold) -> int:
    """How many records the signal would flag at this threshold (nothing is applied)."""
    s = SIGNALS[name]
    return int(s.flagged(table[f"score__{name}"], table[f"evidence__{name}"], threshold).sum())


def overlaps(flag_frame: pd.DataFrame) -> pd.DataFrame:
    """Records flagged by both signals of each pair (diagonal: by the signal alone or with others)."""
    m = flag_frame.to_numpy().astype(np.int64)
    both = m.T @ m
    codes = [SIGNALS[c].reason for c in flag_frame.columns]
    return pd.DataFrame(both, index=codes, columns=codes)


def flag_counts(flag_frame: pd.DataFrame) -> pd.Series:
    """Records by how many flags they carry (0, 1, 2, …)."""
    return flag_frame.sum(axis=1).value_counts().sort_index()
