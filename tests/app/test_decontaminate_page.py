"""AppTest: the Load page's protected toggle and the Export page's policy controls (protected sets, blocking flags)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curation import decontaminate
from curation.export.policy import blocking_flags
from curation.ingest import ingest
from curation.workspace import Workspace
from tests.conftest import ROOT, write_jsonl
from tests.curation.test_export_policy import EVAL, TRAIN
from ui import state
from ui.state import widget_key as W


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def test_load_page_protects_an_evaluation_set(app, tmp_path):
    path = write_jsonl(tmp_path / "bench.jsonl", EVAL)
    app.switch_page("pages/load.py").run()
    app.text_input(key=W(state.LOAD_PATH, "load_data")).input(str(path)).run()
    app.toggle(key="load_protected_path").set_value(True).run()
    app.button(key="load_path_button").click().run()
    assert not app.exception and "Protected: an evaluation set" in app.success[0].value
    assert decontaminate.protected_datasets(Workspace(tmp_path / "ws")) == ("bench",)


def test_export_page_protects_sets_blocks_flags_and_shows_the_matches(app, tmp_path):
    ws = Workspace(tmp_path / "ws")
    ingest(ws, str(write_jsonl(tmp_path / "train.jsonl", TRAIN)))
    ingest(ws, str(write_jsonl(tmp_path / "bench.jsonl", EVAL)))
    app.switch_page("pages/export.py").run()
    app.toggle(key=W(state.EXPORT_SIMILARITY, "export")).set_value(False).run()
    assert not app.exception and any(w.value.startswith("No evaluation set is protected") for w in app.warning)  # a sentence
    app.multiselect(key="export_protected").select("bench").run()
    assert not app.exception and decontaminate.protected_datasets(ws) == ("bench",)
    excluded = app.dataframe[0].value
    assert dict(zip(excluded["reason"], excluded["records"])) == {"contaminated": 1, "protected": 1}
    assert any("1 training records match a protected evaluation item" in w.value for w in app.warning)
    app.multiselect(key="export_blocking").select("refusal").run()
    assert blocking_flags(ws) == ("empty_output", "refusal")  # empty_output: blocking by default
    excluded = app.dataframe[0].value
    assert dict(zip(excluded["reason"], excluded["records"]))["blocked:refusal"] == 1
    app.button(key="export_show_matches").click().run()
    assert not app.exception
    assert any("sheep" in h.proto.body and "<mark>" in h.proto.body for h in app.get("html"))
    app.toggle(key="export_keep_contaminated").set_value(True).run()
    excluded = app.dataframe[0].value
    assert "contaminated" not in set(excluded["reason"])
