"""Length columns: characters, words and tokens per field; turns and per-role lengths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from curation.records import loads
from curation.signals.base import Texts
from curation.tokenize import Counter

FIELDS = ("instruction", "input", "output")
ROLES = ("system", "user", "assistant", "other")


def lengths(texts: Texts, counter: Counter) -> pd.DataFrame:
    out: dict[str, np.ndarray] = {}
    batches: list[str] = []
    for name in FIELDS:
        series = getattr(texts, name)
        arr = texts.arrow(series)
        out[f"{name}_chars"] = pc.utf8_length(arr).to_numpy(zero_copy_only=False).astype(np.int64)
        out[f"{name}_words"] = pc.list_value_length(pc.utf8_split_whitespace(arr)).to_numpy(zero_copy_only=False).astype(np.int64)
        batches.extend(series.tolist())
    tokens = counter.count(batches)
    for k, name in enumerate(FIELDS):
        out[f"{name}_tokens"] = tokens[k * texts.n : (k + 1) * texts.n]
    frame = pd.DataFrame(out)
    frame = frame.join(conversation_lengths(texts, counter))
    for unit in ("chars", "words", "tokens"):
        single = sum(frame[f"{f}_{unit}"] for f in FIELDS)
        roles = sum(frame[f"{r}_{unit}"] for r in ROLES)
        frame[f"record_{unit}"] = np.where(frame["turns"] > 0, roles, single)
    return frame


def conversation_lengths(texts: Texts, counter: Counter) -> pd.DataFrame:
    """Turns and per-role lengths for multi-turn records (zeros for single-turn ones)."""
    n = texts.n
    cols = {"turns": np.zeros(n, dtype=np.int64)}
    for role in ROLES:
        for unit in ("chars", "words", "tokens"):
            cols[f"{role}_{unit}"] = np.zeros(n, dtype=np.int64)
    owners, roles, contents = [], [], []
    for i, raw in enumerate(texts.frame["messages"]):
        messages = loads(raw)
        if not messages:
            continue
        cols["turns"][i] = len(messages)
        for m in messages:
            owners.append(i)
            roles.append(m["role"] if m["role"] in ROLES else "other")
            contents.append(m.get("content") or "")
    tokens = counter.count(contents)
    for i, role, text, tok in zip(owners, roles, contents, tokens):
        cols[f"{role}_chars"][i] += len(text)
        cols[f"{role}_words"][i] += len(text.split())
        cols[f"{role}_tokens"][i] += tok
    return pd.DataFrame(cols)
