"""Duplicate groups: connected components of the pairs above a threshold, one representative each.

Exact copies (the same normalised text) are always joined; near pairs join
records whose similarity reaches the threshold. A group is `exact` when all its
members have the same text, `near` otherwise, and `cross_dataset` when its
members come from more than one dataset. Group numbers follow size (largest
first), then load order, so they are stable for the same data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from curation import names
from curation.dedup.neighbours import Pairs
from curation.errors import CurationError


@dataclass(frozen=True)
class Grouping:
    """How pairs above the threshold make groups; `ranked`: it needs the representative rule's order (see `group_labels`)."""

    name: str
    description: str
    ranked: bool


@dataclass(frozen=True)
class Rule:
    """Which record of a group is its representative: `key(frame)` is a sort key per record, lower = preferred.

    `needs`: a signal column the key reads (computed first when the records lack it)."""

    name: str
    description: str
    key: Callable[[pd.DataFrame], np.ndarray]
    needs: str | None = None


def quality_key(frame: pd.DataFrame) -> np.ndarray:
    if "quality" not in frame:
        raise CurationError("the quality rule needs the quality signals: compute them first (python -m curation signals)")
    return -frame["quality"].fillna(-np.inf).to_numpy(np.float64)


GROUPINGS: dict[str, Grouping] = names.registry(names.GROUPINGS, (
    Grouping("components", "connected components of the pairs above the threshold (A like B and B like C put A and C together)",
             ranked=False),
    Grouping("star", "greedy stars: in the representative rule's order, each record not yet grouped takes every ungrouped record "
             "like it, so every member is like its representative itself", ranked=True),
))
RULES: dict[str, Rule] = names.registry(names.RULES, (
    Rule("quality", "the best quality score (from the signals), then first seen", quality_key, needs="quality"),
    Rule("longest_output", "the longest output, then first seen",
         lambda frame: -frame["output"].fillna("").astype(str).str.len().to_numpy(np.float64)),
    Rule("human_first", "a human-written record before synthetic or unknown ones, then first seen",
         lambda frame: (frame["source"].astype(str) != "human").to_numpy(np.float64)),
    Rule("first_seen", "the first record loaded", lambda frame: np.zeros(len(frame))),
))
DUPLICATE_REASON = "near_duplicate_of:"


def exact_edges(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges that chain the records sharing a hash (enough to make each set one component)."""
    order = np.argsort(hashes, kind="stable")
    same = hashes[order][1:] == hashes[order][:-1]
    return order[:-1][same], order[1:][same]


def components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Component label of each of n nodes."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def number_groups(labels: np.ndarray) -> np.ndarray:
    """Renumber: 1 = the largest group (then the earliest), ..., 0 for records alone."""
    n = len(labels)
    sizes = np.bincount(labels)
    first = np.full(len(sizes), n)
    np.minimum.at(first, labels, np.arange(n))
    grouped = np.flatnonzero(sizes > 1)
    ranked = grouped[np.lexsort((first[grouped], -sizes[grouped]))]
    number = np.zeros(len(sizes), dtype=np.int64)
    number[ranked] = np.arange(1, len(ranked) + 1)
    return number[labels]


def star_components(n: int, near: Pairs, hashes: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Greedy stars: in preference order, a record not yet grouped takes every ungrouped record like it into its group.

    Records with the same text move together, so every member is like the representative itself, not through a chain."""
    from scipy.sparse import coo_matrix

    _, set_of = np.unique(hashes, return_inverse=True)
    m = int(set_of.max()) + 1
    best = np.full(m, np.iinfo(np.int64).max)
    np.minimum.at(best, set_of, rank)
    a, b = set_of[near.i], set_of[near.j]
    adjacency = coo_matrix((np.ones(2 * len(a), dtype=np.int8), (np.r_[a, b], np.r_[b, a])), shape=(m, m)).tocsr()
    owner = np.full(m, -1, dtype=np.int64)
    for s in np.argsort(best, kind="stable"):
        if owner[s] >= 0:
            continue
        owner[s] = s
        around = adjacency.indices[adjacency.indptr[s] : adjacency.indptr[s + 1]]
        free = around[owner[around] < 0]
        owner[free] = s
    return owner[set_of]


def group_labels(n: int, pairs: Pairs, hashes: np.ndarray, threshold: float, rank: np.ndarray | None = None) -> np.ndarray:
    """Group number (1 = largest) of each row, 0 for rows in no group.

    Without `rank`: connected components (chains join). With `rank` (each row's place in the representative
    rule's order): greedy stars, where every member is like its representative directly."""
    near = pairs.above(threshold)
    if rank is not None:
        return number_groups(star_components(n, near, hashes, rank))
    ei, ej = exact_edges(hashes)
    return number_groups(components(n, np.concatenate([ei, near.i]), np.concatenate([ej, near.j])))


def preference_rank(frame: pd.DataFrame, rule: str) -> np.ndarray:
    """Each record's place in the order representatives are chosen: curator decisions, then the rule, then load order."""
    order = np.lexsort((np.arange(len(frame)), preference(frame, rule), curator_rank(frame)))
    rank = np.empty(len(frame), dtype=np.int64)
    rank[order] = np.arange(len(frame))
    return rank


def preference(frame: pd.DataFrame, rule: str) -> np.ndarray:
    """A sort key per record, lower = preferred, for a representative rule."""
    return names.lookup(RULES, rule, "representative rule").key(frame)


def curator_rank(frame: pd.DataFrame) -> np.ndarray:
    """0 for records a curator kept, 2 for those rejected for another reason, 1 otherwise: decisions come before the rule."""
    if "decision" not in frame:
        return np.ones(len(frame))
    decision = frame["decision"].astype(str).to_numpy()
    reason = frame["reason"].fillna("").astype(str) if "reason" in frame else pd.Series([""] * len(frame))
    ours = reason.str.startswith(DUPLICATE_REASON).to_numpy()
    return np.where((decision == "keep") & ~ours, 0, np.where((decision == "reject") & ~ours, 2, 1))


def assign(frame: pd.DataFrame, labels: np.ndarray, hashes: np.ndarray, rule: str) -> pd.DataFrame:
    """Per record: dup_group (None when in none), representative, the representative's id, group size, kind, cross_dataset."""
    n = len(frame)
    ids = frame["record_id"].astype(str).to_numpy()
    out = pd.DataFrame({"record_id": ids, "dup_group": pd.array(np.where(labels > 0, labels, 0), dtype="Int64")})
    out.loc[labels == 0, "dup_group"] = pd.NA
    out["representative"] = pd.array([pd.NA] * n, dtype="boolean")
    out["representative_id"] = None
    out["group_size"] = 0
    out["group_kind"] = None
    out["cross_dataset"] = False
    member = np.flatnonzero(labels > 0)
    if not len(member):
        return out
    rows = member[np.lexsort((member, preference(frame, rule)[member], curator_rank(frame)[member], labels[member]))]
    g = labels[rows]
    is_rep = np.r_[True, g[1:] != g[:-1]]
    rep_of_group = dict(zip(g[is_rep].tolist(), ids[rows[is_rep]].tolist()))
    sizes = np.bincount(labels)
    datasets = pd.Series(frame["dataset"].astype(str).to_numpy()[member]).groupby(labels[member]).nunique()
    kinds = pd.Series(hashes[member]).groupby(labels[member]).nunique()
    out.loc[rows, "representative"] = is_rep
    out.loc[member, "representative_id"] = [rep_of_group[x] for x in labels[member]]
    out.loc[member, "group_size"] = sizes[labels[member]]
    out.loc[member, "group_kind"] = np.where(kinds.reindex(labels[member]).to_numpy() == 1, "exact", "near")
    out.loc[member, "cross_dataset"] = datasets.reindex(labels[member]).to_numpy() > 1
    return out


def greedy_kept(n: int, pairs: Pairs, hashes: np.ndarray, threshold: float) -> int:
    """Records a self-instruct style filter keeps: in load order, each record unless it duplicates one already kept.

    Groups chain (A~B and B~C join A and C even when A and C differ), so one
    group can span records that are not alike; this count does not chain."""
    near = pairs.above(threshold)
    ei, ej = exact_edges(hashes)
    a, b = np.concatenate([near.i, ei]), np.concatenate([near.j, ej])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.argsort(hi, kind="stable")
    lo, hi = lo[order].tolist(), hi[order].tolist()
    dropped = bytearray(n)
    k = 0
    for later in range(n):
        while k < len(hi) and hi[k] == later:
            if not dropped[lo[k]]:
                dropped[later] = 1
            k += 1
    return n - sum(dropped)


def sweep(n: int, pairs: Pairs, hashes: np.ndarray, thresholds, rank: np.ndarray | None = None) -> pd.DataFrame:
    """For each threshold: groups, records in groups, how many would be rejected and kept (and kept without chaining)."""
    rows = []
    for t in thresholds:
        labels = group_labels(n, pairs, hashes, float(t), rank)
        in_groups = int((labels > 0).sum())
        groups = int(labels.max(initial=0))
        rows.append({"threshold": round(float(t), 4), "groups": groups, "records_in_groups": in_groups,
                     "would_reject": in_groups - groups, "kept": n - (in_groups - groups),
                     "kept_greedy": greedy_kept(n, pairs, hashes, float(t)), "largest_group": int(np.bincount(labels)[1:].max(initial=0))})
    return pd.DataFrame(rows)


def edge_pairs(pairs: Pairs, threshold: float, width: float = 0.02, n: int = 4, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Example pairs just above the threshold (joined) and just below it (not joined), to judge the threshold by."""
    out = {}
    for name, lo, hi in (("just above", threshold, threshold + width), ("just below", threshold - width, threshold)):
        pick = np.flatnonzero((pairs.sim >= lo - 1e-6) & (pairs.sim < hi - 1e-6))
        if len(pick) > n:
            pick = np.sort(np.random.default_rng(seed).choice(pick, n, replace=False))
        out[name] = pd.DataFrame({"i": pairs.i[pick], "j": pairs.j[pick], "similarity": pairs.sim[pick]})
    return out
