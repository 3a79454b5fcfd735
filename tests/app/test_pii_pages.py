"""Personal data on the pages (issue 16): the Load page's toggle and counts, a record's redactions on Records."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curation.store import load_records
from curation.workspace import Workspace
from tests.conftest import ROOT, write_jsonl
from ui import state
from ui.state import widget_key as W

ROWS = [{"instruction": "Hi, my name is Sarah Jones, email sarah.jones@example.com", "output": "Thanks Sarah."},
        {"instruction": "My card is 4111 1111 1111 1111", "output": "Noted."}]


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def load_path(app, path, source: str):
    app.switch_page("pages/load.py").run()
    app.text_input(key=W(state.LOAD_PATH, "load_data")).input(str(path)).run()
    app.selectbox(key=W(f"{state.LOAD_OPTIONS}.path.source", "load_data")).select(source).run()


def test_load_page_redacts_external_sources_by_default_and_shows_the_counts(app, tmp_path):
    path = write_jsonl(tmp_path / "calls.jsonl", ROWS)
    load_path(app, path, "external")
    toggle = app.toggle(key="load_redact_path.external")
    assert toggle.value is True and toggle.label == "Redact personal data"
    app.button(key="load_path_button").click().run()
    assert not app.exception
    shown = " ".join(i.value for i in app.info)
    assert "Personal data redacted" in shown and "1 card" in shown and "1 email" in shown
    assert "counted in every record and field it appears in" in shown  # why the counts exceed the values in the source
    assert "a call's earlier turns" not in shown  # said of transcripts only
    frame = load_records(Workspace(tmp_path / "ws"))
    assert "sarah.jones@example.com" not in " ".join(frame["instruction"])
    app.button(key="load_path_button").click().run()  # again: every record already present, nothing stored
    assert any("0 records added" in s.value for s in app.success) and not any("Personal data" in i.value for i in app.info)

    app.switch_page("pages/records.py").run()
    assert not app.exception
    expanders = [e.label for e in app.expander]
    assert "Personal data redacted in 2 of these records" in expanders  # counted per source file
    per_source = next(d.value for d in app.dataframe if "records" in d.value.columns and "file" in d.value.columns)
    assert list(per_source["records"]) == [2] and list(per_source["email"]) == [1] and list(per_source["card"]) == [1]
    assert any(label.startswith("Personal data redacted:") for label in expanders)  # the record's own list
    tables = [d.value for d in app.dataframe if "placeholder" in d.value.columns]
    assert tables and set(tables[0]["field"]) <= {"instruction", "output"}
    assert not any("sarah" in str(v).lower() for t in tables for v in t.to_numpy().ravel())


def test_load_page_toggle_is_off_for_human_data_and_can_be_turned_off(app, tmp_path):
    path = write_jsonl(tmp_path / "calls.jsonl", ROWS)
    load_path(app, path, "human")
    assert app.toggle(key="load_redact_path.human").value is False
    app.button(key="load_path_button").click().run()
    assert not app.exception and not any("Personal data" in i.value for i in app.info)
    assert "sarah.jones@example.com" in " ".join(load_records(Workspace(tmp_path / "ws"))["instruction"])

    other = write_jsonl(tmp_path / "other.jsonl", ROWS)
    load_path(app, other, "external")
    app.toggle(key="load_redact_path.external").set_value(False).run()
    app.button(key="load_path_button").click().run()
    assert not app.exception
    frame = load_records(Workspace(tmp_path / "ws"))
    assert "sarah.jones@example.com" in " ".join(frame[frame["dataset"] == "other"]["instruction"])
