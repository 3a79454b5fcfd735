"""Issue 18: the review columns look up only the records that have an entry (no map over every record id)."""

from __future__ import annotations

import pandas as pd

from curation import decisions
from curation.annotated import _lookup, with_review
from curation.ingest import ingest
from curation.store import read_records
from curation.workspace import Workspace


def test_lookup_only_maps_the_ids_in_the_table(monkeypatch):
    ids = pd.Series([f"r{i}" for i in range(1000)])
    mapped = []
    real = pd.Series.map

    def spy(self, arg, *a, **kw):
        mapped.append(len(self))
        return real(self, arg, *a, **kw)

    monkeypatch.setattr(pd.Series, "map", spy)
    assert list(_lookup(ids, {}, None)) == [None] * 1000
    got = _lookup(ids, {"r3": "ann", "r999": "bo", "absent": "x"}, None)
    assert got[3] == "ann" and got[999] == "bo" and sum(v is not None for v in got) == 2
    assert mapped == [2]  # the two ids present, not 1000


def test_review_columns_unchanged(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("".join(f'{{"prompt": "q{i}", "completion": "a{i}"}}\n' for i in range(5)))
    ws = Workspace(tmp_path / "ws")
    ingest(ws, data, name="d")
    frame = read_records(ws)
    rid = frame["record_id"].iloc[1]
    decisions.decide(ws, [rid], "keep", "manual", curator="ann")
    out = with_review(ws, frame)
    assert list(out["curator"].isna()) == [True, False, True, True, True] and out["curator"].iloc[1] == "ann"
    assert list(out["edit_version"]) == [0] * 5 and out["edit_version"].dtype.kind == "i"
    assert out["selection"].isna().all()
