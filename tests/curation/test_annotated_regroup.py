"""Issue 18: after a curator's keep or reject, the duplicate groups are made again only in the components (of the near
pairs and shared texts) that hold a record whose place in the representative order changed, and the result equals
regrouping every record: the same group numbers, representatives, table and rank."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curation import dedup
from curation.annotated import annotate, find_duplicates, prepare_regroup, regroup_duplicates, regroup_everything
from curation.dedup import groups
from curation.dedup.groups import SETTLE_PASSES, group_labels, regroup_components, regrouping
from curation.dedup.neighbours import Pairs
from curation.ingest import ingest
from curation.workspace import Workspace

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
T0 = DATA / "t0" / "t0_train_55k.jsonl"
ALPACA = DATA / "alpaca"


def random_graph(rng, n: int) -> tuple[Pairs, np.ndarray]:
    """Random near pairs (similarities around a threshold of 0.8) and texts, some shared."""
    e = int(rng.integers(0, 2 * n))
    i, j = rng.integers(0, n, e), rng.integers(0, n, e)
    keep = i != j
    i, j = np.minimum(i, j)[keep], np.maximum(i, j)[keep]
    hashes = rng.integers(0, max(1, n - int(rng.integers(0, n // 3 + 1))), n).astype(str)
    return Pairs(i.astype(np.int64), j.astype(np.int64), rng.uniform(0.7, 1.0, len(i)).astype(np.float32)), hashes


def test_regrouping_some_components_equals_grouping_every_record():
    rng = np.random.default_rng(7)
    checked = passes_moved = 0
    for _ in range(150):
        n = int(rng.integers(2, 250))
        pairs, hashes = random_graph(rng, n)
        for ranked in (True, False):
            rank = rng.permutation(n)
            labels, state = regrouping(n, pairs, hashes, 0.8, rank if ranked else None)
            assert (labels == group_labels(n, pairs, hashes, 0.8, rank if ranked else None)).all()
            for _ in range(4):
                changed = rng.choice(n, min(n, int(rng.integers(1, 4))), replace=False)
                key = rank.astype(float)
                key[changed] = rng.uniform(-1, n, len(changed))
                rank = np.argsort(np.argsort(key, kind="stable"), kind="stable")
                before = state
                labels, rows, state = regroup_components(state, changed, hashes, lambda rows, rank=rank: rank[rows])
                assert (labels == group_labels(n, pairs, hashes, 0.8, rank if ranked else None)).all()
                passes_moved += state.passes != before.passes  # settle kept another number of passes over all
                checked += 1
    assert checked == 1200 and passes_moved > 10


def test_only_the_components_of_the_changed_records_are_grouped_again(monkeypatch):
    # two components: 0-1-2 (a chain) and 3-4; 5 alone. Changing 4's rank groups 3 and 4 only.
    pairs = Pairs(np.array([0, 1, 3]), np.array([1, 2, 4]), np.full(3, 0.9, dtype=np.float32))
    hashes = np.array(list("abcdef"))
    _, state = regrouping(6, pairs, hashes, 0.8, np.arange(6))
    seen = []
    real = groups.star_sets
    monkeypatch.setattr(groups, "star_sets", lambda near, h, r: seen.append(len(h)) or real(near, h, r))
    rank = np.array([0, 1, 2, 5, 3, 4])  # 4 now before 3: it represents their group
    labels, rows, _ = regroup_components(state, np.array([4]), hashes, lambda rows: rank[rows])
    assert seen == [2] and rows.tolist() == [3, 4]
    assert (labels == group_labels(6, pairs, hashes, 0.8, rank)).all()
    assert regroup_components(state, np.array([5]), hashes, lambda rows: rank[rows])[1].tolist() == []  # alone


def test_a_local_change_can_move_the_passes_kept_over_all_components():
    # Settling keeps a pass only while pairs together grow over ALL components. Component A (rows 0-6): 2 is like
    # representatives 0 and 4 and settles with 4 (more of its pairs there): one pass gains. Component B (rows 7-8) makes
    # no pass gain. Ranking 2 first in A leaves nothing to settle there: no pass is kept any more. (The random graphs
    # above check that other components then take their owners at the new number of passes.)
    pairs = Pairs(np.array([0, 0, 2, 4, 4, 2, 2, 7]), np.array([1, 2, 4, 5, 6, 5, 6, 8]), np.full(8, 0.9, dtype=np.float32))
    hashes = np.array(list("abcdefghi"))
    rank = np.array([0, 1, 3, 4, 2, 5, 6, 7, 8])
    _, state = regrouping(9, pairs, hashes, 0.8, rank)
    assert state.passes == 1
    new = np.array([3, 1, 0, 4, 2, 5, 6, 7, 8])
    labels, rows, after = regroup_components(state, np.array([0, 2]), hashes, lambda rows: new[rows])
    assert after.passes == 0 and (labels == group_labels(9, pairs, hashes, 0.8, new)).all()
    assert len(after.gains) == SETTLE_PASSES and rows.tolist() == [0, 1, 2, 4, 5, 6]  # 3 is alone


def clustered_graph(rng, k: int, lo: int, hi: int) -> tuple[int, Pairs, np.ndarray]:
    """k dense random components of lo..hi records each (all texts distinct)."""
    i_all, j_all, n = [], [], 0
    for _ in range(k):
        size = int(rng.integers(lo, hi))
        e = int(rng.integers(size, 4 * size))
        i_all.append(rng.integers(0, size, e) + n)
        j_all.append(rng.integers(0, size, e) + n)
        n += size
    i, j = np.concatenate(i_all), np.concatenate(j_all)
    keep = i != j
    i, j = np.minimum(i, j)[keep], np.maximum(i, j)[keep]
    return n, Pairs(i.astype(np.int64), j.astype(np.int64), np.full(len(i), 0.9, np.float32)), np.arange(n).astype(str)


def test_when_the_passes_kept_move_the_untouched_components_take_their_owners_at_the_new_number():
    # Found by search (seed 327, third change): two changed records move the passes kept over all components from 2
    # to 5, and components nobody decided in settle on: their rows come back too, equal to grouping every record.
    rng = np.random.default_rng(327)
    n, pairs, hashes = clustered_graph(rng, int(rng.integers(2, 8)), 10, 60)
    rank = rng.permutation(n)
    _, state = regrouping(n, pairs, hashes, 0.8, rank)
    moved_elsewhere = 0
    for _ in range(8):
        changed = rng.choice(n, 2, replace=False)
        key = rank.astype(float)
        key[changed] = rng.uniform(-1, n, len(changed))
        rank = np.argsort(np.argsort(key, kind="stable"), kind="stable")
        before = state
        labels, rows, state = regroup_components(state, changed, hashes, lambda rows, rank=rank: rank[rows])
        assert (labels == group_labels(n, pairs, hashes, 0.8, rank)).all()
        touched = groups.component_rows(before, changed)
        moved_elsewhere += state.passes != before.passes and len(rows) > len(touched)
    assert moved_elsewhere >= 1


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def random_decisions(rng, frame: pd.DataFrame, table: pd.DataFrame, count: int) -> pd.DataFrame:
    """The frame with `count` records' decisions changed: mostly records in groups (members and representatives),
    some alone; keeps, rejects, rejections as duplicates (which do not rank) and undos."""
    out = frame.copy()
    grouped = np.flatnonzero(table["dup_group"].notna().to_numpy())
    pool = grouped if len(grouped) else np.arange(len(frame))
    rows = np.r_[rng.choice(pool, size=min(count, len(pool)), replace=False), rng.integers(0, len(frame), 2)]
    choices = [("keep", "manual"), ("reject", "off_topic"), ("reject", f"{groups.DUPLICATE_REASON}x"), ("undecided", None)]
    decision = out["decision"].to_numpy(object, copy=True)
    reason = out["reason"].to_numpy(object, copy=True)
    for r in rows.tolist():
        decision[r], reason[r] = choices[int(rng.integers(0, len(choices)))]
    return out.assign(decision=pd.array(decision, dtype=frame["decision"].dtype), reason=pd.array(reason, dtype=frame["reason"].dtype))


def assert_same(local, full) -> None:
    pd.testing.assert_frame_equal(local.table, full.table)
    assert (local.rank is None and full.rank is None) or (local.rank == full.rank).all()


def regrouped_many_times(found, seed: int, steps: int = 25) -> None:
    """Random decision changes, each regrouped locally from the groups found (as the dashboard does) and from the last
    regroup (chained), both compared with regrouping every record."""
    rng = np.random.default_rng(seed)
    frame, last = found.frame, found
    for _ in range(steps):
        frame = random_decisions(rng, frame, found.table, int(rng.integers(1, 4)))
        full = regroup_everything(found, frame)
        assert_same(regroup_duplicates(found, frame), full)
        last = regroup_duplicates(last, frame)
        assert_same(last, full)


@pytest.mark.skipif(not T0.exists(), reason="the shared t0 data is not here")
def test_local_regroups_equal_full_regroups_on_real_t0_minhash_groups(tmp_path):
    lines = list(itertools.islice(T0.open(), 3000))
    ws = Workspace(tmp_path / "ws")
    ingest(ws, write_jsonl(tmp_path / "t0.jsonl", [json.loads(x) for x in lines]), name="t0", fmt="prompt-completion")
    dedup.save_settings(ws, method="minhash", rule="quality")
    found = find_duplicates(ws, annotate(ws, stages=("decisions",)), compute=True)
    assert found.table["dup_group"].notna().sum() > 100  # t0's templated prompts: many real near and exact groups
    regrouped_many_times(found, seed=1)
    dedup.save_settings(ws, grouping="components")
    found = find_duplicates(ws, annotate(ws, stages=("decisions",)), compute=True)
    regrouped_many_times(found, seed=2, steps=10)


@pytest.mark.skipif(not ALPACA.exists(), reason="the shared alpaca data is not here")
def test_local_regroups_equal_full_regroups_on_real_alpaca_minhash_groups(tmp_path):
    ws = Workspace(tmp_path / "ws")
    for name in ("alpaca_en_demo.json", "alpaca_data_cleaned_1000.json"):
        ingest(ws, ALPACA / name, name=name.split(".")[0], fmt="alpaca")
    dedup.save_settings(ws, method="minhash", rule="longest_output", threshold=0.5)
    found = find_duplicates(ws, annotate(ws, stages=("decisions",)), compute=True)
    assert found.table["dup_group"].notna().sum() > 20
    regrouped_many_times(found, seed=3)


@pytest.mark.skipif(not T0.exists(), reason="the shared t0 data is not here")
def test_a_keep_ranks_and_groups_only_its_component(tmp_path, monkeypatch):
    """The spy: after the first regroup has prepared the state, a keep hands `preference_rank` and the stars only the
    records of the decided record's component, not every record (what made a keep cost ~20 s at 1M)."""
    lines = list(itertools.islice(T0.open(), 2000))
    ws = Workspace(tmp_path / "ws")
    ingest(ws, write_jsonl(tmp_path / "t0.jsonl", [json.loads(x) for x in lines]), name="t0", fmt="prompt-completion")
    dedup.save_settings(ws, method="minhash")
    found = find_duplicates(ws, annotate(ws, stages=("decisions",)), compute=True)
    prepare_regroup(found)
    ranked, starred, everything = [], [], []
    real_rank, real_sets, real_all = groups.preference_rank, groups.star_sets, groups.regrouping
    monkeypatch.setattr(groups, "preference_rank", lambda frame, rule: ranked.append(len(frame)) or real_rank(frame, rule))
    monkeypatch.setattr(groups, "star_sets", lambda near, h, r: starred.append(len(h)) or real_sets(near, h, r))
    monkeypatch.setattr(groups, "regrouping", lambda *a: everything.append(1) or real_all(*a))
    table = found.table
    member = np.flatnonzero((table["representative"] == False).fillna(False).to_numpy())[0]  # noqa: E712
    frame = found.frame.copy()
    frame.loc[member, "decision"], frame.loc[member, "reason"] = "keep", "manual"
    local = regroup_duplicates(found, frame)
    component = np.flatnonzero(prepare_regroup(found).state.component == prepare_regroup(found).state.component[member])
    assert ranked == [len(component)] and starred == [len(component)] and everything == []
    assert len(component) < len(frame) / 10
    monkeypatch.undo()
    assert_same(local, regroup_everything(found, frame))
    assert local.table.loc[member, "representative"]  # the kept member represents its group now
