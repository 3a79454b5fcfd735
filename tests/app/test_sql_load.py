"""The Load page's "Database (SQL)" section against a SQLite file (issue 16): preview, mapping, load, re-load, errors."""

from __future__ import annotations

import sqlite3

import pytest
from streamlit.testing.v1 import AppTest

from curation.records import loads
from curation.store import load_records
from curation.workspace import Workspace
from tests.conftest import ROOT
from ui.sql_load import PREFIX
from ui.state import widget_key as W

PAGE = "load_data"


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.chdir(ROOT)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "helpdesk.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE tickets (id INTEGER PRIMARY KEY, ask TEXT, reply TEXT, team TEXT)")
    conn.executemany("INSERT INTO tickets VALUES (?,?,?,?)", [(i, f"Question {i} <b>bold</b>", f"Answer {i}", "billing")
                                                               for i in range(1, 13)])
    conn.execute("UPDATE tickets SET reply = 'Write to jo.doe@example.org' WHERE id = 5")
    conn.commit()
    conn.close()
    return path


def fill(app, url: str, table: str):
    app.text_input(key=W(f"{PREFIX}.url", PAGE)).input(url).run()
    app.text_input(key=W(f"{PREFIX}.table", PAGE)).input(table).run()


def test_sql_section_previews_maps_and_loads_a_table(app, tmp_path, db):
    app.switch_page("pages/load.py").run()
    assert not app.exception
    fill(app, f"sqlite:///{db}", "tickets")
    app.button(key="w.load.sql.preview").click().run()
    assert not app.exception and not app.error
    preview = app.dataframe[0].value
    assert len(preview) == 10 and list(preview.columns) == ["id", "ask", "reply", "team"]
    assert preview["ask"].iloc[0] == "Question 1 <b>bold</b>"  # text, as text
    assert any("personal data is redacted when they are loaded" in c.value for c in app.caption)  # shown unredacted
    # columns "ask"/"reply" fit no format and no obvious name: the curator maps them
    app.selectbox(key="w.load.sql.map.instruction").select("ask").run()
    app.selectbox(key="w.load.sql.map.output").select("reply").run()
    app.button(key="w.load.sql.load").click().run()
    assert not app.exception and not app.error
    assert any("12 records added" in s.value for s in app.success)
    frame = load_records(Workspace(tmp_path / "ws"))
    assert len(frame) == 12 and set(frame["source"]) == {"external"}
    assert "Write to [EMAIL_1]" in set(frame["output"])  # personal data redacted by default (external rows)
    assert loads(frame["meta"].iloc[0])["sql"]["url"] == f"sqlite:///{db}"
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO tickets VALUES (13, 'New', 'Fresh', 'sales')")
    conn.commit()
    conn.close()
    app.button(key="w.load.sql.load").click().run()
    assert any("1 records added, 12 already present" in s.value for s in app.success)
    assert any("already loaded (by key id) were skipped: loading again adds only new rows" in s.value for s in app.success)


def test_sql_section_errors_are_messages_without_the_password(app, tmp_path, db):
    app.switch_page("pages/load.py").run()
    fill(app, f"sqlite:///{db}", "no_such_table")
    app.button(key="w.load.sql.preview").click().run()
    assert not app.exception
    assert "no such table: no_such_table" in app.error[0].value and "tickets" in app.error[0].value
    app.text_input(key=W(f"{PREFIX}.url", PAGE)).input("postgresql+psycopg://me:Hunter2-Secret@127.0.0.1:1/db").run()
    app.text_input(key="w.load.sql.password").input("Other-Secret-99").run()
    app.button(key="w.load.sql.load").click().run()
    assert not app.exception
    shown = " ".join(e.value for e in app.error)
    assert "cannot connect to postgresql+psycopg://me@127.0.0.1:1/db" in shown
    assert "Hunter2-Secret" not in shown and "Other-Secret-99" not in shown


def test_sql_section_a_path_instead_of_a_url_is_said_at_once_with_the_url_to_type(app, tmp_path, db):
    """A new user types the file's path where the URL goes: told at once what to write (not, on Load, an error about
    --table/--query options), with the buttons off; once a URL is typed, the preview says which columns map where."""
    app.switch_page("pages/load.py").run()
    fill(app, str(db), "tickets")
    assert not app.exception and not app.error
    said = " ".join(w.value for w in app.warning)
    assert "Not a database URL" in said and f"sqlite:///{db}" in said
    assert app.button(key="w.load.sql.preview").disabled and app.button(key="w.load.sql.load").disabled
    app.text_input(key=W(f"{PREFIX}.url", PAGE)).input(f"sqlite:///{db}").run()
    assert not any("Not a database URL" in w.value for w in app.warning)
    app.button(key="w.load.sql.preview").click().run()
    assert any("Which column holds each field?" in c.value for c in app.caption)


def test_sql_section_a_query_without_a_key_loaded_again_says_rows_are_known_by_content(app, db):
    app.switch_page("pages/load.py").run()
    app.text_input(key=W(f"{PREFIX}.url", PAGE)).input(f"sqlite:///{db}").run()
    app.radio(key=W(f"{PREFIX}.how", PAGE)).set_value("Query").run()
    app.text_area(key=W(f"{PREFIX}.query", PAGE)).input("SELECT ask AS instruction, reply AS output FROM tickets").run()
    app.button(key="w.load.sql.load").click().run()
    app.button(key="w.load.sql.load").click().run()
    assert not app.exception and not app.error
    said = " ".join(s.value for s in app.success)
    assert "12 already present" in said and "(the same content) were skipped" in said
    assert "does not update" not in said  # without a key a changed row loads again as a new record (the warning says so)
