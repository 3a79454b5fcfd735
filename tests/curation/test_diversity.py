"""Diversity measures that agree, or say plainly why they do not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from curation.diversity import agreement, diversity


def test_varied_records_on_few_topics_are_explained():
    rng = np.random.default_rng(0)
    # "varied": 200 very different records, all in cluster 0; "topical": near-copies of 4 records, one per cluster.
    varied = rng.normal(size=(200, 64))
    base = rng.normal(size=(4, 64))
    topical = np.repeat(base, 50, axis=0) + rng.normal(scale=0.01, size=(200, 64))
    vectors = np.vstack([varied, topical]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = np.array([0] * 200 + [0] * 50 + [1] * 50 + [2] * 50 + [3] * 50)
    frame = pd.DataFrame({"dataset": ["varied"] * 200 + ["topical"] * 200})
    stats = diversity(frame, vectors, labels, "dataset")
    assert stats["varied"]["vendi"] > stats["topical"]["vendi"]
    assert stats["varied"]["effective_clusters"] < stats["topical"]["effective_clusters"]
    notes = agreement(stats)
    assert len(notes) == 1 and notes[0].startswith("varied has the higher Vendi score") and "fewer of the map's topics" in notes[0]


def test_agreeing_measures_say_so():
    stats = {"all": {"records": 30, "vendi": 9.0, "effective_clusters": 5.0},
             "a": {"records": 10, "vendi": 8.0, "effective_clusters": 4.0},
             "b": {"records": 10, "vendi": 2.0, "effective_clusters": 1.5},
             "c": {"records": 10, "vendi": 5.0, "effective_clusters": 3.0}}
    assert agreement(stats)[0].startswith("The measures agree: a, c, b rank the same by Vendi score and by effective clusters")
    close = {**stats, "c": {"records": 10, "vendi": 7.8, "effective_clusters": 4.1}}  # c vs a: within 10% on both
    assert agreement(close)[0].startswith("The measures agree")
    assert agreement({"all": stats["all"], "a": stats["a"]}) == []


def test_sizes_that_differ_are_named():
    stats = {"a": {"records": 1000, "vendi": 50.0, "effective_clusters": 2.0},
             "b": {"records": 100, "vendi": 20.0, "effective_clusters": 6.0}}
    (note,) = agreement(stats)
    assert "measured on 1,000 and 100 records" in note
