"""Issue 18: the Records and Review pages stay interactive at 1M records. A rerun after a decision must not join the
cached columns again nor find the duplicate groups again unless the decision can change them; what it shows is never
stale. (Counted calls, no timings.)"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from curation import decisions, dedup, edits, embed
from curation.annotated import annotate, decision_columns, find_duplicates, find_signals, regroup_duplicates
from curation.atlas import build
from curation.dedup.detect import groupable_rows
from curation.demo import load_demo
from curation.embed import Embedder
from curation.store import load_records, read_records
from curation.workspace import Workspace
from tests.conftest import ROOT
from ui import data, state
from ui.state import widget_key as W


def hashed_embedder(ws, name="minilm") -> Embedder:
    """A deterministic fake model: where a record sits on the map does not matter here."""

    def encode(texts):
        vectors = np.array([np.frombuffer(hashlib.sha256(t.encode()).digest()[:16], dtype=np.uint8) for t in texts], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    return Embedder(name, encode, 16, batch_size=64)


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """The demo with signals, a map and exact duplicate groups cached, and the dashboard on it."""
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("CURATION_CURATOR", raising=False)
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(embed, "get_embedder", hashed_embedder)
    ws = Workspace(tmp_path / "ws")
    load_demo(ws)
    find_signals(ws, compute=True)
    build(ws, load_records(ws))
    dedup.save_settings(ws, method="exact")
    found = dedup.find(ws)
    return ws, found


def counting(monkeypatch, module, name: str) -> list:
    calls = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def matching(app) -> int:
    return int(next(c.value for c in app.caption if " records match" in c.value).split(" of ")[0].replace(",", ""))


def test_decision_columns_equal_the_decisions_stage_of_annotate(cached):
    ws, _ = cached
    ids = list(read_records(ws)["record_id"])
    decisions.decide(ws, ids[:3], "keep", "manual", curator="ana")
    decisions.decide(ws, ids[3:5], "reject", "off_topic", curator="bea")
    edits.edit(ws, ids[7], {"output": "An edited answer."}, curator="ana")
    frame = read_records(ws)
    expected = annotate(ws, frame, stages=("decisions",))
    laid = pd.concat([frame.assign(record_id=frame["record_id"].astype(object)),
                      decision_columns(ws, pd.Index(frame["record_id"]))], axis=1)
    pd.testing.assert_frame_equal(laid, expected)
    assert decision_columns(ws, pd.Index([ids[0], ids[0]])) is None  # repeated ids: the caller joins plainly


def test_the_cached_join_equals_the_plain_join_with_every_stage(cached):
    ws, found = cached
    ids = list(read_records(ws)["record_id"])
    decisions.decide(ws, ids[:2], "keep", "manual", curator="ana")
    member = found.table.dropna(subset=["dup_group"])["record_id"].iloc[0]
    decisions.decide(ws, [member], "keep", "manual")  # a group member: the groups are found again
    expected = annotate(ws)
    got = data.with_cached_columns(ws, data.records(ws))  # records(ws) itself: the cached join
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got, expected)
    filtered = data.records(ws).iloc[:10]  # any other frame: joined plainly with the cached results, as before
    known = {"signals": data.cached_signals(ws), "map": data.cached_map(ws), "dedup": data.cached_duplicates(ws)}
    pd.testing.assert_frame_equal(data.with_cached_columns(ws, filtered), annotate(ws, filtered, known=known))


def test_a_decision_on_records_joins_nothing_again_and_shows_at_once(cached, monkeypatch):
    ws, found = cached
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.run()
    assert not app.exception and not app.error and "flags" in data.annotated_records(ws)
    joins, finds = counting(monkeypatch, data, "annotate"), counting(monkeypatch, data, "find_duplicates")
    app.multiselect(key=W(state.DECISIONS, "records")).set_value(["keep"]).run()
    assert matching(app) == 0
    app.multiselect(key=W(state.DECISIONS, "records")).set_value([]).run()
    can_group = set(found.frame["record_id"].to_numpy()[groupable_rows(len(found.frame), found.pairs, found.hashes)])
    rid = next(i for i in data.records(ws)["record_id"][:25] if i not in can_group)  # on the first page, in no pair
    app.selectbox(key=W(state.RECORD, "records")).set_value(rid).run()
    app.button(key="one_keep").click().run()
    assert not app.exception and not app.error
    assert any(m.value.startswith("Decision: **keep") for m in app.markdown)  # the decision shows on the next run
    app.multiselect(key=W(state.DECISIONS, "records")).set_value(["keep"]).run()
    assert matching(app) == 1
    assert joins == [] and finds == []  # neither the cached columns were joined again nor the groups found again


def test_a_decision_on_a_group_member_chooses_its_representative_again(cached, monkeypatch):
    ws, found = cached
    groups = found.table.dropna(subset=["dup_group"])
    member = groups[groups["representative"] == False]["record_id"].iloc[0]  # noqa: E712 - nullable boolean column
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.run()
    finds = counting(monkeypatch, data, "find_duplicates")
    app.text_input(key=W(state.SEARCH, "records")).input(data.records(ws).set_index("record_id").loc[member, "output"][:40]).run()
    app.selectbox(key=W(state.RECORD, "records")).set_value(member).run()
    app.button(key="one_keep").click().run()  # a curator's keep makes it its group's representative
    assert not app.exception and not app.error and finds == []  # chosen again from the groups found, not found again
    frame = data.annotated_records(ws).set_index("record_id")
    assert bool(frame.loc[member, "representative"]) and frame.loc[member, "representative_id"] == member
    assert (frame[frame["dup_group"] == frame.loc[member, "dup_group"]]["representative_id"] == member).all()


def test_review_keys_join_nothing_again_and_progress_counts_each_decision(cached, monkeypatch):
    ws, _ = cached
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.switch_page("pages/review.py").run()
    flag = next(o for o in app.selectbox(key="w.review.start").options if o.startswith("flag "))
    app.selectbox(key="w.review.start").set_value(flag).run()
    app.button(key="review_start").click().run()
    app.switch_page("pages/review.py").run()
    joins = counting(monkeypatch, data, "annotate")
    app.button(key="review_keep").click().run()
    app.button(key="review_skip").click().run()
    app.button(key="review_reject").click().run()
    assert not app.exception and not app.error
    assert app.get("progress")[0].proto.text.startswith("Record 4 of ")
    assert " · 2 decided (1 kept, 1 rejected) · 1 skipped" in app.get("progress")[0].proto.text
    assert joins == []
    app.button(key="review_previous").click().run()
    app.button(key="review_previous").click().run()
    app.button(key="review_keep").click().run()  # the skipped one, kept now
    assert " · 3 decided (2 kept, 1 rejected) · 0 skipped" in app.get("progress")[0].proto.text


def test_regrouping_after_decisions_equals_finding_the_groups_again(cached):
    ws, _ = cached
    frame = annotate(ws, stages=("decisions",))
    found = find_duplicates(ws, frame)
    groups = found.table.dropna(subset=["dup_group"])
    members = list(groups[groups["representative"] == False]["record_id"][:3])  # noqa: E712 - nullable boolean column
    reps = list(groups[groups["representative"] == True]["record_id"][:2])  # noqa: E712
    decisions.decide(ws, members, "keep", "manual")
    decisions.decide(ws, reps, "reject", "off_topic")
    now = annotate(ws, stages=("decisions",))
    again, regrouped = find_duplicates(ws, now), regroup_duplicates(found, now)
    pd.testing.assert_frame_equal(regrouped.table, again.table)
    assert (regrouped.rank == again.rank).all() and not found.table.equals(again.table)
    assert regroup_duplicates(found, now.iloc[1:]) is None  # other records: find them again instead
