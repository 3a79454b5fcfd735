"""Histograms binned on the server (issue 18): the browser gets a count per bin, whatever the number of records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ui.charts import binned_histogram


def test_counts_per_bin_not_values_and_every_value_counted():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"length": rng.integers(0, 500, 200_000), "dataset": rng.choice(["a", "b", "c"], 200_000)})
    frame.loc[::1000, "length"] = None  # missing values are left out, not counted as 0
    fig = binned_histogram(frame, "length", "dataset", nbins=60)
    assert len(fig.data) == 3 and all(len(trace.x) == len(trace.y) == 60 for trace in fig.data)
    assert sum(int(sum(trace.y)) for trace in fig.data) == int(frame["length"].notna().sum())
    for trace in fig.data:  # each group's own counts, on the shared bins
        mine = frame.loc[frame["dataset"] == trace.name, "length"].dropna()
        assert int(sum(trace.y)) == len(mine)
    assert len(fig.to_json()) < 20_000  # a million values would be megabytes


def test_percent_per_trace_log_scale_and_a_constant_column():
    frame = pd.DataFrame({"score": [0.5] * 10 + [1.0] * 30, "set": ["pool"] * 30 + ["chosen"] * 10})
    fig = binned_histogram(frame, "score", "set", nbins=4, percent=True)
    assert [round(sum(t.y)) for t in fig.data] == [100, 100]
    assert binned_histogram(frame, "score", log=True).layout.yaxis.type == "log"
    flat = binned_histogram(pd.DataFrame({"q": [3.0] * 5}), "q", nbins=10)
    assert int(sum(flat.data[0].y)) == 5 and not flat.layout.showlegend
