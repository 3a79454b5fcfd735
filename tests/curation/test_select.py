"""Budgeted selection: each strategy, the kept / rejected / protected rules, caps and floors, the trade-off measures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from curation import select_view
from curation.errors import CurationError
from curation.select import NOT_SELECTED, SELECTED, Limit, Pool, parse_limit, plan, status


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def make_pool(vectors, scores, *, datasets=None, decisions=None, reasons=None, protected=None) -> Pool:
    n = len(scores)
    frame = pd.DataFrame({
        "record_id": [f"r{i}" for i in range(n)], "dataset": datasets or ["d"] * n, "source": ["human"] * n,
        "decision": decisions or ["undecided"] * n, "reason": reasons or [None] * n,
        "instruction": [f"q{i}" for i in range(n)], "input": "", "output": "", "score": np.asarray(scores, dtype=float),
        "broken": np.asarray(scores, dtype=float) < 0.5})
    frame["status"] = status(frame, protected)
    return Pool(frame, unit(vectors), {"model": "test"})


def clusters(k: int, per: int, d: int = 8, noise: float = 0.01, seed: int = 0) -> np.ndarray:
    """k tight groups of `per` records around orthogonal axes, cluster by cluster."""
    rng = np.random.default_rng(seed)
    out = np.zeros((k * per, d), dtype=np.float32)
    for c in range(k):
        out[c * per : (c + 1) * per, c] = 1
    return out + rng.normal(scale=noise, size=out.shape).astype(np.float32)


def ids(sel) -> list[str]:
    return list(sel.pool.frame["record_id"].to_numpy()[sel.chosen])


def test_quality_takes_the_best_first_and_leaves_out_what_is_too_close_to_a_chosen_record():
    vectors = clusters(3, 3)  # r0-r2 one topic, r3-r5 another, r6-r8 a third
    scores = [0.9, 0.95, 0.8, 0.7, 0.6, 0.65, 0.55, 0.52, 0.51]
    sel = plan(make_pool(vectors, scores), 3, "quality", threshold=0.9)
    assert ids(sel) == ["r1", "r3", "r6"]  # the best of each topic; r0 (0.9) is a near copy of r1
    assert sel.info["relaxed"] == 0 and sel.info["to_keep"] == 3 and sel.info["to_reject"] == 6
    margin = select_view.margin(sel)
    assert list(margin["side"]) == ["chosen (last in)"] * 3 + ["left out (next in line)"] * 5
    assert margin["record_id"].iloc[3] == "r0" and margin["nearest chosen"].iloc[3] == "r1" and margin["similarity"].iloc[3] > 0.9

    plain = plan(make_pool(vectors, scores), 3, "quality", threshold=1.01)  # no constraint: the three best scores
    assert ids(plain) == ["r1", "r0", "r2"]


def test_quality_fills_the_budget_when_too_few_records_are_far_apart_and_says_so():
    sel = plan(make_pool(clusters(1, 5), [0.9, 0.8, 0.7, 0.6, 0.5]), 3, "quality", threshold=0.9)
    assert ids(sel) == ["r0", "r1", "r2"] and sel.info["relaxed"] == 2 and sel.info["short"] == 0


def test_coverage_spreads_over_the_topics_and_takes_each_topics_best_record():
    vectors = clusters(4, 10, noise=0.0)
    vectors[:10, 4] = np.linspace(0, 0.05, 10)  # tiny differences inside the first topic
    rng = np.random.default_rng(1)
    scores = rng.uniform(0.5, 0.9, 40)
    scores[[7, 13, 25, 38]] = 0.99  # one best record per topic
    pool = make_pool(vectors, scores)
    sel = plan(pool, 4, "coverage")
    assert sorted(ids(sel)) == ["r13", "r25", "r38", "r7"]
    assert select_view.coverage(pool, sel.chosen) > 0.99
    random = plan(pool, 4, "random")
    assert select_view.coverage(pool, random.chosen) <= select_view.coverage(pool, sel.chosen)


def test_random_is_a_seeded_sample():
    pool = make_pool(clusters(5, 20), np.linspace(0.5, 1, 100))
    a, b, c = (plan(pool, 10, "random", seed=s) for s in (0, 0, 1))
    assert ids(a) == ids(b) != ids(c) and len(set(ids(a))) == 10


@pytest.mark.parametrize("strategy", ["quality", "coverage", "random"])
def test_kept_records_are_always_in_and_rejected_ones_never(strategy):
    n = 30
    decisions = ["undecided"] * n
    reasons = [None] * n
    decisions[0], reasons[0] = "keep", "manual"  # the worst record, kept by the curator
    for i in (28, 29):  # the two best, rejected
        decisions[i], reasons[i] = "reject", "manual"
    decisions[5], reasons[5] = "reject", NOT_SELECTED  # left out by an earlier selection: a candidate again
    protected = np.zeros(n, dtype=bool)
    protected[27] = True  # an evaluation set's record
    pool = make_pool(clusters(3, 10, noise=0.2), np.linspace(0.1, 1, n), decisions=decisions, reasons=reasons, protected=protected)
    assert list(pool.status[[0, 5, 27, 28]]) == ["kept", "candidate", "protected", "rejected"]
    sel = plan(pool, 10, strategy)
    chosen = set(ids(sel))
    assert "r0" in chosen and not {"r27", "r28", "r29"} & chosen and len(chosen) == 10
    assert sel.info["kept"] == 1 and sel.info["to_keep"] == 9 and sel.info["to_reject"] == 27 - 10
    wanted = dict((rid, (d, r)) for rid, d, r in sel.decisions())
    assert "r0" not in wanted and "r27" not in wanted and "r28" not in wanted  # only candidates are decided
    assert {d for rid, (d, r) in wanted.items() if rid in chosen} == {"keep"}
    assert {r for rid, (d, r) in wanted.items() if rid in chosen} == {SELECTED + strategy}
    assert {r for rid, (d, r) in wanted.items() if rid not in chosen} == {NOT_SELECTED}


def test_more_kept_records_than_the_budget_keeps_them_all_and_adds_none():
    decisions = ["keep"] * 5 + ["undecided"] * 5
    sel = plan(make_pool(clusters(2, 5), [0.5] * 10, decisions=decisions, reasons=["manual"] * 5 + [None] * 5), 3, "quality")
    assert ids(sel) == [f"r{i}" for i in range(5)] and sel.info["to_keep"] == 0 and sel.info["to_reject"] == 5


def test_caps_and_floors_per_group():
    datasets = ["a"] * 10 + ["b"] * 10 + ["c"] * 10
    scores = [0.9] * 10 + [0.8] * 10 + [0.6] * 10  # quality alone would take a first, then b
    pool = make_pool(clusters(30, 1, d=32), scores, datasets=datasets)
    sel = plan(pool, 10, "quality", limits=[Limit("dataset", "a", cap=3), Limit("dataset", "c", floor=4)])
    got = pd.Series(pool.frame["dataset"].to_numpy()[sel.chosen]).value_counts().to_dict()
    assert got == {"a": 3, "c": 4, "b": 3}
    shares = plan(pool, 10, "coverage", limits=[parse_limit("dataset:*=20%", "cap")])  # 2 per dataset at most
    assert pd.Series(pool.frame["dataset"].to_numpy()[shares.chosen]).value_counts().max() <= 2 and shares.info["short"] == 4
    short = plan(pool, 20, "random", limits=[Limit("dataset", "c", floor=15)])
    assert short.info["floors_short"] == [{"by": "dataset", "group": "c", "floor": 15, "got": 10}]
    with pytest.raises(CurationError, match="floors add up"):
        plan(pool, 5, "quality", limits=[Limit("dataset", "*", floor=2)])
    with pytest.raises(CurationError, match="no dataset 'z'"):
        plan(pool, 5, "quality", limits=[Limit("dataset", "z", cap=1)])


def test_a_cap_the_kept_records_exceed_is_reported_and_they_stay_in():
    decisions = ["keep"] * 3 + ["undecided"] * 7
    pool = make_pool(clusters(10, 1, d=16), [0.5] * 10, datasets=["a"] * 5 + ["b"] * 5, decisions=decisions,
                     reasons=["manual"] * 3 + [None] * 7)
    sel = plan(pool, 6, "quality", limits=[Limit("dataset", "a", cap=2)])
    assert {"r0", "r1", "r2"} <= set(ids(sel)) and not {"r3", "r4"} & set(ids(sel))
    assert sel.info["caps_exceeded_by_kept"] == [{"by": "dataset", "group": "a", "cap": 2, "kept": 3}]


def test_a_share_budget_and_limits_are_parsed_with_clear_errors():
    pool = make_pool(clusters(4, 5), [0.5] * 20)
    assert plan(pool, 0.25, "random").chosen_n == 5
    assert parse_limit("cluster:*=5%", "cap") == Limit("cluster", "*", cap=0.05)
    assert parse_limit("dataset:gsm8k=100", "floor") == Limit("dataset", "gsm8k", floor=100)
    for bad in ("dataset=3", "colour:red=3", "dataset:a=lots", "dataset:a=-1"):
        with pytest.raises(CurationError):
            parse_limit(bad, "cap")
    with pytest.raises(CurationError, match="unknown strategy 'best'"):
        plan(pool, 3, "best")
    with pytest.raises(CurationError, match="no cluster column"):
        plan(pool, 3, "quality", limits=[Limit("cluster", "1", cap=1)])


def test_the_trade_off_curve_mix_and_quality():
    vectors = clusters(6, 20, noise=0.3)
    pool = make_pool(vectors, np.random.default_rng(0).uniform(0.3, 1, 120), datasets=["a"] * 60 + ["b"] * 60)
    pool.frame["cluster"] = [str(i // 20) for i in range(120)]
    sel = plan(pool, 24, "coverage")
    curve = select_view.curve(sel)
    assert curve["budget"].iloc[-1] == 24 and curve["coverage"].is_monotonic_increasing
    assert curve["coverage"].iloc[-1] == pytest.approx(select_view.coverage(pool, sel.chosen), abs=1e-6)
    assert curve["clusters"].iloc[-1] == 1.0  # every topic represented
    q = select_view.quality(sel).set_index("set")
    assert q.loc["chosen", "records"] == 24 and q.loc["pool", "records"] == 120
    assert q.loc["chosen", "mean"] == pytest.approx(pool.frame["score"].to_numpy()[sel.chosen].mean())
    mix = select_view.mix(sel, "dataset").set_index("dataset")
    assert mix["chosen"].sum() == 24 and mix.loc["a", "pool share"] == 0.5
    table = select_view.compare(pool, [sel, plan(pool, 24, "random")])
    assert list(table["strategy"]) == ["coverage", "random"] and table["coverage"].iloc[0] > table["coverage"].iloc[1]
