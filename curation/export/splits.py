"""Leakage-free, deterministic splits.

Records are split in units: a duplicate group (exact or near) is one unit, so it
lands whole in one split; any other record is a unit of its own. Within each
stratum (none, or one per cluster, source or dataset; a group counts in the
stratum of its smallest record id) units are put in a
seeded order (a hash of the seed and the unit's first record id, so the order
of one record does not depend on the others), then each unit goes to the split
furthest below its share. Every split then stays within one unit of its ratio
in each stratum.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from curation import names
from curation.errors import CurationError
from curation.names import lookup


@dataclass(frozen=True)
class Stratification:
    """What splits are balanced within: one stratum per value of the records' `column` (None: one stratum in all)."""

    name: str
    description: str
    column: str | None


STRATIFY: dict[str, Stratification] = names.registry(names.STRATIFY, (
    Stratification("none", "one stratum: every split holds its share of all records", None),
    Stratification("cluster", "each cluster of the map holds its share in every split (needs the map)", "cluster"),
    Stratification("source", "each source (human, synthetic, ...) holds its share in every split", "source"),
    Stratification("dataset", "each dataset holds its share in every split", "dataset"),
))


def parse_splits(text: str) -> dict[str, float]:
    """`train=0.9,validation=0.05,test=0.05` -> ratios that sum to 1 (given weights are normalised)."""
    out: dict[str, float] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            ratio = float(value)
        except ValueError:
            ratio = None
        if not sep or not name or ratio is None:
            raise CurationError(f"bad split {part.strip()!r}: write NAME=RATIO, e.g. train=0.9,test=0.1")
        if not (math.isfinite(ratio) and ratio > 0):
            raise CurationError(f"bad split {part.strip()!r}: a ratio is a finite number above 0, e.g. train=0.9,test=0.1")
        if name in out:
            raise CurationError(f"split {name!r} is named twice")
        out[name] = ratio
    total = sum(out.values())
    if not out or total <= 0:
        raise CurationError("give at least one split with a positive ratio, e.g. train=0.9,test=0.1")
    if not math.isfinite(total):
        raise CurationError(f"the split ratios {text!r} are too large to add up: write them as fractions, e.g. train=0.9,test=0.1")
    return {k: v / total for k, v in out.items()}


def order_key(seed: int, key: str) -> str:
    return hashlib.blake2b(f"{seed}\x1f{key}".encode(), digest_size=8).hexdigest()


def assign_splits(frame: pd.DataFrame, ratios: dict[str, float], seed: int = 0, stratify: str = "none",
                  groups: pd.Series | None = None, prompts: list[str] | None = None) -> pd.Series:
    """The split name of each record (index aligned with `frame`). `groups`: duplicate group per record (NA for none);
    `prompts`: each record's prompt: records asking the very same thing (OASST sibling replies, one question answered
    twice) stay in one split as a duplicate group does, or a test prompt would be a train prompt."""
    column = lookup(STRATIFY, stratify, "stratification").column
    if column and column not in frame:
        raise CurationError(f"cannot stratify by {stratify}: the records have no {column} (build the map first for clusters)")
    ids = frame["record_id"].astype(str)
    unit = ids.copy()
    if groups is not None:
        grouped = groups.notna().to_numpy()
        unit[grouped] = "group:" + groups[grouped].astype("int64").astype(str)
    if prompts is not None:
        unit = pd.Series(joined(list(unit), prompts), index=ids.index)
    table = pd.DataFrame({"unit": unit.to_numpy(), "record_id": ids.to_numpy()}, index=frame.index)
    table["stratum"] = frame[column].astype(str).to_numpy() if column else ""
    # A unit's key and stratum are those of its smallest record id: independent of the order records come in.
    units = table.sort_values("record_id").groupby("unit", sort=False).agg(first=("record_id", "first"), size=("record_id", "size"),
                                                                          stratum=("stratum", "first"))
    units["order"] = [order_key(seed, f) for f in units["first"]]
    names = list(ratios)
    shares = np.array([ratios[n] for n in names])
    chosen: dict[str, str] = {}
    for _, part in units.sort_values(["stratum", "order"]).groupby("stratum", sort=True):
        total = int(part["size"].sum())
        filled = np.zeros(len(names))
        for name, size in zip(part.index, part["size"]):
            k = int(np.argmax(shares * total - filled))  # the split furthest below its share (first on ties)
            chosen[name] = names[k]
            filled[k] += size
    return table["unit"].map(chosen)


def joined(units: list[str], prompts: list[str]) -> list[str]:
    """Units merged wherever two records share a prompt (union-find; a merged unit is named by its smallest unit)."""
    parent: dict[str, str] = {u: u for u in units}

    def root(u: str) -> str:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    first: dict[str, str] = {}
    for u, prompt in zip(units, prompts):
        key = " ".join(prompt.split()).lower()
        if not key:
            continue
        other = first.setdefault(key, u)
        a, b = root(u), root(other)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [root(u) for u in units]


def preview_sample(indices: list[int], n: int = 3, seed: int = 0) -> list[int]:
    """`n` of a split's row indices drawn at random, the same for the same seed (a preview that is not always the first
    rows of the split; a new seed draws another)."""
    if len(indices) <= n:
        return list(indices)
    rng = np.random.default_rng([int(seed), len(indices)])
    return [indices[i] for i in sorted(rng.choice(len(indices), size=n, replace=False))]
