"""The Records page's review filters (issue 17): by curator, reason, duplicate group, selection and edit state, through
the library's Filter; the filtered set opens as a review queue named by its filter."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curation import decisions, dedup, edits
from curation.demo import load_demo
from curation.store import load_records
from curation.workspace import Workspace
from tests.conftest import ROOT
from ui import state
from ui.state import widget_key as W


@pytest.fixture
def decided(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    ws = Workspace(tmp_path / "ws")
    load_demo(ws)
    ids = list(load_records(ws)["record_id"])
    decisions.decide(ws, ids[:5], "keep", "manual", curator="ana")
    decisions.decide(ws, ids[5:8], "reject", "off_topic", curator="bea")
    decisions.decide(ws, ids[8:10], "reject", "near_duplicate_of:" + ids[0], curator="bea")
    edits.edit(ws, ids[20], {"output": "An edited answer."}, curator="ana")
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.run()
    return app, ws, ids


def matching(app) -> int:
    return int(app.caption[0].value.split(" of ")[0].replace(",", ""))


def test_filter_by_curator_reason_and_edit_state_then_review_them(decided):
    app, ws, ids = decided
    assert not app.exception and not app.error
    app.selectbox(key=W(state.CURATOR_FILTER, "records")).select("bea").run()
    assert matching(app) == 5
    app.multiselect(key=W(state.REASONS, "records")).select("near_duplicate_of").run()
    assert matching(app) == 2  # by code: every near_duplicate_of:<id>
    app.button(key="review_matching").click().run()
    assert app.title[0].value == "Review"
    name = app.session_state[state.REVIEW_QUEUE]
    assert name == "Records: reason near_duplicate_of · decided by bea"
    assert app.session_state[state.REVIEW_QUEUES][name]["ids"] == ids[8:10]
    app.switch_page("pages/records.py").run()
    app.selectbox(key=W(state.CURATOR_FILTER, "records")).select("any").run()
    app.multiselect(key=W(state.REASONS, "records")).unselect("near_duplicate_of").run()
    assert matching(app) == 241
    app.radio(key=W(state.EDITED_FILTER, "records")).set_value("edited").run()
    assert matching(app) == 1 and "An edited answer." in [c.value for c in app.code]
    app.radio(key=W(state.EDITED_FILTER, "records")).set_value("not edited").run()
    assert matching(app) == 240


def test_filter_by_duplicate_group(decided):
    app, ws, _ = decided
    dedup.save_settings(ws, method="exact")
    from curation.annotated import find_signals

    find_signals(ws, compute=True)  # the representative rule's signal: the pages read groups only with it cached
    found = dedup.find(ws)
    app.run()
    group = int(found.groups()["dup_group"].iloc[0])
    app.selectbox(key=W(state.DUP_GROUP_FILTER, "records")).select(group).run()
    assert not app.exception and not app.error
    assert matching(app) == len(found.members(group)) > 1
