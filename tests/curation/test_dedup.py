"""Duplicate detection: neighbour search, MinHash, boilerplate, groups, representatives, apply/undo, the real model."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curation import dedup, embed
from curation.cli import main as cli
from curation.decisions import decide
from curation.dedup.groups import assign, group_labels, preference, preference_rank, sweep
from curation.dedup.minhash import jaccard, minhash_pairs
from curation.dedup.neighbours import Pairs, exact_neighbours, measured_recall, neighbour_pairs
from curation.dedup.texts import boilerplate_lines, comparable_texts
from curation.demo import load_demo, planted
from curation.embed import Embedder
from curation.errors import CurationError
from curation.ingest import ingest
from curation.store import load_records
from tests.conftest import write_jsonl


def bag_of_words(ws, name="minilm") -> Embedder:
    """A deterministic fake embedder: hashed word counts, so texts sharing most words are close."""

    def encode(texts):
        out = np.zeros((len(texts), 128), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 128] += 1
        return out + 1e-3

    return Embedder(name, encode, 128)


@pytest.fixture
def words(monkeypatch):
    monkeypatch.setattr(embed, "get_embedder", bag_of_words)


def unit(n, d=32, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def with_copies(n=400, copies=60, seed=0, noise=0.05):
    """Random unit vectors plus noisy copies of the first `copies` of them."""
    rng = np.random.default_rng(seed)
    base = unit(n, 48, seed)
    near = base[:copies] + noise * rng.standard_normal((copies, 48)).astype(np.float32)
    x = np.vstack([base, near / np.linalg.norm(near, axis=1, keepdims=True)])
    return x


# neighbour search

def test_exact_neighbours_match_brute_force_and_exclude_self():
    x = with_copies()
    pairs = neighbour_pairs(x, 0.8, "exact")
    sims = x @ x.T
    i, j = np.nonzero(np.triu(sims >= 0.8, k=1))
    assert set(zip(pairs.i.tolist(), pairs.j.tolist())) == set(zip(i.tolist(), j.tolist()))
    assert (pairs.i < pairs.j).all() and len(pairs) >= 60
    assert np.allclose(pairs.sim, sims[pairs.i, pairs.j], atol=1e-5)


def test_neighbours_are_capped_per_record_but_groups_stay_whole():
    x = np.repeat(unit(1, 16), 100, axis=0)  # one clique of 100 identical vectors
    pairs = neighbour_pairs(x, 0.9, "exact", k=5)
    assert len(pairs) <= 100 * 5
    labels = group_labels(100, pairs, np.arange(100).astype(str), 0.9)
    assert set(labels) == {1}


def test_blocks_give_the_same_pairs_as_one_pass(monkeypatch):
    from curation.dedup import neighbours

    x = with_copies()
    whole = neighbour_pairs(x, 0.8, "exact")
    monkeypatch.setattr(neighbours, "BLOCK_CELLS", 460 * 7)  # seven rows at a time
    blocked = neighbour_pairs(x, 0.8, "exact")
    assert (blocked.i.tolist(), blocked.j.tolist()) == (whole.i.tolist(), whole.j.tolist())


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_indexes_find_the_copies_and_report_recall(kind):
    x = with_copies(n=3000, copies=200)
    pairs = neighbour_pairs(x, 0.8, kind)
    assert pairs.info["index"] == kind
    recall = measured_recall(x, pairs, 0.8, sample=3260)
    assert recall >= 0.9
    truth = neighbour_pairs(x, 0.8, "exact")
    assert len(pairs) <= len(truth) and {(i, i + 3000) for i in range(200)} & set(zip(pairs.i.tolist(), pairs.j.tolist()))


def test_recall_falls_when_pairs_are_missing():
    x = with_copies()
    pairs = neighbour_pairs(x, 0.8, "exact")
    half = Pairs(pairs.i[::2], pairs.j[::2], pairs.sim[::2])
    assert measured_recall(x, pairs, 0.8, sample=460) == 1.0
    assert measured_recall(x, half, 0.8, sample=460) < 0.7


def test_unknown_index_is_a_clear_error():
    with pytest.raises(CurationError, match="unknown index"):
        neighbour_pairs(unit(5), 0.9, "annoy")


def test_exact_neighbours_for_chosen_rows():
    x = with_copies()
    r, c, s = exact_neighbours(x, 0.8, rows=np.array([0, 1]))
    assert set(r.tolist()) <= {0, 1} and {(0, 400), (1, 401)} <= set(zip(r.tolist(), c.tolist()))


# MinHash

def test_minhash_finds_surface_copies_not_paraphrases():
    texts = ["the quick brown fox jumps over the lazy dog near the river bank today",
             "the quick brown fox jumps over the lazy dog near the river bank",
             "a fast auburn fox leaps above an idle hound beside the stream",
             "completely different text about cooking pasta with garlic and oil"]
    pairs = minhash_pairs(texts, 0.5)
    assert set(zip(pairs.i.tolist(), pairs.j.tolist())) == {(0, 1)}
    assert abs(float(pairs.sim[0]) - jaccard(texts[0], texts[1])) < 0.15


# boilerplate

def test_boilerplate_lines_are_stripped_before_comparing():
    header = "toolformer: enabled\ntoolformer access: wikipedia\nA wrapper around Wikipedia.\nwikipedia(query)"
    rows = [{"instruction": f"{header}\nSummarise the history of {topic}", "input": "", "output": "..."}
            for topic in ("Rome", "Paris", "Tokyo", "Lima", "Oslo", "Cairo", "Delhi", "Quito", "Seoul", "Accra", "Hanoi", "Dakar")]
    frame = pd.DataFrame([{"system": "", "messages": None, **r} for r in rows])
    full, compared, lines = comparable_texts(frame)
    assert len(lines) == 4 and all(n == 12 for n in lines.values())
    assert compared[0] == "Summarise the history of Rome" and full[0].startswith("toolformer")
    assert comparable_texts(frame, strip=False)[1] == full
    assert boilerplate_lines(["only once"] * 3) == {}  # fewer than the minimum number of records


def test_a_record_made_only_of_boilerplate_keeps_its_text():
    frame = pd.DataFrame([{"system": "", "messages": None, "instruction": "Same line", "input": "", "output": ""}] * 12)
    assert comparable_texts(frame)[1] == ["Same line"] * 12


# groups and representatives

def frame_of(rows):
    base = {"system": "", "input": "", "messages": None, "dataset": "d", "source": "unknown", "decision": "undecided", "reason": None}
    return pd.DataFrame([{**base, "record_id": f"r{i}", **r} for i, r in enumerate(rows)])


def test_groups_join_exact_and_near_pairs_and_number_largest_first():
    pairs = Pairs(np.array([0, 3, 4]), np.array([1, 4, 5]), np.array([0.95, 0.85, 0.99], dtype=np.float32))
    hashes = np.array(["a", "b", "c", "d", "e", "f", "g", "g"])
    labels = group_labels(8, pairs, hashes, 0.9)
    assert labels.tolist() == [2, 2, 0, 0, 3, 3, 1, 1] or labels.tolist() == [1, 1, 0, 0, 2, 2, 3, 3]
    assert labels[0] == labels[1] and labels[4] == labels[5] and labels[6] == labels[7] and labels[3] == 0
    lower = group_labels(8, pairs, hashes, 0.8)
    assert lower[3] == lower[4] == lower[5] and (lower == lower[3]).sum() == 3 and lower[3] == 1


def test_chains_join_groups_but_the_greedy_count_does_not_chain():
    pairs = Pairs(np.array([0, 1]), np.array([1, 2]), np.array([0.9, 0.9], dtype=np.float32))  # 0~1, 1~2, 0 and 2 differ
    hashes = np.array(["a", "b", "c", "d"])
    table = sweep(4, pairs, hashes, [0.85, 0.95]).set_index("threshold")
    assert table.loc[0.85, ["groups", "records_in_groups", "would_reject", "kept", "largest_group"]].tolist() == [1, 3, 2, 2, 3]
    assert table.loc[0.85, "kept_greedy"] == 3  # 0 kept, 1 dropped (like 0), 2 kept (like only the dropped 1), 3 kept
    assert table.loc[0.95, ["groups", "kept", "kept_greedy"]].tolist() == [0, 4, 4]


def test_star_grouping_keeps_every_member_next_to_its_representative():
    pairs = Pairs(np.array([0, 1]), np.array([1, 2]), np.array([0.9, 0.9], dtype=np.float32))  # a chain 0~1~2
    hashes = np.array(["a", "b", "c", "d"])
    assert group_labels(4, pairs, hashes, 0.85).tolist() == [1, 1, 1, 0]  # components join the chain
    assert group_labels(4, pairs, hashes, 0.85, rank=np.array([0, 1, 2, 3])).tolist() == [1, 1, 0, 0]  # 0 takes 1; 2 is alone
    assert group_labels(4, pairs, hashes, 0.85, rank=np.array([1, 0, 2, 3])).tolist() == [1, 1, 1, 0]  # 1 is like both
    table = sweep(4, pairs, hashes, [0.85], rank=np.array([0, 1, 2, 3]))
    assert table.loc[0, ["groups", "would_reject", "kept"]].tolist() == [1, 1, 3]


@pytest.mark.parametrize(("rule", "expected"), [("first_seen", "r0"), ("longest_output", "r1"), ("human_first", "r2"), ("quality", "r3")])
def test_representative_rules(rule, expected):
    frame = frame_of([{"output": "short", "quality": 0.1}, {"output": "the longest output of all", "quality": 0.2},
                      {"output": "mid", "source": "human", "quality": 0.3}, {"output": "ok", "quality": 0.9}])
    labels = np.array([1, 1, 1, 1])
    table = assign(frame, labels, np.array(["a", "b", "c", "d"]), rule)
    assert table.loc[table["representative"] == True, "record_id"].tolist() == [expected]  # noqa: E712
    assert set(table["representative_id"]) == {expected} and (table["group_size"] == 4).all()
    assert (table["group_kind"] == "near").all()


def test_a_record_the_curator_kept_is_the_representative_and_never_rejected():
    frame = frame_of([{"output": "a", "quality": 0.9}, {"output": "b", "quality": 0.1, "decision": "keep", "reason": "manual"},
                      {"output": "c", "quality": 0.5, "decision": "reject", "reason": "short_output"}])
    table = assign(frame, np.array([1, 1, 1]), np.array(["x", "y", "z"]), "quality")
    assert table.loc[table["representative"] == True, "record_id"].tolist() == ["r1"]  # noqa: E712


def test_cross_dataset_and_exact_kinds_are_marked():
    frame = frame_of([{"output": "x", "dataset": "a"}, {"output": "x", "dataset": "b"}, {"output": "y"}, {"output": "z"}])
    table = assign(frame, np.array([1, 1, 2, 2]), np.array(["h", "h", "p", "q"]), "first_seen")
    assert table["cross_dataset"].tolist() == [True, True, False, False]
    assert table["group_kind"].tolist() == ["exact", "exact", "near", "near"]


def test_unknown_rule_and_missing_quality_are_clear_errors():
    with pytest.raises(CurationError, match="unknown representative rule"):
        preference(frame_of([{"output": ""}]), "random")
    with pytest.raises(CurationError, match="quality signals"):
        preference(frame_of([{"output": ""}]), "quality")


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 30).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.floats(0.5, 1.0)), max_size=60),
    st.lists(st.integers(0, 3), min_size=n, max_size=n),
    st.floats(0.5, 1.0))))
def test_groups_are_connected_components_with_one_representative_each(case):
    n, edges, hash_ids, threshold = case
    edges = [(a, b, s) for a, b, s in edges if a != b]
    pairs = Pairs(np.array([min(a, b) for a, b, _ in edges], dtype=np.int64), np.array([max(a, b) for a, b, _ in edges], dtype=np.int64),
                  np.array([s for *_, s in edges], dtype=np.float32))
    hashes = np.array([f"h{h}" if h else f"u{i}" for i, h in enumerate(hash_ids)])
    labels = group_labels(n, pairs, hashes, threshold)
    for a, b, s in edges:
        if s >= threshold:
            assert labels[a] == labels[b] != 0
    for a in range(n):
        for b in range(n):
            if hashes[a] == hashes[b] and a != b:
                assert labels[a] == labels[b] != 0
    frame = frame_of([{"output": str(i)} for i in range(n)])
    table = assign(frame, labels, hashes, "first_seen")
    groups = table[table["dup_group"].notna()]
    assert (groups.groupby("dup_group")["representative"].sum() == 1).all()
    assert (groups.groupby("dup_group").size() >= 2).all()
    sizes = groups.groupby("dup_group").size()
    assert list(sizes.sort_index()) == sorted(sizes, reverse=True)  # numbered largest first
    # Star grouping: every member is like its representative itself: the same text, or an edge at the threshold between
    # copies of the two texts (identical texts have identical vectors).
    stars = group_labels(n, pairs, hashes, threshold, rank=preference_rank(frame, "first_seen"))
    star_table = assign(frame, stars, hashes, "first_seen")
    close = {(a, b) for a, b, s in edges if s >= threshold} | {(b, a) for a, b, s in edges if s >= threshold}
    rows = {rid: i for i, rid in enumerate(star_table["record_id"])}
    for i, rep in zip(np.flatnonzero(stars > 0), star_table["representative_id"][stars > 0]):
        r = rows[rep]
        mine, theirs = [j for j in range(n) if hashes[j] == hashes[i]], [k for k in range(n) if hashes[k] == hashes[r]]
        assert hashes[i] == hashes[r] or any((j, k) in close for j in mine for k in theirs)
    assert set(np.flatnonzero(stars > 0)) <= set(np.flatnonzero(labels > 0))  # stars split components, never join them


# the pipeline on a workspace

ROWS = [
    {"instruction": "How do I bake sourdough bread at home", "output": "Feed the starter, mix, fold, proof and bake."},
    {"instruction": "How do I bake sourdough bread at home please", "output": "Mix, fold, proof overnight, bake hot."},
    {"instruction": "Name three primary colours", "output": "Red, blue and yellow."},
    {"instruction": "name three  primary colours", "output": "Red, blue and yellow."},
    {"instruction": "Explain photosynthesis to a child", "output": "Plants make food from light."},
]


def test_find_apply_is_idempotent_and_undo_restores(ws, words):
    ingest(ws, str(write_jsonl(ws.root.parent / "a.jsonl", ROWS)))
    found = dedup.find(ws, rule="first_seen")
    s = found.summary()
    assert (s["exact_groups"], s["near_groups"], s["records_in_groups"], s["would_reject"]) == (1, 1, 4, 2)
    assert dedup.apply(ws, found) == 2
    frame = load_records(ws).merge(found.table, on="record_id")
    rejected = frame[frame["decision"] == "reject"]
    assert (rejected["representative"] == False).all() and len(rejected) == 2  # noqa: E712
    assert (rejected["reason"] == "near_duplicate_of:" + rejected["representative_id"]).all()
    assert dedup.apply(ws, dedup.find(ws, rule="first_seen")) == 0  # applying twice changes nothing
    assert dedup.undo(ws, dedup.find(ws, rule="first_seen"), groups=[1]) == 1
    assert dedup.undo(ws, dedup.find(ws, rule="first_seen")) == 1
    assert (load_records(ws)["decision"] == "undecided").all()


def test_cached_answer_and_settings(ws, words):
    ingest(ws, str(write_jsonl(ws.root.parent / "a.jsonl", ROWS)))
    assert dedup.find(ws, compute=False) is None
    dedup.find(ws)
    assert dedup.find(ws, compute=False) is not None
    assert dedup.find(ws, compute=False, threshold=0.99).summary()["threshold"] == 0.99  # any threshold above the floor: from cache
    conf = dedup.save_settings(ws, method="minhash")
    assert conf["threshold"] == dedup.DEFAULT_THRESHOLDS["minhash"]
    with pytest.raises(CurationError, match="between 0 and 1"):
        dedup.save_settings(ws, threshold=1.5)
    with pytest.raises(CurationError, match="unknown method"):
        dedup.save_settings(ws, method="vibes")


def test_cross_dataset_group_in_a_workspace(ws, words):
    ingest(ws, str(write_jsonl(ws.root.parent / "a.jsonl", ROWS[:3])))
    ingest(ws, str(write_jsonl(ws.root.parent / "b.jsonl", ROWS[3:])))
    found = dedup.find(ws, rule="first_seen")
    groups = found.groups()
    assert groups["cross_dataset"].tolist().count(True) == 1 and "a, b" in groups["datasets"].tolist()


def test_cli_dedup_records_and_decide_duplicates(ws, words, capsys):
    ingest(ws, str(write_jsonl(ws.root.parent / "a.jsonl", ROWS)))
    assert cli(["dedup", "--workspace", str(ws.root), "--json", "--rule", "first_seen", "--sweep"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"threshold", "method", "exact_groups", "near_groups", "records_in_groups", "would_reject", "applied", "seconds"} <= set(out)
    assert out["applied"] == 0 and out["would_reject"] == 2 and len(out["sweep"]) == len(dedup.SWEEPS["embedding"])
    assert cli(["records", "--workspace", str(ws.root), "--json"]) == 0
    records = json.loads(capsys.readouterr().out)["records"]
    assert sum(r["representative"] is True for r in records) == 2 and sum(r["dup_group"] is None for r in records) == 1
    assert cli(["decide", "--reject", "--duplicates", "--workspace", str(ws.root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] == 2
    assert cli(["dedup", "--workspace", str(ws.root), "--json", "--apply"]) == 0
    assert json.loads(capsys.readouterr().out)["applied"] == 0
    assert cli(["dedup", "--workspace", str(ws.root), "--json", "--method", "exact"]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert (exact["exact_groups"], exact["near_groups"], exact["threshold"]) == (1, 0, 1.0)
    assert cli(["dedup", "--workspace", str(ws.root), "--json", "--method", "embedding", "--grouping", "star"]) == 0
    assert json.loads(capsys.readouterr().out)["grouping"] == "star"
    assert cli(["dedup", "--workspace", str(ws.root), "--threshold", "3"]) == 1
    assert "between 0 and 1" in capsys.readouterr().err


def test_real_model_finds_every_planted_duplicate_of_the_demo(ws):
    load_demo(ws)
    frame = load_records(ws)
    demo_id = frame["meta"].map(lambda m: json.loads(m)["demo_id"])
    found = dedup.find(ws)  # the defaults: embedding with the bundled MiniLM, exact search
    assert found.pairs.info["index"] == "exact" and found.pairs.info["model"] == "minilm"
    group = dict(zip(demo_id, found.table["dup_group"]))
    for kind in ("exact_duplicate", "near_duplicate"):
        for a, b in planted()[kind]:
            assert not pd.isna(group[a]) and group[a] == group[b], (kind, a, b)
    exact = dedup.find(ws, method="exact")
    exact_group = dict(zip(demo_id, exact.table["dup_group"]))
    assert all(exact_group[a] == exact_group[b] and not pd.isna(exact_group[a]) for a, b in planted()["exact_duplicate"])
    assert all(pd.isna(exact_group[a]) or exact_group[a] != exact_group[b] for a, b in planted()["near_duplicate"])
    clean = set(planted()["clean"])
    assert sum(1 for i, g in group.items() if i in clean and not pd.isna(g)) < len(clean) / 2


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(["keep", "reject", None]), min_size=len(ROWS), max_size=len(ROWS)),
       st.sampled_from(list(dedup.RULES)[1:]))
def test_applying_twice_changes_nothing_whatever_the_earlier_decisions(tmp_path_factory, earlier, rule):
    from curation.workspace import Workspace

    embed_factory = embed.get_embedder
    embed.get_embedder = bag_of_words
    try:
        ws = Workspace(tmp_path_factory.mktemp("ws"))
        ingest(ws, str(write_jsonl(ws.root / "a.jsonl", ROWS)))
        ids = list(load_records(ws)["record_id"])
        for rid, decision in zip(ids, earlier):
            if decision:
                decide(ws, [rid], decision, "manual")
        dedup.apply(ws, dedup.find(ws, rule=rule))
        assert dedup.apply(ws, dedup.find(ws, rule=rule)) == 0
        frame = load_records(ws).set_index("record_id")
        for rid, decision in zip(ids, earlier):
            if decision == "keep":
                assert frame.loc[rid, "decision"] == "keep"  # a curator's keep is never overridden
    finally:
        embed.get_embedder = embed_factory
