"""Remove a dataset on the Load page (issue 17): a confirmation that says what goes, then removal; restore it."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curation import decisions, edits
from curation.ingest import ingest
from curation.store import dataset_sizes, load_records
from curation.workspace import Workspace
from tests.conftest import ROOT, write_jsonl


@pytest.fixture
def two(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    ws = Workspace(tmp_path / "ws")
    ingest(ws, write_jsonl(tmp_path / "keep.jsonl", [{"instruction": f"q{i}", "output": f"a{i}"} for i in range(3)]), name="keep")
    ingest(ws, write_jsonl(tmp_path / "wrong.jsonl", [{"instruction": f"w{i}", "output": f"b{i}"} for i in range(4)]), name="wrong")
    frame = load_records(ws)
    wrong = list(frame.loc[frame["dataset"] == "wrong", "record_id"])
    decisions.decide(ws, wrong[:2], "reject", "manual", curator="ana")
    edits.edit(ws, wrong[3], {"output": "fixed"}, curator="ana")
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.switch_page("pages/load.py").run()
    return app, ws


def test_remove_asks_first_saying_what_goes_then_restore_brings_it_all_back(two):
    app, ws = two
    assert not app.exception and not app.error
    app.selectbox(key="w.datasets.choice").select("wrong").run()
    app.button(key="remove_dataset").click().run()
    assert dataset_sizes(ws) == {"keep": 3, "wrong": 4}  # nothing gone before the confirmation
    warning = next(w.value for w in app.warning if "Remove **wrong**" in w.value)
    assert "**4 records**" in warning and "**2 decisions**" in warning and "**1 edits**" in warning
    app.button(key="remove_confirm").click().run()
    assert not app.exception and not app.error
    assert dataset_sizes(ws) == {"keep": 3}
    assert any("**wrong** — 4 records, 2 decisions, 1 edits" in m.value for m in app.markdown)
    assert "wrong" not in app.sidebar.markdown[0].value
    restore = next(b for b in app.button if b.label == "Restore")
    restore.click().run()
    assert not app.exception and not app.error
    assert dataset_sizes(ws) == {"keep": 3, "wrong": 4}
    frame = load_records(ws).set_index("record_id")
    assert (frame["decision"] == "reject").sum() == 2 and "fixed" in set(frame["output"])
    assert not any(b.label == "Restore" for b in app.button)


def test_cancel_removes_nothing(two):
    app, ws = two
    app.button(key="remove_dataset").click().run()
    app.button(key="remove_cancel").click().run()
    assert dataset_sizes(ws) == {"keep": 3, "wrong": 4} and not app.warning
