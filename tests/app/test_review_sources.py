"""Queues opened where the curator looks (issue 17): a duplicate group, the Select page's margin, the Map's actions
(an Undo for exactly what the action changed)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curation import decisions, dedup
from curation.demo import load_demo
from curation.store import load_records
from curation.workspace import Workspace
from tests.app.test_select_page import wait_for_plan
from tests.conftest import ROOT
from tests.curation.test_select_apply import topics  # noqa: F401 (fixture)
from ui import select as select_page
from ui import show, state
from ui.state import widget_key as W


def queue_of(app) -> tuple[str, dict]:
    name = app.session_state[state.REVIEW_QUEUE]
    return name, app.session_state[state.REVIEW_QUEUES][name]


def test_a_duplicate_group_opens_as_a_queue_with_the_groups_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    ws = Workspace(tmp_path / "ws")
    load_demo(ws)
    dedup.save_settings(ws, method="exact")
    from curation.annotated import find_signals

    find_signals(ws, compute=True)  # the representative rule's signal: the pages read groups only with it cached
    found = dedup.find(ws)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.switch_page("pages/duplicates.py").run()
    assert not app.exception and not app.error
    button = next(b for b in app.button if (b.key or "").startswith("review_group_"))
    group = int(button.key.removeprefix("review_group_"))
    members = found.members(group)
    button.click().run()
    assert app.title[0].value == "Review" and not app.exception and not app.error
    name, queue = queue_of(app)
    rep = members.loc[members["representative"] == True, "record_id"].iloc[0]  # noqa: E712
    assert name == f"Duplicate group {group}" and queue["ids"] == list(members["record_id"])
    assert queue["reason"] == f"near_duplicate_of:{rep}"
    assert any(f"duplicate group {group} (representative: rejecting it makes another member represent the group" in c.value
               for c in app.caption)


def test_the_select_margin_opens_as_a_queue(topics, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CURATION_WORKSPACE", str(topics.root))
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.switch_page("pages/select.py").run()
    app.number_input(key=W(select_page.N, "select")).set_value(8).run()
    app.button(key="select_plan").click().run()
    wait_for_plan(topics.root)
    app.run()
    margin = next(d.value for d in app.dataframe if "side" in d.value)
    app.button(key="review_margin").click().run()
    assert app.title[0].value == "Review" and not app.exception and not app.error
    name, queue = queue_of(app)
    assert name.startswith("Select margin: ") and queue["ids"] == list(margin["record_id"])


@pytest.fixture
def small_ws(tmp_path, monkeypatch):
    from curation.ingest import ingest
    from tests.conftest import write_jsonl

    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    ws = Workspace(tmp_path / "ws")
    ingest(ws, write_jsonl(tmp_path / "rows.jsonl", [{"instruction": f"q{i}", "output": f"a{i}"} for i in range(30)]), name="rows")
    return ws


def action_bar_app(ids: list[str]):
    """The Map's action bar alone (AppTest cannot lasso on a Plotly chart; the browser journey does)."""
    def script(ids):
        from ui import act, state
        from ui.data import workspace

        state.init()
        act.action_bar(workspace(), ids, label="cluster:x", what="a lasso", key="lasso", queue="Map: a lasso")

    return AppTest.from_function(script, default_timeout=60, kwargs={"ids": ids})


def test_the_map_action_bar_undoes_exactly_the_records_its_action_changed(small_ws):
    ws = small_ws
    ids = list(load_records(ws)["record_id"])
    decisions.decide(ws, ids[:3], "reject", "cluster:x", curator="ana")  # already rejected for this reason: left alone
    decisions.decide(ws, ids[3:5], "keep", "manual", curator="ana")  # kept before: the undo brings that back
    decisions.decide(ws, ids[20:22], "keep", "manual", curator="ana")  # outside the action: never touched
    app = action_bar_app(ids[:10])
    app.run()
    app.button(key="lasso_reject").click().run()
    assert not app.exception and not app.error
    frame = load_records(ws).set_index("record_id")
    assert (frame.loc[ids[:10], "decision"] == "reject").all()
    assert any(c.value == "Last action here: " + show.plain("reject 7 record(s) (a lasso, reason cluster:x).")[:-1] + "."
               for c in app.caption)
    decisions.decide(ws, ids[21:22], "reject", "manual", curator="ana")  # a later decision elsewhere stays
    app.button(key="lasso_undo_last").click().run()
    assert not app.exception and not app.error
    frame = load_records(ws).set_index("record_id")
    assert (frame.loc[ids[:3], "decision"] == "reject").all()  # not changed by the action: still rejected
    assert list(frame.loc[ids[3:5], "decision"]) == ["keep", "keep"]
    assert (frame.loc[ids[5:10], "decision"] == "undecided").all()
    assert list(frame.loc[ids[20:22], "decision"]) == ["keep", "reject"]
    assert not any("Last action here" in c.value for c in app.caption)  # one action, one undo


def test_the_review_page_opens_a_duplicate_group_too(tmp_path, monkeypatch):
    from curation.annotated import find_signals

    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    ws = Workspace(tmp_path / "ws")
    load_demo(ws)
    dedup.save_settings(ws, method="exact")
    find_signals(ws, compute=True)
    found = dedup.find(ws)
    group = int(found.groups()["dup_group"].iloc[0])
    members = list(found.members(group)["record_id"])
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.switch_page("pages/review.py").run()
    app.selectbox(key="w.review.start").select(f"duplicate group {group} ({len(members)} records)").run()
    app.button(key="review_start").click().run()
    assert not app.exception and not app.error
    name, queue = queue_of(app)
    assert name == f"Duplicate group {group} ({len(members)} records)" and sorted(queue["ids"]) == sorted(members)
