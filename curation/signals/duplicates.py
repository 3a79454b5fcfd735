"""Exact duplicates: the same text after normalising case and whitespace."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from curation.signals.base import Signal, Texts
from curation.signals.evidence import Evidence, dumps


def normalised_hashes(strings) -> list[str]:
    """A short hash of each string after lower-casing and collapsing whitespace (vectorised in Arrow)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = strings if isinstance(strings, (pa.Array, pa.ChunkedArray)) else pa.array(list(strings), type=pa.large_string())
    arr = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(arr), r"\s+", " "))
    return [hashlib.blake2b(t.encode(), digest_size=8).hexdigest() for t in arr.to_pylist()]


def text_hashes(texts: Texts) -> list[str]:
    """A hash of each record's whole text (system, instruction, input, output, conversation), case and spacing normalised."""
    return normalised_hashes(texts.arrow(texts.everything))


def mark_duplicates(table: pd.DataFrame) -> pd.DataFrame:
    """Flag every record whose text appeared earlier (in load order); its evidence names the first copy (no span: it
    is about the whole record)."""
    first = table.groupby("text_hash", sort=False)["record_id"].transform("first")
    dup = table["text_hash"].duplicated(keep="first").to_numpy()
    table["score__exact_duplicate"] = dup.astype(float)
    table["evidence__exact_duplicate"] = np.where(dup, "same text as " + first.astype(str), None)
    table["found__exact_duplicate"] = [dumps([Evidence(f, note="same text as {value}")]) if d else None for f, d in zip(first, dup)]
    return table


SIGNALS = [
    Signal("exact_duplicate", "The same text as an earlier record, after normalising case and whitespace (the first copy is not "
           "flagged).", "exact_duplicate", "flag", lambda texts: None, severity=0.0, fields=("instruction", "input", "output")),
]
