"""Edit instead of reject (issue 17), in the dashboard: fields edited in place in the review queue and on the Records
page, the version history with who changed what, revert, and a bulk fix shown as a dry run before it applies."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from curation import edits
from curation.ingest import ingest
from curation.store import load_records
from curation.workspace import Workspace
from tests.conftest import ROOT, write_jsonl
from ui import state
from ui.state import widget_key as W

ROWS = [
    {"instruction": "Name the capital of France.", "output": "Pariss."},
    {"instruction": "Say hello in Spanish.", "output": "Hola.<|endoftext|>"},
    {"instruction": "Count to three.", "output": "One, two, three.<|endoftext|>"},
    {"instruction": "Greet the user by name.", "output": "Hello {{name}}, welcome!"},
    {"instruction": "Name a colour.", "output": "Teal"},
]


@pytest.fixture
def small(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("CURATION_CURATOR", raising=False)
    monkeypatch.chdir(ROOT)
    ws = Workspace(tmp_path / "ws")
    ingest(ws, write_jsonl(tmp_path / "small.jsonl", ROWS), name="small")
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.run()
    app.text_input(key=W(state.CURATOR, "records")).input("bea").run()
    return app, ws


def rid_of(ws, instruction: str) -> str:
    frame = load_records(ws)
    return frame.loc[frame["instruction"] == instruction, "record_id"].iloc[0]


def test_edit_a_record_in_the_review_queue_see_its_history_and_revert_it(small):
    app, ws = small
    app.text_input(key=W(state.SEARCH, "records")).input("capital").run()
    app.button(key="review_matching").click().run()
    assert app.title[0].value == "Review" and not app.exception and not app.error
    rid = rid_of(ws, "Name the capital of France.")
    output = next(t for t in app.text_area if t.label == "Output")
    assert output.value == "Pariss."
    output.input("Paris.")
    next(b for b in app.button if b.label == "Save the edit").click().run()
    assert not app.exception and not app.error
    assert load_records(ws).set_index("record_id").loc[rid, "output"] == "Paris."
    history = edits.edit_history(ws, rid)
    assert [v["version"] for v in history] == [0, 1] and history[1]["curator"] == "bea" and history[1]["fields"] == ["output"]
    assert "Paris." in [c.value for c in app.code]  # the page reads the new version
    table = next(d.value for d in app.dataframe if "now reads" in d.value.columns)
    assert list(table["version"]) == [0, 1] and list(table["curator"]) == ["", "bea"] and table["now reads"].iloc[1] == "Paris."
    next(b for b in app.button if b.label == "Revert the latest edit").click().run()
    assert not app.exception and not app.error
    assert load_records(ws).set_index("record_id").loc[rid, "output"] == "Pariss."
    assert "Pariss." in [c.value for c in app.code] and len(edits.edit_history(ws, rid)) == 3


def test_edit_on_the_records_page_record_view(small):
    app, ws = small
    app.text_input(key=W(state.SEARCH, "records")).input("colour").run()
    next(t for t in app.text_area if t.label == "Output").input("Teal, a blue-green.")
    next(b for b in app.button if b.label == "Save the edit").click().run()
    assert not app.exception and not app.error
    rid = rid_of(ws, "Name a colour.")
    assert load_records(ws).set_index("record_id").loc[rid, "output"] == "Teal, a blue-green."
    assert edits.edit_history(ws, rid)[1]["curator"] == "bea"


def test_a_bulk_fix_previews_its_count_and_sample_then_applies_as_versioned_edits(small):
    app, ws = small
    app.button(key="fix.records.dry").click().run()  # the first fix: strip_end_marker, on the 5 records of the filter
    assert not app.exception and not app.error
    assert any("**2** of 2 matching records would change" in m.value for m in app.markdown)
    sample = next(d.value for d in app.dataframe if list(d.value.columns) == ["record_id", "field", "before", "after"])
    assert sorted(sample["after"]) == ["Hola.", "One, two, three."]
    assert (load_records(ws)["output"].str.contains("<|endoftext|>", regex=False)).sum() == 2  # a dry run changes nothing
    app.button(key="fix.records.apply").click().run()
    assert not app.exception and not app.error
    frame = load_records(ws)
    assert not frame["output"].str.contains("<|endoftext|>", regex=False).any()
    history = edits.edit_history(ws, rid_of(ws, "Say hello in Spanish."))
    assert history[-1]["reason"] == "fix:strip_end_marker" and history[-1]["curator"] == "bea"


def test_fill_placeholder_asks_for_a_value_and_an_error_is_a_message(small):
    app, ws = small
    app.selectbox(key="fix.records").select("fill_placeholder").run()
    app.button(key="fix.records.dry").click().run()
    assert not app.exception
    assert any("needs a value" in e.value for e in app.error)
    app.text_input(key="fix.records.value").input("Alex").run()
    app.button(key="fix.records.dry").click().run()
    app.button(key="fix.records.apply").click().run()
    assert not app.exception and not app.error
    assert load_records(ws).set_index("record_id").loc[rid_of(ws, "Greet the user by name."), "output"] == "Hello Alex, welcome!"
