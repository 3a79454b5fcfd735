"""Issue 18: on the Records and Review pages, a keep on a record in a duplicate group regroups only the components of
the records decided since the groups shown last (not of every decision since the find), and shows the groups a fresh
find gives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from curation import decisions
from curation.annotated import annotate, find_duplicates
from curation.dedup import groups
from tests.app.test_pages_scale import cached  # noqa: F401 - the fixture: the demo with signals, map and exact groups
from ui import data


def test_each_keep_regroups_only_the_components_decided_since_the_last_regroup(cached, monkeypatch):  # noqa: F811
    ws, found = cached
    data.annotated_records(ws)  # the groups found (and the local regroup prepared) as the page does on its first run
    table = found.table
    members = table[(table["representative"] == False).fillna(False)]  # noqa: E712 - nullable boolean column
    first, second = members.drop_duplicates("dup_group")["record_id"].iloc[:2]
    changed = []
    real = groups.regroup_components
    monkeypatch.setattr(groups, "regroup_components", lambda state, rows, *a: changed.append(sorted(rows)) or real(state, rows, *a))
    rows = data.positions(ws, [first, second]).tolist()
    for rid in (first, second):
        decisions.decide(ws, [rid], "keep", "manual")
        shown = data.annotated_records(ws).set_index("record_id")
        assert bool(shown.loc[rid, "representative"])  # the kept member represents its group now
    assert changed == [[rows[0]], [rows[1]]]  # the second keep: its own record only, not the first one's again
    fresh = find_duplicates(ws, annotate(ws, stages=("decisions",))).table
    got = data.annotated_records(ws)[fresh.columns.drop("record_id")]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), fresh.drop(columns="record_id").reset_index(drop=True),
                                  check_dtype=False)
    assert np.array_equal(data.annotated_records(ws)["record_id"].to_numpy(object), fresh["record_id"].to_numpy(object))
