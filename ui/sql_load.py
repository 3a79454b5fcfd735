"""The Load page's "Database (SQL)" section: URL, table or query, key, mapping, a preview of the first rows, Load.

Thin: `curation.sql_source.preview` and `curation.ingest.ingest` do the work; their errors (one line, never the
password) become st.error through `shown_errors`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from curation.ingest import ingest
from curation.records import SOURCES
from curation.sql_source import is_sql_url, preview
from ui import pii, show, state
from ui.data import shown_errors

PREFIX = f"{state.LOAD_OPTIONS}.sql"  # shared keys of the section: .url .how .table .query .key .name .source
PREVIEW = f"{PREFIX}.preview"  # the last preview: {"spec", "url", "query", "columns", "rows", "key", "format", "mapping"}
FIELDS = ("instruction", "input", "output", "system")
NONE = "(none)"
PREVIEW_ROWS = 10


def sql_section(ws) -> None:
    st.caption("Rows of a table or a SELECT query from any SQLAlchemy URL: sqlite:///path/file.db, "
               "duckdb:///path/file.duckdb, postgresql+psycopg://user@host:5432/dbname. Type the password in its own "
               "field (it is never stored or shown); records keep the URL without it.")
    url = st.text_input("Database URL", placeholder="postgresql+psycopg://user@host:5432/dbname",
                        **state.bound(f"{PREFIX}.url", default="")).strip()
    password = st.text_input("Password (optional)", type="password", key="w.load.sql.password")
    how = st.radio("Read", ["Table", "Query"], horizontal=True, **state.bound(f"{PREFIX}.how", options=["Table", "Query"]))
    table = query = None
    if how == "Table":
        table = st.text_input("Table", placeholder="tickets or schema.tickets", **state.bound(f"{PREFIX}.table", default=""))
    else:
        query = st.text_area("Query", placeholder="SELECT id, question, answer FROM tickets WHERE …",
                             **state.bound(f"{PREFIX}.query", default=""))
    a, b, c = st.columns(3)
    key = a.text_input("Key column(s)", help="Identify a row, so that loading again adds only new rows. Blank: the "
                       "table's primary key (a query without a key: rows are identified by their content).",
                       **state.bound(f"{PREFIX}.key", default=""))
    name = b.text_input("Dataset name", help="Blank: the table's name, or the database's for a query.",
                        **state.bound(f"{PREFIX}.name", default=""))
    source = c.selectbox("Source", list(SOURCES), **state.bound(f"{PREFIX}.source", default="external", options=SOURCES))
    redact = pii.redact_toggle("w.load.sql.redact", source)  # on by default: database rows are external
    spec = {"url": url, "table": (table or "").strip() or None, "query": (query or "").strip() or None,
            "key": key.strip() or None}
    ready = bool(url and (spec["table"] or spec["query"]))
    if url and not is_sql_url(url):  # a path typed where the URL goes: said now, not as an ingest option error on Load
        st.warning(not_a_url(url))
        ready = False
    if st.button("Preview the first rows", disabled=not ready, key="w.load.sql.preview"):
        state.set(PREVIEW, None)
        with shown_errors("read the database"):
            state.set(PREVIEW, {"spec": spec, **preview(url, table=spec["table"], query=spec["query"], key=spec["key"],
                                                         limit=PREVIEW_ROWS, password=password or None)})
    shown = state.get(PREVIEW)
    mapping = None
    if shown and shown["spec"] == spec:
        mapping = show_preview(shown, redact is not False)
    if st.button("Load from the database", disabled=not ready, type="primary", key="w.load.sql.load"):
        state.set(state.LAST_INGEST, None)  # an earlier load's success never stands under this load's error
        with shown_errors("load from the database"):
            result = ingest(ws, url, name=name.strip() or None, source=source, mapping=mapping, table=spec["table"],
                            query=spec["query"], key=spec["key"], password=password or None, redact=redact)
            state.set(state.LAST_INGEST, {**result, "workspace": str(ws.root)})
            st.rerun()  # the sidebar's counts include the new records


def not_a_url(url: str) -> str:
    """What to type instead of a path (the file's own URL when it looks like a SQLite or DuckDB file). The typed text
    is not repeated: it is in the box above, and could hold a password (user:secret@host without a scheme)."""
    from pathlib import Path

    path = Path(url).expanduser()
    scheme = {".duckdb": "duckdb", ".db": "sqlite", ".sqlite": "sqlite", ".sqlite3": "sqlite"}.get(path.suffix.lower())
    hint = (f"for this file write {show.plain(f'{scheme}:///{path.resolve()}')}" if scheme and "@" not in url else
            f"write it like {show.plain('sqlite:///path/file.db')} or {show.plain('postgresql+psycopg://user@host:5432/dbname')}")
    return (f"Not a database URL: {hint}. A file of records (JSON, CSV, Parquet…) loads from the tab 'Path on the server' "
            "above.")


def show_preview(shown: dict, redacting: bool = False):
    """The preview table and the column mapping (guessed from the column names where obvious); the mapping to load with.
    `redacting`: personal data will be redacted on load (the preview shows the rows as they are)."""
    st.write(f"{show.plain(shown['url'])} · {show.plain(shown['query'])} · key: "
             f"{show.plain(', '.join(shown['key']) or 'none (rows identified by their content)')}")
    for warning in shown.get("warnings", []):
        st.warning(show.plain(warning))
    if shown["rows"]:
        frame = pd.DataFrame(shown["rows"], columns=shown["columns"]).astype(str)  # text shown as text
        st.dataframe(frame, hide_index=True, width="stretch")
        if redacting:
            st.caption("The rows as they are in the database: personal data is redacted when they are loaded.")
    else:
        st.info("The query returns no rows.")
        return None
    if shown["format"] and not shown["mapping"]:
        st.caption(f"Columns read as the {show.plain(shown['format'])} format; map them to override.")
    guessed = shown["mapping"] or {}
    st.caption("Which column holds each field? " + ("Guessed from the column names: change any that is wrong."
                                                     if guessed else "Choose at least the instruction and the output."))
    columns = [NONE, *shown["columns"]]
    picks = st.columns(len(FIELDS))
    chosen = {}
    for box, field in zip(picks, FIELDS):
        default = guessed.get(field, NONE)
        chosen[field] = box.selectbox(field, columns, index=columns.index(default) if default in columns else 0,
                                      key=f"w.load.sql.map.{field}")
    mapping = {f: col for f, col in chosen.items() if col != NONE}
    return mapping or None
