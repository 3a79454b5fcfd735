"""Groups without chaining: star grouping by default, members settled where their duplicates are, pair recall, the bulk guard."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from curation import dedup, embed
from curation.cli import main as cli
from curation.dedup.groups import LARGE_GROUP, assign, check_bulk, group_labels, largest_near_group, pair_recall, sweep
from curation.dedup.neighbours import Pairs
from curation.errors import CurationError
from curation.ingest import ingest
from curation.store import load_records
from curation.workspace import Workspace
from tests.conftest import write_jsonl
from tests.curation.test_dedup import bag_of_words


def pairs_of(edges, sim=0.9) -> Pairs:
    i, j = zip(*edges)
    return Pairs(np.array(i, dtype=np.int64), np.array(j, dtype=np.int64), np.full(len(edges), sim, dtype=np.float32))


def frame_of(n):
    return pd.DataFrame({"record_id": [f"r{i}" for i in range(n)], "dataset": "d", "source": "unknown", "output": "x",
                         "decision": "undecided", "reason": None})


def test_star_grouping_is_the_default_and_components_chain():
    assert dedup.GROUPINGS["star"].ranked and list(dedup.GROUPINGS)[0] == "star"
    from curation.dedup.detect import DedupSettings

    assert DedupSettings().grouping == "star"
    chain = pairs_of([(0, 1), (1, 2), (2, 3), (3, 4)])  # a chain: 0 is not like 2, 3 or 4
    hashes = np.array(list("abcde"))
    assert set(group_labels(5, chain, hashes, 0.8).tolist()) == {1}
    stars = group_labels(5, chain, hashes, 0.8, rank=np.arange(5))
    assert stars.tolist() == [1, 1, 2, 2, 0]  # 0 takes 1, 2 takes 3; 4 is alone (only like 3, a member)


def test_a_member_like_two_representatives_joins_the_one_its_duplicates_are_with():
    # 0 and 4 are representatives (not alike). 2 is like 0, and like 4, 5 and 6 (all in 4's group): it settles with 4.
    pairs = pairs_of([(0, 1), (0, 2), (2, 4), (4, 5), (4, 6), (2, 5), (2, 6)])
    hashes = np.array(list("abcdefg"))
    rank = np.array([0, 1, 3, 4, 2, 5, 6])  # 0, then 4, are preferred to 2
    labels = group_labels(7, pairs, hashes, 0.8, rank=rank)
    assert labels[2] == labels[4] == labels[5] == labels[6] != labels[0] == labels[1]
    assert pair_recall(labels, pairs) == round(6 / 7, 4)  # only 0~2 is split
    # A member never joins a representative the rule ranks after it: that representative would not be its group's first.
    labels = group_labels(7, pairs, hashes, 0.8, rank=np.arange(7))
    assert labels[2] == labels[0]


def test_the_sweep_reports_pair_recall_and_why_each_rejection():
    pairs = pairs_of([(0, 1), (1, 2)])
    hashes = np.array(["a", "b", "c", "d", "d"])
    row = sweep(5, pairs, hashes, [0.8], rank=np.arange(5)).iloc[0]
    assert (row["exact"], row["same_values"], row["near"], row["would_reject"]) == (1, 0, 1, 2)
    assert row["pair_recall"] == 0.5  # 0~1 together, 1~2 split (2 is not like 0)


def near_table(sizes, exact=()):
    """A group table with groups of the given sizes; groups whose index is in `exact` are exact copies."""
    labels = np.concatenate([np.full(s, g + 1) for g, s in enumerate(sizes)])
    hashes = np.array([f"g{labels[k]}" if labels[k] - 1 in exact else f"r{k}" for k in range(len(labels))])
    return assign(frame_of(len(labels)), labels, hashes, "first_seen")


def test_bulk_apply_is_refused_past_a_large_near_group_unless_confirmed():
    small = near_table([LARGE_GROUP, 3])
    check_bulk(small, confirm_large=False)  # 50 is allowed
    big = near_table([LARGE_GROUP + 1, 3])
    assert largest_near_group(big) == (1, LARGE_GROUP + 1)
    with pytest.raises(CurationError, match=r"group 1 holds 51 records .*--confirm-large"):
        check_bulk(big, confirm_large=False)
    check_bulk(big, confirm_large=True)
    check_bulk(near_table([500, 3], exact={0}), confirm_large=False)  # exact copies of any number are safe


@pytest.fixture
def crowded(tmp_path, monkeypatch):
    """20 texts that differ in one word, 3 copies of each: one near group (a fake embedder) of 60, over the limit; and
    a pair of exact copies. (Each record keeps its 32 nearest pairs, so a star of distinct texts stays under 34.)"""
    rows = [{"instruction": f"please describe the weather we had today in great detail for the {w} village", "output": "ok"}
            for w in [f"w{chr(97 + k)}x" for k in range(20)] for _ in range(3)]
    rows += [{"instruction": "name a colour", "output": "teal"}, {"instruction": "name a colour", "output": "red"}]
    ws = Workspace(tmp_path / "ws")
    ingest(ws, str(write_jsonl(tmp_path / "crowd.jsonl", rows)))
    monkeypatch.setattr(embed, "get_embedder", bag_of_words)
    dedup.save_settings(ws, method="embedding", threshold=0.8, rule="first_seen")
    return ws


def test_cli_refuses_the_large_group_and_confirm_large_applies(crowded, capsys):
    root = str(crowded.root)
    assert cli(["dedup", "--workspace", root, "--json", "--apply"]) == 1
    assert "--confirm-large" in capsys.readouterr().err
    assert (load_records(crowded)["decision"] == "reject").sum() == 0
    assert cli(["decide", "--reject", "--duplicates", "--workspace", root, "--json"]) == 1
    capsys.readouterr()
    assert cli(["dedup", "--workspace", root, "--json", "--apply", "--confirm-large"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["applied"] == out["would_reject"] == 60 and out["largest_group"] == 60 and out["largest_near_group"] == 60
    assert out["reject_exact"] == 3 and out["reject_near"] == 57


def test_on_gsm8k_stars_do_not_chain_unrelated_problems(shared_data):
    """Real data: MinHash pairs of 2,000 GSM8K problems at a loose threshold chain into one giant component; stars keep
    every member within the threshold of its representative, with a group size a curator can read."""
    from curation.dedup.minhash import minhash_pairs

    rows = json.loads((shared_data / "gsm8k" / "gsm_8k_train.json").read_text(encoding="utf-8"))[:2000]
    texts = [r["instruction"] for r in rows]
    threshold = 0.1
    pairs = minhash_pairs(texts, threshold)
    hashes = np.array([t.lower() for t in texts])
    components = group_labels(len(texts), pairs, hashes, threshold)
    stars = group_labels(len(texts), pairs, hashes, threshold, rank=np.arange(len(texts)))
    largest = int(np.bincount(components)[1:].max())
    largest_star = int(np.bincount(stars)[1:].max())
    assert largest > 10 * largest_star
    table = assign(frame_of(len(texts)), stars, hashes, "first_seen")
    rows_of = {f"r{k}": k for k in range(len(texts))}
    near = pairs.above(threshold)
    close = set(zip(near.i.tolist(), near.j.tolist()))
    for member in np.flatnonzero(stars > 0):
        rep = rows_of[table.loc[member, "representative_id"]]
        assert member == rep or (min(member, rep), max(member, rep)) in close or hashes[member] == hashes[rep]
    assert 0.3 < pair_recall(stars, near) < 1.0


def test_edge_examples_show_the_pairs_closest_to_the_threshold_first():
    """New-user pass: the Duplicates page's "just above" pairs came in row order; each band now starts at the threshold."""
    from curation.dedup.groups import edge_pairs

    sims = np.array([0.815, 0.801, 0.809, 0.79, 0.799, 0.785, 0.806], dtype=np.float32)
    pairs = Pairs(np.arange(7, dtype=np.int64), np.arange(7, dtype=np.int64) + 10, sims)
    bands = edge_pairs(pairs, 0.8, n=10)
    assert list(np.round(bands["just above"]["similarity"].to_numpy(float), 3)) == [0.801, 0.806, 0.809, 0.815]
    assert list(np.round(bands["just below"]["similarity"].to_numpy(float), 3)) == [0.799, 0.79, 0.785]
    assert list(bands["just above"]["i"]) == [1, 6, 2, 0]
