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
from curation.dedup.families import Families
from curation.dedup.neighbours import Pairs
from curation.errors import CurationError
from curation.records import loads


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


def last_rank(meta) -> float:
    """The rank of a conversation's last ranked message (OASST: 0 = the reply people preferred), inf when none is kept."""
    meta = loads(meta) if isinstance(meta, str) else meta
    ranks = [r for r in (meta or {}).get("ranks") or [] if isinstance(r, (int, float))] if isinstance(meta, dict) else []
    return float(ranks[-1]) if ranks else np.inf


def human_rank_key(frame: pd.DataFrame) -> np.ndarray:
    return np.array([last_rank(m) for m in frame["meta"]], dtype=np.float64) if "meta" in frame else np.full(len(frame), np.inf)


GROUPINGS: dict[str, Grouping] = names.registry(names.GROUPINGS, (
    Grouping("star", "greedy stars (the default): in the representative rule's order, each record not yet grouped takes every "
             "ungrouped record like it, so every member is like its representative itself; then a member like several "
             "representatives joins the one most of its own duplicates are with", ranked=True),
    Grouping("components", "connected components of the pairs above the threshold (A like B and B like C put A and C together, "
             "so unrelated records can chain into one group)", ranked=False),
))
RULES: dict[str, Rule] = names.registry(names.RULES, (
    Rule("quality", "the best quality score (from the signals), then first seen", quality_key, needs="quality"),
    Rule("human_rank", "the reply people ranked best where the format keeps a rank (OASST `rank`, 0 = best; records "
         "without one come after), then first seen", lambda frame: human_rank_key(frame)),
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

    Records with the same text move together, so every member is like the representative itself, not through a chain.
    The representatives are never like each other (a later one would have been taken), so groups cannot merge without
    breaking that; instead a member like several representatives moves to the one most of its own duplicates are with
    (`settle`), which keeps more duplicate pairs inside one group."""
    set_of, a, b, best = star_sets(near, hashes, rank)
    return settle(greedy_stars(a, b, best), a, b, best)[set_of]


def star_sets(near: Pairs, hashes: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(each row's set, the near pairs between two different sets, each set's best rank): rows with one text are one set."""
    _, set_of = np.unique(hashes, return_inverse=True)
    set_of = set_of.reshape(-1)
    best = np.full(int(set_of.max(initial=-1)) + 1, np.iinfo(np.int64).max)
    np.minimum.at(best, set_of, rank)
    a, b = set_of[near.i], set_of[near.j]
    apart = a != b
    return set_of, a[apart], b[apart], best


def greedy_stars(a: np.ndarray, b: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Each set's star before settling: in order of `best`, a set not yet taken takes every untaken set it is like.

    Issue 18: sets like no other (most of them at scale) are their own star without a turn of the loop, and the loop
    walks Python lists (a NumPy index per set cost ~5 us, ~5 s per million sets)."""
    m = len(best)
    owner = np.arange(m, dtype=np.int64)
    if not len(a):
        return owner
    x, y = both_ways(a, b, m)
    degree = np.bincount(x, minlength=m)
    linked = np.flatnonzero(degree)
    order = linked[np.argsort(best[linked], kind="stable")]
    # the sets each linked set is like, grouped by set (a CSR walked as lists)
    ends = np.cumsum(degree)
    starts = (ends - degree)[order].tolist()
    ends = ends[order].tolist()
    around = y[np.argsort(x, kind="stable")].tolist()
    taken = [-1] * m
    for s, lo, hi in zip(order.tolist(), starts, ends):
        if taken[s] >= 0:
            continue
        taken[s] = s
        for t in around[lo:hi]:
            if taken[t] < 0:
                taken[t] = s
    owner[linked] = np.asarray(taken, dtype=np.int64)[linked]
    return owner


SETTLE_PASSES = 5


def both_ways(a: np.ndarray, b: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pair of sets both ways, as int32 while the m sets allow (issue 18: at 1M records, 20M pairs both ways were
    two 320 MB arrays, and every array taken from them as big again)."""
    kind = np.int32 if m < 2**31 else np.int64
    x, y = np.empty(2 * len(a), kind), np.empty(2 * len(a), kind)
    x[: len(a)], x[len(a) :], y[: len(a)], y[len(a) :] = a, b, b, a
    return x, y


def settle(owner: np.ndarray, a: np.ndarray, b: np.ndarray, best: np.ndarray) -> np.ndarray:
    """Move members between stars to keep more duplicate pairs together, never breaking "like its representative".

    A member may join any representative it is like that the rule prefers to it (so that representative stays its
    group's first choice); it joins the one whose group holds most of its own duplicates (staying put on a tie). All
    members move at once, for a few passes, while the number of pairs inside groups grows."""
    together = int((owner[a] == owner[b]).sum())
    for moved in settle_moves(owner, a, b, best):
        now = int((moved[a] == moved[b]).sum())
        if now <= together:
            break
        owner, together = moved, now
    return owner


def settle_moves(owner: np.ndarray, a: np.ndarray, b: np.ndarray, best: np.ndarray):
    """The owners after each settling pass (up to SETTLE_PASSES), each pass made from the one before, whether or not it
    keeps more pairs together (`settle` decides which to keep). A pass moves a member within its own component only."""
    m = len(owner)
    x, y = both_ways(a, b, m)
    is_rep = owner == np.arange(m)
    movable = ~is_rep[x] & is_rep[y] & (best[y] < best[x])  # x may belong to y's group
    cx, cy = x[movable], y[movable]
    member = ~is_rep[x]
    mx, my = x[member], y[member]  # a member's duplicates, whose groups it counts
    del x, y, member, movable
    if not len(cx):
        return
    candidate = cx.astype(np.int64) * m + cy  # (member, group it may join), as one key
    for _ in range(SETTLE_PASSES):
        tally, counts = np.unique(mx.astype(np.int64) * m + owner[my], return_counts=True)  # (member, group) -> its duplicates there
        at = np.minimum(np.searchsorted(tally, candidate), len(tally) - 1)
        score = np.where(tally[at] == candidate, counts[at], 0) + 0.5 * (owner[cx] == cy)  # a tie keeps the member where it is
        order = np.lexsort((best[cy], -score, cx))
        first = order[np.r_[True, cx[order][1:] != cx[order][:-1]]]
        moved = owner.copy()
        moved[cx[first]] = cy[first]
        yield moved
        owner = moved


def pair_recall(labels: np.ndarray, near: Pairs) -> float:
    """Share of the pairs above the threshold whose two records are in one group (per-pair prediction: 1 by definition)."""
    if not len(near):
        return 1.0
    return round(float(((labels[near.i] == labels[near.j]) & (labels[near.i] > 0)).mean()), 4)


def group_labels(n: int, pairs: Pairs, hashes: np.ndarray, threshold: float, rank: np.ndarray | None = None) -> np.ndarray:
    """Group number (1 = largest) of each row, 0 for rows in no group.

    Without `rank`: connected components (chains join). With `rank` (each row's place in the representative
    rule's order): greedy stars, where every member is like its representative directly."""
    near = pairs.above(threshold)
    if rank is not None:
        return number_groups(star_components(n, near, hashes, rank))
    ei, ej = exact_edges(hashes)
    return number_groups(components(n, np.concatenate([ei, near.i]), np.concatenate([ej, near.j])))


# --- regrouping one component at a time (issue 18: a curator's keep at 1M records must not regroup every record) ---
@dataclass
class Regrouping:
    """A star grouping kept so that it can be redone only where decisions changed the representative order.

    A decision changes the rank of the records decided only, and stars form and settle inside a component of the
    graph of near pairs and shared texts; so only the components holding a record whose rank changed can change. One
    thing is global: `settle` keeps its passes while the pairs kept together grow over all components. So each set's
    owner after every pass is kept (`owners`), with each pass's gain over all components (`gains`) and each
    component's share of it (`component_gains`, where not zero): a local change that moves the number of passes kept
    takes every other component's owners at the new number of passes, still without grouping it again.
    """

    pair_i: np.ndarray  # the pairs at or above the threshold (rows, int32: ~130 MB for 16.6M pairs at 1M records),
    pair_j: np.ndarray  # ordered by component
    pair_start: np.ndarray  # component c's pairs are near[pair_start[c]:pair_start[c + 1]]
    rows: np.ndarray  # the rows ordered by component
    row_start: np.ndarray  # component c's rows are rows[row_start[c]:row_start[c + 1]]
    component: np.ndarray  # each row's component
    set_of: np.ndarray  # each row's set (the rows with one text)
    owners: np.ndarray | None  # (SETTLE_PASSES + 1, sets): each set's representative set after 0, 1, ... passes
    gains: np.ndarray  # pairs together gained by each settling pass, over all components
    component_gains: dict  # component -> its gain at each pass, for the components a pass changes
    passes: int  # the settling passes kept

    @property
    def raw(self) -> np.ndarray:
        """Each row's group before numbering (`number_groups`): its representative's set, or its component when the
        grouping is not ranked (the components are the groups)."""
        return self.component if self.owners is None else self.owners[self.passes][self.set_of]


def kept_passes(gains: np.ndarray) -> int:
    """How many settling passes `settle` keeps: those before the first that gains nothing."""
    stop = np.flatnonzero(np.asarray(gains) <= 0)
    return int(stop[0]) if len(stop) else len(gains)


def settled_trajectory(a: np.ndarray, b: np.ndarray, best: np.ndarray, pair_component: np.ndarray, components: int):
    """(each set's owner after 0, 1, ... SETTLE_PASSES settling passes, each component's gain at each pass
    (components x SETTLE_PASSES)) for the stars of these sets; every pass is made, whatever it gains."""
    owners = [greedy_stars(a, b, best)]
    owners += list(settle_moves(owners[0], a, b, best))
    owners += [owners[-1]] * (SETTLE_PASSES + 1 - len(owners))  # no member can move: nothing changes
    counts = np.stack([np.bincount(pair_component, weights=(o[a] == o[b]).astype(np.float64), minlength=components)
                       for o in owners], axis=1)
    return np.stack(owners), np.diff(counts, axis=1).astype(np.int64)


def regrouping(n: int, pairs: Pairs, hashes: np.ndarray, threshold: float, rank: np.ndarray | None) -> tuple[np.ndarray, Regrouping]:
    """`group_labels(n, pairs, hashes, threshold, rank)` and what `regroup_components` needs to redo part of it."""
    near = pairs.above(threshold)
    ei, ej = exact_edges(hashes)
    component = components(n, np.concatenate([ei, near.i]), np.concatenate([ej, near.j]))
    by_pair = np.argsort(component[near.i], kind="stable")
    pair_i, pair_j = near.i[by_pair].astype(np.int32), near.j[by_pair].astype(np.int32)
    del by_pair
    size = int(component.max(initial=-1)) + 1
    row_start = np.r_[0, np.cumsum(np.bincount(component, minlength=size))]
    pair_start = np.r_[0, np.cumsum(np.bincount(component[near.i], minlength=size))]
    rows = np.argsort(component, kind="stable")
    if rank is None:
        _, set_of = np.unique(hashes, return_inverse=True)
        state = Regrouping(pair_i, pair_j, pair_start, rows, row_start, component, set_of.reshape(-1), None,
                           np.zeros(SETTLE_PASSES, np.int64), {}, 0)
        return number_groups(component), state
    set_of, a, b, best = star_sets(near, hashes, rank)
    owners, gains = settled_trajectory(a, b, best, component[near.i][set_of[near.i] != set_of[near.j]], size)
    total = gains.sum(axis=0)
    changing = np.flatnonzero(gains.any(axis=1))
    state = Regrouping(pair_i, pair_j, pair_start, rows, row_start, component, set_of, owners, total,
                       dict(zip(changing.tolist(), gains[changing])), kept_passes(total))
    return number_groups(state.raw), state


def component_rows(state: Regrouping, rows: np.ndarray) -> np.ndarray:
    """Every row (ascending) of the components that hold these rows and at least one other row."""
    found = np.unique(state.component[rows])
    found = found[state.row_start[found + 1] - state.row_start[found] > 1]
    if not len(found):
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate([state.rows[state.row_start[c]:state.row_start[c + 1]] for c in found.tolist()]))


def regroup_components(state: Regrouping, rows: np.ndarray, hashes: np.ndarray,
                       rank_of: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray, Regrouping]:
    """The groups again after the rank of `rows` changed: (group number of every row, the rows whose group may have
    changed beyond its number, the new state), equal to `group_labels` with the new rank.

    Only the components holding a row of `rows` are grouped again; `rank_of(rows)` gives those rows' places in the new
    preference order (any numbers in that order: only their order counts). When their change moves the number of
    settling passes kept over all components (rare: a pass that gained little overall), the other components take
    their kept owners at the new number of passes, and their rows are among those returned."""
    from dataclasses import replace

    local = component_rows(state, np.asarray(rows, dtype=np.int64))
    if not len(local) or state.owners is None:  # the components' groups: the ranks choose their representatives only
        return number_groups(state.raw), local, state
    found = np.unique(state.component[local])
    picked = np.concatenate([np.arange(state.pair_start[c], state.pair_start[c + 1]) for c in found.tolist()])
    near = Pairs(np.searchsorted(local, state.pair_i[picked]), np.searchsorted(local, state.pair_j[picked]),
                 np.ones(len(picked), dtype=np.float32))
    set_of, a, b, best = star_sets(near, hashes[local], rank_of(local))
    pair_component = np.searchsorted(found, state.component[local][near.i][set_of[near.i] != set_of[near.j]])
    owners, gains = settled_trajectory(a, b, best, pair_component, len(found))
    before = [state.component_gains[c] for c in found.tolist() if c in state.component_gains]
    total = state.gains - sum(before, np.zeros(SETTLE_PASSES, np.int64)) + gains.sum(axis=0)
    global_set = np.empty(len(best), dtype=np.int64)
    global_set[set_of] = state.set_of[local]
    kept = state.owners.copy()
    kept[:, global_set] = global_set[owners]
    component_gains = dict(state.component_gains)
    for c, g in zip(found.tolist(), gains):
        component_gains.pop(c, None)
        if g.any():
            component_gains[c] = g
    new = replace(state, owners=kept, gains=total, component_gains=component_gains, passes=kept_passes(total))
    if new.passes != state.passes:  # every component settled a different number of passes: add the rows that moved
        moved = np.flatnonzero(kept[new.passes] != kept[state.passes])
        local = np.union1d(local, component_rows(state, np.flatnonzero(np.isin(state.set_of, moved))))
    return number_groups(new.raw), local, new
# --- end regrouping ---


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
    """0 for records a curator kept, 2 for those rejected for another reason, 1 otherwise: decisions come before the rule.
    -1 for a protected evaluation record (see `protected_first`)."""
    if "decision" not in frame:
        return protected_first(frame, np.ones(len(frame)))
    decision = frame["decision"].astype(str).to_numpy()
    reason = frame["reason"].fillna("").astype(str) if "reason" in frame else pd.Series([""] * len(frame))
    ours = reason.str.startswith(DUPLICATE_REASON).to_numpy()
    return protected_first(frame, np.where((decision == "keep") & ~ours, 0, np.where((decision == "reject") & ~ours, 2, 1)))


# --- decontamination (curation/decontaminate.py): a protected evaluation record is never a group's dropped member ---
def protected_first(frame: pd.DataFrame, rank: np.ndarray) -> np.ndarray:
    """-1 for the records of a protected evaluation set (the `protected` column, see `decontaminate.protected_column`):
    before any other, so a group keeps the evaluation copy and proposes the training copy; never proposed themselves."""
    if "protected" not in frame:
        return rank
    return np.where(frame["protected"].fillna(False).to_numpy(bool), -1, rank)
# --- end decontamination ---


def assign(frame: pd.DataFrame, labels: np.ndarray, hashes: np.ndarray, rule: str, families: Families | None = None) -> pd.DataFrame:
    """Per record: dup_group (None when in none), representative, the representative's id, group size, kind, cross_dataset,
    family (its template family's label, None when in none) and why (for a member: exact, same_values or near; see `why`)."""
    n = len(frame)
    ids = frame["record_id"].astype(str).to_numpy()
    out = pd.DataFrame({"record_id": ids, "dup_group": pd.array(np.where(labels > 0, labels, 0), dtype="Int64")})
    out.loc[labels == 0, "dup_group"] = pd.NA
    out["representative"] = pd.array([pd.NA] * n, dtype="boolean")
    out["representative_id"] = None
    out["group_size"] = 0
    out["group_kind"] = None
    out["cross_dataset"] = False
    out["family"] = families.label if families is not None else None
    out["why"] = None
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
    rep_row = dict(zip(g[is_rep].tolist(), rows[is_rep].tolist()))
    out.loc[member, "why"] = why(member, np.array([rep_row[x] for x in labels[member]]), hashes, families)
    return out


WHY = {"exact": "exact copies of their representative",
       "same_values": "the same variable parts as their representative, in one template or conversation family",
       "near": "near their representative (similarity at or above the threshold)"}


def why(rows: np.ndarray, reps: np.ndarray, hashes: np.ndarray, families: Families | None) -> np.ndarray:
    """Why each row would go with its representative: `exact` (same text), `same_values` (one family, the same variable
    parts), `near` (the similarity); `representative` for the representatives themselves."""
    out = np.full(len(rows), "near", dtype=object)
    if families is not None:
        same = ((families.code[rows] >= 0) & (families.code[rows] == families.code[reps])
                & (families.variable[rows] == families.variable[reps]))
        out[same] = "same_values"
    out[hashes[rows] == hashes[reps]] = "exact"
    out[rows == reps] = "representative"
    return out


def first_of_group(labels: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Each grouped row's representative row: the row of its group first in `order` (rank: lower first)."""
    member = np.flatnonzero(labels > 0)
    best = np.full(int(labels.max(initial=0)) + 1, np.iinfo(np.int64).max)
    np.minimum.at(best, labels[member], order[member])
    row_of = np.empty(len(order), dtype=np.int64)
    row_of[order] = np.arange(len(order))
    return row_of[best[labels[member]]]


LARGE_GROUP = 50


def largest_near_group(table: pd.DataFrame) -> tuple[int | None, int]:
    """(number, size) of the largest group that is not all exact copies ((None, 0) when there is none)."""
    near = table[table["group_kind"] == "near"]
    if near.empty:
        return None, 0
    sizes = near.groupby("dup_group")["record_id"].size()
    return int(sizes.idxmax()), int(sizes.max())


def check_bulk(table: pd.DataFrame, confirm_large: bool, limit: int = LARGE_GROUP) -> None:
    """Refuse to reject every group's duplicates at once while one group of near copies holds more than `limit` records.

    Exact-copy groups of any size are safe to collapse. A near group that large has usually formed around a template or
    a topic rather than one text: a curator should open it first, then confirm."""
    group, size = largest_near_group(table)
    if size > limit and not confirm_large:
        raise CurationError(f"group {group} holds {size:,} records that are not all copies (more than {limit}): open it and check "
                            "that its members are really like its representative, then confirm (--confirm-large on the command "
                            "line, the confirmation box on the Duplicates page), or reject groups one by one",
                            dashboard=f"group {group} holds {size:,} records that are not all copies (more than {limit}): open "
                                      "it and check that its members are really like its representative, then tick the "
                                      "confirmation box, or reject groups one by one")


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


def sweep(n: int, pairs: Pairs, hashes: np.ndarray, thresholds, rank: np.ndarray | None = None,
          families: Families | None = None) -> pd.DataFrame:
    """For each threshold: groups, records in groups, how many would be rejected (split by why: exact copies, one family's
    same variable parts, near) and kept (and kept without chaining), the largest group and the grouping's pair recall."""
    rows = []
    order = rank if rank is not None else np.arange(n)
    for t in thresholds:
        labels = group_labels(n, pairs, hashes, float(t), rank)
        in_groups = int((labels > 0).sum())
        groups = int(labels.max(initial=0))
        member = np.flatnonzero(labels > 0)
        reasons = pd.Series(why(member, first_of_group(labels, order), hashes, families)).value_counts()
        rows.append({"threshold": round(float(t), 4), "groups": groups, "records_in_groups": in_groups,
                     "would_reject": in_groups - groups, "exact": int(reasons.get("exact", 0)),
                     "same_values": int(reasons.get("same_values", 0)), "near": int(reasons.get("near", 0)),
                     "kept": n - (in_groups - groups), "kept_greedy": greedy_kept(n, pairs, hashes, float(t)),
                     "largest_group": int(np.bincount(labels)[1:].max(initial=0)),
                     "pair_recall": pair_recall(labels, pairs.above(float(t)))})
    return pd.DataFrame(rows)


def edge_pairs(pairs: Pairs, threshold: float, width: float = 0.02, n: int = 4, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Example pairs just above the threshold (joined) and just below it (not joined), to judge the threshold by; each
    band's pairs closest to the threshold first."""
    out = {}
    for name, lo, hi in (("just above", threshold, threshold + width), ("just below", threshold - width, threshold)):
        pick = np.flatnonzero((pairs.sim >= lo - 1e-6) & (pairs.sim < hi - 1e-6))
        if len(pick) > n:
            pick = np.sort(np.random.default_rng(seed).choice(pick, n, replace=False))
        pick = pick[np.argsort(np.abs(pairs.sim[pick] - threshold), kind="stable")]
        out[name] = pd.DataFrame({"i": pairs.i[pick], "j": pairs.j[pick], "similarity": pairs.sim[pick]})
    return out
