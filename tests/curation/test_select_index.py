"""The quality strategy's index of chosen records (issue 18): the same picks as the brute force, less exact work."""

from __future__ import annotations

import numpy as np
import pytest

from curation import select_strategies
from curation.select import Limit, plan
from curation.select_strategies import ChosenIndex, Quality, _Rows, max_similarity
from tests.curation.test_select import make_pool, unit


def planted(n_topics: int = 600, copies: int = 6, d: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random unit vectors, each with up to `copies` near copies (cosine ~0.95-0.99 to it), shuffled, with scores
    that interleave originals and copies (so most candidates meet a chosen near copy, as the synthetic 1M pool does)."""
    rng = np.random.default_rng(seed)
    base = unit(rng.normal(size=(n_topics, d)))
    rows = [base]
    for _ in range(copies):
        keep = rng.random(n_topics) < 0.7
        noise = rng.normal(scale=rng.uniform(0.01, 0.04), size=(int(keep.sum()), d))
        rows.append(unit(base[keep] + noise))
    vectors = np.concatenate(rows).astype(np.float32)
    vectors = vectors[rng.permutation(len(vectors))]
    return vectors, rng.uniform(0, 1, len(vectors))


def picks(pool, budget, *, index: bool, monkeypatch, block: int = 64, **options) -> np.ndarray:
    """The pick order; small blocks, so that most candidates are compared at a block's load (not as `since`)."""
    monkeypatch.setattr(select_strategies, "INDEX_MIN", 0 if index else 10**12)
    monkeypatch.setattr(select_strategies, "BLOCK", block)
    return plan(pool, budget, "quality", **options).order


@pytest.mark.parametrize(("threshold", "block"), [(0.9, 64), (0.95, 64), (0.97, 1024), (0.9, 1024)])
def test_the_indexed_path_picks_exactly_what_the_brute_force_picks(monkeypatch, threshold, block):
    vectors, scores = planted()
    pool = make_pool(vectors, scores)
    brute = picks(pool, 700, index=False, monkeypatch=monkeypatch, block=block, threshold=threshold)
    indexed = picks(pool, 700, index=True, monkeypatch=monkeypatch, block=block, threshold=threshold)
    assert len(brute) == 710  # the budget (700 > 600 topics: the last picks come from relaxing) and the margin
    assert indexed.tolist() == brute.tolist()


def greedy(vectors: np.ndarray, scores: np.ndarray, threshold: float, n: int) -> list[int]:
    """The quality strategy's definition, record by record: best score first, in if below the threshold to all chosen."""
    chosen: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if len(chosen) == n:
            break
        if not chosen or (vectors[chosen] @ vectors[i]).max() < threshold:
            chosen.append(int(i))
    return chosen


@pytest.mark.parametrize("index", [True, False])
def test_both_paths_pick_what_the_definition_picks(monkeypatch, index):
    vectors, scores = planted(n_topics=400, seed=7)
    pool = make_pool(vectors, scores)
    expected = greedy(pool.vectors, scores, 0.92, 400)
    assert len(expected) == 400  # the budget and its margin are met without relaxing the threshold
    assert picks(pool, 390, index=index, monkeypatch=monkeypatch, threshold=0.92).tolist() == expected


def test_the_same_picks_with_kept_records_floors_caps_and_the_relaxed_phase(monkeypatch):
    vectors, scores = planted(n_topics=300, seed=3)
    n = len(scores)
    rng = np.random.default_rng(1)
    decisions = list(rng.choice(["undecided", "undecided", "undecided", "keep", "reject"], size=n))
    datasets = list(rng.choice(["a", "b", "c"], size=n))
    pool = make_pool(vectors, scores, decisions=decisions, datasets=datasets, reasons=["manual"] * n)
    limits = [Limit("dataset", "a", floor=150), Limit("dataset", "c", cap=100)]
    brute = picks(pool, 0.5, index=False, monkeypatch=monkeypatch, threshold=0.93, limits=limits)
    indexed = picks(pool, 0.5, index=True, monkeypatch=monkeypatch, threshold=0.93, limits=limits)
    assert indexed.tolist() == brute.tolist()


def test_the_index_rejects_candidates_before_the_exact_test_sees_them(monkeypatch):
    """Fails if the filter is removed: with it, the exact test sees a small share of the candidates scanned."""
    vectors, scores = planted()
    seen = []

    def spy(a, b, block=4096):
        seen.append(len(a))
        return max_similarity(a, b, block)

    monkeypatch.setattr(select_strategies, "max_similarity", spy)
    picks(make_pool(vectors, scores), 590, index=False, monkeypatch=monkeypatch, threshold=0.9)
    brute = sum(seen)
    seen.clear()
    picks(make_pool(vectors, scores), 590, index=True, monkeypatch=monkeypatch, threshold=0.9)
    indexed = sum(seen)
    assert brute > 1_500  # without the index nearly every candidate scanned meets the exact test
    assert indexed < brute / 2  # with it, about the picks (600 more picks: the margin, and what `since` rejects)


def test_the_exact_test_sees_only_what_the_index_could_not_reject(monkeypatch):
    vectors, scores = planted(n_topics=200, seed=5)
    monkeypatch.setattr(select_strategies, "BLOCK", 64)
    q = Quality(vectors, scores, threshold=0.9, budget=200, index=True)
    seen = []
    real = select_strategies.max_similarity

    def spy(a, b, block=4096):
        assert len(b) == q.index.size  # the index holds every chosen record the exact test compares with
        assert (q.index.best(a) < 0.9 + select_strategies.SLACK).all()  # none the index could reject
        seen.append(len(a))
        return real(a, b, block)

    monkeypatch.setattr(select_strategies, "max_similarity", spy)
    allowed = np.ones(len(scores), dtype=bool)
    while (i := q.next(allowed)) is not None:
        allowed[i] = False
        q.add([i])
    assert len(seen) > 5 and q.exact_rows == sum(seen) < len(scores) / 2
    sims = vectors[q.chosen] @ vectors[q.chosen].T
    np.fill_diagonal(sims, -1)
    assert len(q.chosen) >= 200 and sims.max() < 0.9  # the picks obey the threshold


def test_the_index_finds_a_real_similarity_and_all_of_it_when_every_list_is_probed():
    rng = np.random.default_rng(0)
    x = unit(rng.normal(size=(3000, 16)))
    index = ChosenIndex.train(x, lists=32, seed=0)
    index.sync(x[:1000])
    index.sync(x[:1500])  # only the 500 new ones are added
    assert index.size == 1500 and sum(len(rows.view()) for rows in index.lists) == 1500
    q = x[1500:]
    truth = max_similarity(q, x[:1500])
    found = index.best(q)
    assert (found <= truth + 1e-5).all()  # a lower bound: a real record's similarity
    assert (np.abs(found - truth) < 1e-5).mean() > 0.3  # and often the best one
    index.probes = 32
    np.testing.assert_allclose(index.best(q), truth, atol=1e-5)  # every list probed: exact
    assert (ChosenIndex.train(x, lists=8).best(q) == -1).all()  # nothing indexed: nothing found


def test_rows_grow_and_read_back_in_order():
    rows = _Rows(3)
    for k in range(40):
        rows.extend(np.full((k % 5, 3), k, dtype=np.float32))
    expected = np.concatenate([np.full((k % 5, 3), k, dtype=np.float32) for k in range(40)])
    np.testing.assert_array_equal(rows.view(), expected)


def test_small_pools_build_no_index():
    vectors, scores = planted(n_topics=50)
    assert Quality(vectors, scores, threshold=0.9).index is None
    assert Quality(vectors, scores, threshold=0.9, index=True).index is not None


def test_near_copies_side_by_side_wait_for_their_original_instead_of_meeting_the_exact_test():
    """Fails without the deferral: each copy that sits next to its original in quality order (as same-length copies
    do) would be compared with every chosen record before the `since` check rejects it."""
    rng = np.random.default_rng(2)
    base = unit(rng.normal(size=(500, 32)))
    vectors = unit(np.repeat(base, 4, axis=0) + rng.normal(scale=0.01, size=(2000, 32)))  # 4 copies a topic, adjacent
    scores = np.repeat(rng.uniform(0, 1, 500), 4) - np.tile(np.arange(4) * 1e-6, 500)
    q = Quality(vectors, scores, threshold=0.9, budget=500, index=True)
    allowed = np.ones(len(scores), dtype=bool)
    while (i := q.next(allowed)) is not None:
        allowed[i] = False
        q.add([i])
    assert len(q.chosen) == 500 and sorted(np.array(q.chosen) // 4) == list(range(500))  # one a topic
    assert q.rejected["since"] > 1000  # the copies: rejected by their original, picked in the same block
    assert q.exact_rows <= 500  # only the originals (less the first block's) met the exact test
