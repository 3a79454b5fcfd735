"""The Load page's "Transcripts" section (issue 16): read a folder, see speakers and their guessed roles, change one,
see each shape's counts, load; bad input is a message, never a traceback."""

from __future__ import annotations

import orjson
import pytest
from streamlit.testing.v1 import AppTest

from curation.demo import HERE as DEMO_DIR
from curation.ingest import ingest
from curation.store import load_records
from curation.transcripts import inspect
from curation.workspace import Workspace
from tests.conftest import ROOT
from ui.state import widget_key as W
from ui.transcripts_load import PREFIX

PAGE = "load_data"
DEMO = DEMO_DIR / "transcripts"


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def read(app, path) -> None:
    app.switch_page("pages/load.py").run()
    app.text_input(key=W(f"{PREFIX}.path", PAGE)).input(str(path)).run()
    app.button(key="w.load.transcripts.read").click().run()


def preview(app):
    return next(d.value for d in app.dataframe if "shape" in d.value.columns).set_index("shape")


def test_transcripts_section_reads_guesses_roles_previews_shapes_and_loads(app, tmp_path):
    read(app, DEMO)
    assert not app.exception and not app.error
    role = app.selectbox(key="w.load.transcripts.role.SPEAKER_01")
    assert role.value == "user" and app.selectbox(key="w.load.transcripts.role.Priya (Agent)").value == "assistant"
    before = preview(app)
    assert before.loc["turns", "records"] > before.loc["conversation", "records"] > 0
    role.select("assistant").run()  # the curator says this meeting speaker answers too
    after = preview(app)
    assert not app.exception and after.loc["turns", "records"] != before.loc["turns", "records"]
    app.radio(key=W(f"{PREFIX}.shape", PAGE)).set_value("turns").run()
    app.button(key="w.load.transcripts.load").click().run()
    assert not app.exception and not app.error
    assert any(f"{after.loc['turns', 'records']:,} records added" in s.value for s in app.success)
    assert any("(format vtt, srt, text, whisper transcripts)" in s.value for s in app.success)  # one word per format
    assert any("a call's earlier turns repeat in each of its turn records" in i.value for i in app.info)  # why 100+ names
    frame = load_records(Workspace(tmp_path / "ws"))
    assert len(frame) == after.loc["turns", "records"] and set(frame["source"]) == {"external"}
    metas = [orjson.loads(m) for m in frame["meta"]]
    assert {m["shape"] for m in metas} == {"turns"}
    assert any(m["roles"].get("SPEAKER_01") == "assistant" for m in metas)


def test_transcripts_section_shows_problems_and_loads_the_rest(app, tmp_path):
    bad = tmp_path / "bad.vtt"
    bad.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\n<v Agent>Hi\n\n00:00:02.000 --> 00:00:03.000\n<v Customer>Help?\n\n"
                   "00:00:04.000 --> 00:00:05.000\n<v Agent>Sure.\n", encoding="utf-8")
    read(app, bad)
    assert not app.exception and any("1 problem" in w.value for w in app.warning)
    problems = next(d.value for d in app.dataframe if "line" in d.value.columns)
    assert problems[["file", "line"]].values.tolist() == [["bad.vtt", "3"]]
    app.button(key="w.load.transcripts.load").click().run()
    assert not app.exception and any("1 records added" in s.value for s in app.success)


@pytest.mark.parametrize("name, text", [("nowhere.vtt", None), ("notes.md", "just notes"), ("empty.vtt", "")])
def test_transcripts_section_bad_path_is_an_error_message_not_a_traceback(app, tmp_path, name, text):
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    read(app, path)
    assert not app.exception
    assert app.error or app.warning


def test_uploaded_transcripts_land_in_one_folder_named_by_their_content(tmp_path):
    from ui.transcripts_load import save_uploads

    class Upload:
        def __init__(self, name, data):
            self.name, self.data = name, data

        def getvalue(self):
            return self.data

    ws = Workspace(tmp_path / "ws")
    files = [Upload("a.vtt", (DEMO / "bank-card-blocked.vtt").read_bytes()), Upload("b.srt", (DEMO / "broadband-outage.srt").read_bytes())]
    folder = save_uploads(ws, files)
    assert sorted(p.name for p in folder.iterdir()) == ["a.vtt", "b.srt"] and save_uploads(ws, files[::-1]) == folder
    assert save_uploads(ws, files[:1]) != folder
    # the folder is inside the workspace (its uploads/): read and loaded all the same (it used to be "no transcripts here")
    shown = inspect(folder, skip=ws.root)
    assert [f["file"] for f in shown["files"]] == ["a.vtt", "b.srt"] and shown["conversations"] > 0
    assert ingest(ws, folder, name="uploaded", fmt="transcript")["added"] > 0


def test_transcripts_section_upload_mode_without_files_offers_nothing_to_read(app):
    app.switch_page("pages/load.py").run()
    app.radio(key=W(f"{PREFIX}.from", PAGE)).set_value("Upload files").run()
    assert not app.exception and app.button(key="w.load.transcripts.read").disabled


def test_transcripts_section_redacts_by_default_and_the_toggle_turns_it_off(app, tmp_path):
    """Transcripts are external: personal data is redacted unless the curator turns the toggle off."""
    read(app, DEMO)
    toggle = app.toggle(key="w.load.transcripts.redact.external")
    assert toggle.value is True
    toggle.set_value(False).run()
    app.button(key="w.load.transcripts.load").click().run()
    assert not app.exception and not app.error
    frame = load_records(Workspace(tmp_path / "ws"))
    texts = " ".join(str(v) for v in frame["messages"])
    assert "@" in texts and "[EMAIL_" not in texts  # the demo calls' e-mail addresses are kept as spoken


def test_a_role_change_keeps_the_shape_shown_as_chosen_and_warns_before_loading(app):
    """A role change relabels the shape radio (its counts change): the browser is sent the chosen shape again (else
    it shows no shape chosen), and conversations that will make no record are said before Load, not only after."""
    read(app, DEMO)
    assert not any("no assistant turn" in w.value for w in app.warning)
    app.selectbox(key="w.load.transcripts.role.SPEAKER_00").select("user").run()  # the meeting has no assistant now
    assert not app.exception
    radio = app.radio(key=W(f"{PREFIX}.shape", PAGE))
    assert radio.proto.set_value and radio.proto.raw_value == radio.proto.options[0]  # "conversation: 7 records"
    assert any("no assistant turn" in w.value and "who is the assistant" in w.value for w in app.warning)


def test_loading_into_an_existing_dataset_says_another_shape_adds_the_calls_again(app, tmp_path):
    read(app, DEMO)
    assert not any("exists" in c.value for c in app.caption)
    app.button(key="w.load.transcripts.load").click().run()
    app.radio(key=W(f"{PREFIX}.shape", PAGE)).set_value("turns").run()
    said = " ".join(c.value for c in app.caption)
    assert "The dataset transcripts exists" in said and "another shape" in said
    app.button(key="w.load.transcripts.load").click().run()
    assert not app.exception and any("0 already present" in s.value for s in app.success)  # what the caption warned of
