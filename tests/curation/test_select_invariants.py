"""Invariants of every selection, whatever the pool, the decisions, the budget and the limits (Hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation.errors import CurationError
from curation.select import Limit, plan
from tests.curation.test_select import make_pool


@st.composite
def requests(draw):
    n = draw(st.integers(3, 40))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 6)).astype(np.float32)
    if draw(st.booleans()):
        vectors[: n // 2] = vectors[0] + 0.01 * rng.normal(size=(n // 2, 6))  # a block of near copies
    decisions = draw(st.lists(st.sampled_from(["undecided", "undecided", "keep", "reject"]), min_size=n, max_size=n))
    datasets = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    limits = draw(st.lists(st.builds(Limit, st.just("dataset"), st.sampled_from(["a", "b", "c", "*"]),
                                     st.one_of(st.none(), st.integers(0, 5)), st.one_of(st.none(), st.integers(0, 8))),
                           max_size=3))
    limits = [lim for lim in limits if lim.group == "*" or lim.group in datasets]
    return (make_pool(vectors, rng.uniform(0, 1, n), datasets=datasets, decisions=decisions, reasons=["manual"] * n),
            draw(st.integers(1, n + 3)), draw(st.sampled_from(["quality", "coverage", "random"])), limits, seed)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_every_selection_keeps_the_rules(request):
    pool, budget, strategy, limits, seed = request
    try:
        sel = plan(pool, budget, strategy, limits=limits, seed=seed, threshold=0.95)
    except CurationError as exc:
        assert "floors add up" in str(exc)
        return
    status = pool.status
    chosen = sel.chosen
    assert len(set(chosen)) == len(chosen) == sel.info["chosen"]
    assert set(np.flatnonzero(status == "kept")) <= set(chosen)  # kept: always in
    assert not (status[chosen] == "rejected").any()  # rejected: never
    assert len(chosen) <= max(budget, (status == "kept").sum())
    assert not set(sel.margin) & set(chosen) and not (status[sel.margin] != "candidate").any()
    counts = pd.Series(pool.frame["dataset"].to_numpy()[chosen]).value_counts()
    kept_counts = pd.Series(pool.frame["dataset"].to_numpy()[status == "kept"]).value_counts()
    for lim in limits:
        for group in (["a", "b", "c"] if lim.group == "*" else [lim.group]):
            if lim.cap is not None and group in set(pool.frame["dataset"]):
                assert counts.get(group, 0) <= max(lim.cap, kept_counts.get(group, 0)), (lim, group)
    short = {(s["group"]) for s in sel.info["floors_short"]}
    for lim in limits:
        for group in (["a", "b", "c"] if lim.group == "*" else [lim.group]):
            if lim.floor and group in set(pool.frame["dataset"]) and group not in short:
                caps = [x.cap for x in limits if x.cap is not None and x.group in (group, "*")]
                assert counts.get(group, 0) >= min([lim.floor, *caps]), (lim, group)
    if not limits:  # without limits the budget is filled while candidates remain
        eligible = int(np.isin(status, ("kept", "candidate")).sum())
        assert len(chosen) == min(max(budget, (status == "kept").sum()), eligible)
    decided = {rid for rid, _, _ in sel.decisions()}
    assert decided == set(pool.frame["record_id"][status == "candidate"])
