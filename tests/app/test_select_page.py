"""The Select page: plan every strategy in the background, see the trade-off, apply one, undo it as one action."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from curation.store import load_records
from curation.workspace import Workspace
from tests.conftest import ROOT
from tests.curation.test_select_apply import topics  # noqa: F401 (fixture)
from ui import jobs
from ui import select as page
from ui.state import widget_key as W


@pytest.fixture
def app(topics, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CURATION_WORKSPACE", str(topics.root))
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def wait_for_plan(root) -> None:
    end = time.monotonic() + 60
    while time.monotonic() < end:
        running = [j for k, j in jobs._registry().items() if k.startswith(f"select|{root}|")]
        if running and all(j.finished for j in running):
            assert all(j.error is None for j in running), [j.error for j in running]
            return
        time.sleep(0.05)
    raise AssertionError("the plan did not finish")


def decisions(root) -> dict:
    frame = load_records(Workspace(root))
    return frame.groupby(["decision", frame["reason"].fillna("")]).size().to_dict()


def test_plan_compare_apply_and_undo(app, topics):  # noqa: F811
    app.run()
    app.switch_page("pages/select.py").run()
    assert not app.exception and not app.error
    app.number_input(key=W(page.N, "select")).set_value(8).run()
    app.radio(key=W(page.STRATEGY, "select")).set_value("coverage").run()
    app.button(key="select_plan").click().run()
    wait_for_plan(topics.root)
    app.run()
    assert not app.exception and not app.error
    table = app.dataframe[0].value
    assert list(table["strategy"]) == ["quality", "coverage", "random"] and set(table["chosen"]) == {8}
    assert len(app.get("plotly_chart")) >= 3  # the coverage curve, the quality histogram, the mix
    assert any("coverage: 8 chosen" in s.value for s in app.subheader)
    margin = next(d.value for d in app.dataframe if "side" in d.value)
    assert set(margin["side"]) == {"chosen (last in)", "left out (next in line)"}
    apply = app.button(key="select_apply")
    assert apply.label == "Apply: keep 8, reject 52" and apply.disabled  # most of the pool leaves: confirm first
    assert "tick “Reject the 52 records left out”" in apply.help  # the disabled button says why
    app.checkbox(key="select_confirm").check().run()
    app.button(key="select_apply").click().run()
    assert not app.exception and not app.error
    assert decisions(topics.root) == {("keep", "selected:coverage"): 8, ("reject", "not_selected:budget"): 52}
    assert any(i.value.startswith("This plan is applied") for i in app.info)  # its own apply, not "decisions changed"
    app.button(key="select_undo").click().run()
    assert not app.exception and not app.error
    assert any("Decisions changed since this plan" in i.value for i in app.info)  # undone: the plan is stale
    assert decisions(topics.root) == {("undecided", ""): 60}


def test_bad_caps_are_explained(app):
    app.run()
    app.switch_page("pages/select.py").run()
    app.text_input(key=W(page.CAPS, "select")).input("dataset=3").run()
    assert not app.exception
    assert any(e.value.startswith("Could not read the caps and floors: bad cap") for e in app.error)
    assert "select_plan" not in [b.key for b in app.button]  # nothing to plan until the caps read


def test_empty_workspace_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "empty"))
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.run()
    app.switch_page("pages/select.py").run()
    assert not app.exception and "no records yet" in app.info[0].value.lower()


def test_the_request_survives_a_visit_to_another_page(app):
    app.run()
    app.switch_page("pages/select.py").run()
    app.radio(key=W(page.MODE, "select")).set_value("share").run()
    app.number_input(key=W(page.THRESHOLD, "select")).set_value(0.5).run()
    app.text_input(key=W(page.FLOORS, "select")).input("dataset:topics=3").run()
    app.switch_page("pages/records.py").run()
    app.switch_page("pages/select.py").run()
    assert not app.exception and not app.error
    assert app.number_input(key=W(page.THRESHOLD, "select")).value == 0.5
    assert app.number_input(key=W(page.SHARE, "select")).value == 0.1
    assert app.text_input(key=W(page.FLOORS, "select")).value == "dataset:topics=3"
