"""Summaries of the signals for people: length statistics, live threshold counts,
flag overlaps, and the exact text to highlight for a flag's evidence."""

from __future__ import annotations

import re

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


QUOTED = re.compile(r"^(?:refers to |input is )?(?:'(.+)'|\"(.+)\")(?: × \d+| but the input is empty)?$")
PREFIXES = ("URL ", "email ", "phone ", "IP address ", "card number ", "api key ")


def highlight_terms(evidence: str | None) -> list[str]:
    """The substrings of the record that a flag's evidence points at, to mark in the text."""
    if not evidence:
        return []
    terms = []
    for part in evidence.split(" | "):
        part = part.strip()
        quoted = QUOTED.match(part)
        if quoted:
            terms.append(quoted.group(1) or quoted.group(2))
        elif part.startswith(PREFIXES):
            value = part.split(" ", 2 if part.startswith(("IP address ", "card number ", "api key ")) else 1)[-1]
            terms.append(value.strip("'\"…"))
        elif "…" in part:
            terms.append(part.split("…", 1)[1])
        elif ":" in part and part.split(":", 1)[0] in ("mojibake", "line repeated × 2"):
            terms.append(part.split(":", 1)[1].strip())
        else:
            terms.append(part)
    return [t for t in dict.fromkeys(terms) if t and len(t) >= 2]


def spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Where the terms occur in the text (case-insensitive), overlapping spans merged, in order."""
    found = sorted(
        (m.start(), m.end()) for term in terms if term for m in re.finditer(re.escape(term), text, flags=re.IGNORECASE)
    )
    merged: list[tuple[int, int]] = []
    for lo, hi in found:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged
