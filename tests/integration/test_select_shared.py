"""Budgeted selection on real data (../shared/data, skipped when absent) with the bundled MiniLM."""

from __future__ import annotations

import numpy as np

from curation import select, select_view
from curation.ingest import ingest
from curation.store import load_records


def test_strategies_on_alpaca_and_identity(ws, shared_data):
    ingest(ws, shared_data / "alpaca/alpaca_data_cleaned_1000.json")
    ingest(ws, shared_data / "chat/identity.json")  # 91 near-identical "who are you" records with {{name}} placeholders
    pool = select.load_pool(ws)
    assert pool.info["candidate"] == 1091 and pool.info["model"] == "minilm"
    plans = {s: select.plan(pool, 50, s) for s in select.STRATEGIES}
    table = select_view.compare(pool, list(plans.values())).set_index("strategy")
    assert table.loc["coverage", "coverage"] > table.loc["random", "coverage"]
    assert table.loc["quality", "mean quality"] > table.loc["random", "mean quality"]
    identity = (pool.frame["dataset"] == "identity").to_numpy()
    chosen = plans["quality"].chosen
    vectors = pool.vectors[chosen]
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1)
    assert sims.max() < select.THRESHOLDS["minilm"] and plans["quality"].info["relaxed"] == 0  # no two chosen are paraphrases
    assert identity[chosen].sum() <= 3  # the identity records are near copies of each other: few of them join

    capped = select.plan(pool, 50, "coverage", limits=[select.Limit("dataset", "identity", floor=5),
                                                         select.Limit("dataset", "alpaca_data_cleaned_1000", cap=40)])
    assert identity[capped.chosen].sum() == 10 and capped.chosen_n == 50

    select.apply(ws, capped)
    frame = load_records(ws)
    assert (frame["reason"] == "selected:coverage").sum() == 50 and (frame["reason"] == select.NOT_SELECTED).sum() == 1041
    select.undo_last(ws)
    assert set(load_records(ws)["decision"]) == {"undecided"}
