"""SQL sources (issue 16): SQLite files, DuckDB files and a real PostgreSQL server (tests/pg_server.py), read through
the same ingest as files: mapping, provenance, key-based re-ingest, one-line errors, and a password that never leaks."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys

import orjson
import pytest

from curation.cli import main
from curation.errors import CurationError, UnknownFormat, for_dashboard
from curation.ingest import ingest
from curation.records import loads
from curation.sql_source import guess_mapping, is_sql_url, masked, preview
from curation.store import read_records
from tests.conftest import ROOT

ROWS = [(1, "What is 2+2?", "4", "math"), (2, "Capital of France?", "Paris", "geo"), (3, "Say hi", None, "chat"),
        (4, "Colour of the sky at 12:30?", "Blue, 100%", "sky")]


def make_sqlite(path, rows=ROWS):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS qa (id INTEGER PRIMARY KEY, question TEXT, answer TEXT, topic TEXT)")
    conn.executemany("INSERT INTO qa VALUES (?,?,?,?)", rows)
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def db(tmp_path):
    return make_sqlite(tmp_path / "support.db")


def url_of(path) -> str:
    return f"sqlite:///{path}"


def by_key(ws, dataset="qa") -> dict:
    frame = read_records(ws, dataset)
    return {loads(m)["sql"]["key"]["id"]: row for m, row in zip(frame["meta"], frame.to_dict("records"))}


# --- SQLite ------------------------------------------------------------------------------------------------------------


def test_a_table_loads_with_guessed_columns_provenance_and_the_bad_row_reported_by_its_key(ws, db):
    before = db.read_bytes()
    out = ingest(ws, url_of(db), table="qa")
    assert (out["dataset"], out["added"], out["skipped"], out["key"], out["rows"]) == ("qa", 3, 0, ["id"], 4)
    assert out["mapping"] == {"instruction": "question", "output": "answer"}
    assert out["errors"] == [{"file": url_of(db), "line": "id=3", "reason": "field 'answer' is null"}]
    rejected = [json.loads(line) for line in open(out["rejects_file"], encoding="utf-8")]
    assert rejected[0]["line"] == "id=3" and "Say hi" in rejected[0]["raw"]
    records = by_key(ws)
    assert set(records) == {1, 2, 4}
    r = records[4]
    assert (r["instruction"], r["output"], r["source"], r["where"]) == ("Colour of the sky at 12:30?", "Blue, 100%",
                                                                        "external", "id=4")
    assert r["row"] == 4  # a single integer key is the row number (stable across re-ingest)
    meta = loads(r["meta"])
    assert meta["topic"] == "sky"  # every other column kept
    assert meta["sql"] == {"url": url_of(db), "query": "SELECT * FROM qa", "key": {"id": 4}}
    assert db.read_bytes() == before  # the source is only read


def test_a_query_with_a_mapping_and_colons_and_percent_signs_in_it(ws, db):
    out = ingest(ws, url_of(db), query="SELECT id, topic || ':' || question AS q, answer AS a FROM qa WHERE answer LIKE '%'",
                 key="id", mapping={"instruction": "q", "output": "a"}, name="mapped")
    assert (out["added"], out["format"], out["errors"]) == (3, "mapped", [])
    records = by_key(ws, "mapped")
    assert records[1]["instruction"] == "math:What is 2+2?" and records[1]["output"] == "4"
    assert loads(records[1]["meta"])["sql"]["query"].startswith("SELECT id, topic")


def test_reingest_adds_only_rows_with_a_new_key(ws, db):
    first = ingest(ws, url_of(db), table="qa")
    conn = sqlite3.connect(db)
    conn.execute("UPDATE qa SET answer = 'Four' WHERE id = 1")  # a changed row keeps its key: not loaded again
    conn.executemany("INSERT INTO qa VALUES (?,?,?,?)", [(5, "New question", "New answer", "x"), (6, "Another", "One", "y")])
    conn.commit()
    conn.close()
    again = ingest(ws, url_of(db), table="qa")
    assert (first["added"], again["added"], again["skipped"]) == (3, 2, 3)
    records = by_key(ws)
    assert set(records) == {1, 2, 4, 5, 6} and records[1]["output"] == "4"
    ids = {k: r["record_id"] for k, r in records.items()}
    assert len(set(ids.values())) == 5


def test_record_ids_come_from_the_dataset_and_the_key_not_the_row_position(ws, tmp_path):
    a = make_sqlite(tmp_path / "a.db", ROWS)
    b = make_sqlite(tmp_path / "b.db", list(reversed(ROWS)))  # same rows, another order, another file
    ingest(ws, url_of(a), table="qa", name="same")
    out = ingest(ws, url_of(b), query="SELECT * FROM qa ORDER BY id DESC", key="id", name="same")
    assert (out["added"], out["skipped"]) == (0, 3)


def test_rows_are_streamed_in_chunks_into_several_parts(ws, tmp_path):
    rows = [(i, f"question {i}", f"answer {i}", "t") for i in range(1, 26)]
    db = make_sqlite(tmp_path / "many.db", rows)
    out = ingest_sql_small(ws, db)
    assert (out["added"], out["rows"]) == (25, 25)
    assert len(ws.parts("qa")) == 3  # parts of 10 records, fetched 4 rows at a time
    assert len(read_records(ws, "qa")) == 25


def ingest_sql_small(ws, db):
    from curation.sql_source import ingest_sql

    return ingest_sql(ws, url_of(db), table="qa", fetch_rows=4, part_rows=10)


def test_without_a_key_records_are_identified_by_content(ws, db):
    out = ingest(ws, url_of(db), query="SELECT question, answer FROM qa")
    assert out["added"] == 3 and out["key"] is None
    assert any("no key column" in w for w in out["warnings"])
    assert any("the Key column(s) field" in for_dashboard(w) for w in out["warnings"])
    assert ingest(ws, url_of(db), query="SELECT question, answer FROM qa")["skipped"] == 3


def test_errors_are_one_clear_line(ws, db, tmp_path):
    cases = {
        "near \"SELEC\": syntax error": dict(query="SELEC id FROM qa"),
        "no such table: nope": dict(table="nope"),
        "mapped column(s) question2 are not in the result": dict(table="qa", mapping={"instruction": "question2", "output": "answer"}),
        "key column(s) uid are not in the result": dict(table="qa", key="uid"),
        "name a --table or a --query": {},
    }
    for expected, options in cases.items():
        with pytest.raises(CurationError) as info:
            ingest(ws, url_of(db), **options)
        assert expected in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(CurationError, match="its tables: qa"):
        ingest(ws, url_of(db), table="nope")
    missing = tmp_path / "missing.db"
    with pytest.raises(CurationError, match="no such database file"):
        ingest(ws, url_of(missing), table="qa")
    assert not missing.exists()  # SQLite would have created it
    with pytest.raises(CurationError, match="unknown kind of database"):
        ingest(ws, "nosuchdb://u:pw@h/d", table="qa")
    with pytest.raises(CurationError, match="apply to a database URL only"):
        ingest(ws, db, table="qa")


def test_a_query_cannot_change_the_source(ws, db):
    with pytest.raises(CurationError, match="readonly|read-only|no rows"):
        ingest(ws, url_of(db), query="DELETE FROM qa")
    assert sqlite3.connect(db).execute("SELECT count(*) FROM qa").fetchone()[0] == 4


def test_columns_that_fit_no_format_ask_for_a_mapping(ws, db):
    with pytest.raises(UnknownFormat) as info:
        ingest(ws, url_of(db), query="SELECT id, topic FROM qa", key="id")
    assert info.value.columns == ["id", "topic"] and "--map" in str(info.value)
    assert "--" not in for_dashboard(info.value) and "choose the instruction and output" in for_dashboard(info.value)


def test_guessing_and_url_recognition():
    assert guess_mapping(["ID", "Question", "Answer", "context"]) == {"instruction": "Question", "input": "context",
                                                                      "output": "Answer"}
    assert guess_mapping(["id", "body"]) is None
    assert guess_mapping(["prompt", "completion"]) == {"instruction": "prompt", "output": "completion"}
    assert is_sql_url("sqlite:///x.db") and is_sql_url("postgresql+psycopg://u@h/d") and is_sql_url("duckdb:///w.duckdb")
    assert not any(map(is_sql_url, ["hf://owner/name", "data/x.jsonl", "owner/name", "https://example.org/x.json"]))
    assert masked("postgresql://u:hunter2@h/d?sslpassword=zz") == "postgresql://u:***@h/d?sslpassword=***"


def test_preview_shows_the_first_rows_columns_key_and_format(db):
    out = preview(url_of(db), table="qa", limit=2)
    assert out["columns"] == ["id", "question", "answer", "topic"] and out["key"] == ["id"]
    assert [r["id"] for r in out["rows"]] == [1, 2] and "sql" not in out["rows"][0]
    assert out["mapping"] == {"instruction": "question", "output": "answer"}


def test_cli_json_and_one_line_error(capsys, tmp_path, db):
    ws = str(tmp_path / "ws")
    code = main(["ingest", url_of(db), "--table", "qa", "--workspace", ws, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and (out["added"], out["key"], out["query"]) == (3, ["id"], "SELECT * FROM qa")
    code = main(["ingest", url_of(db), "--table", "qa", "--workspace", ws, "--json"])
    assert json.loads(capsys.readouterr().out)["skipped"] == 3
    code = main(["ingest", url_of(db), "--query", "SELECT nope FROM qa", "--workspace", ws])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "no such column: nope" in err


# --- DuckDB ------------------------------------------------------------------------------------------------------------


def test_duckdb_file_table_and_query(ws, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    pytest.importorskip("duckdb_engine")
    path = tmp_path / "w.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE tickets (ticket INTEGER PRIMARY KEY, prompt VARCHAR, response VARCHAR, opened DATE)")
    conn.execute("INSERT INTO tickets VALUES (10, 'Reset my password', 'Use the link', DATE '2024-05-01'), "
                 "(11, 'Refund?', 'Yes, within 30 days', DATE '2024-05-02')")
    conn.close()
    out = ingest(ws, f"duckdb:///{path}", table="tickets")
    assert (out["added"], out["key"]) == (2, ["ticket"])  # the primary key, read from DuckDB's own catalog
    frame = read_records(ws, "tickets")
    meta = sorted((loads(m) for m in frame["meta"]), key=lambda m: m["ticket"])
    assert meta[0]["opened"] == "2024-05-01" and meta[0]["sql"]["key"] == {"ticket": 10}
    out = ingest(ws, f"duckdb:///{path}", query="SELECT * FROM tickets WHERE ticket > 10", key="ticket", name="tickets")
    assert (out["added"], out["skipped"]) == (0, 1)


# --- PostgreSQL (a real server) ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_table(postgres):
    postgres.admin("DROP TABLE IF EXISTS conversations")
    postgres.admin("CREATE TABLE conversations (conv_id text, turn int, customer text, agent text, opened timestamptz, "
                   "amount numeric(8,2), PRIMARY KEY (conv_id, turn))")
    postgres.admin("INSERT INTO conversations VALUES "
                   "('c1', 1, 'My order is late', 'Sorry, it ships today', '2024-01-02 10:00+00', 12.50), "
                   "('c1', 2, 'Thanks', 'You are welcome', '2024-01-02 10:05+00', NULL), "
                   "('c2', 1, 'Cancel my plan', NULL, '2024-01-03 09:00+00', 0)")
    postgres.admin(f"GRANT SELECT ON conversations TO {postgres.user}")
    return postgres


def all_text(ws, out=None) -> str:
    """Everything ingest wrote that a person could read: records, the ingest log, the parts table, rejects."""
    frame = read_records(ws)
    text = json.dumps(frame.astype(str).to_dict("records"))
    text += json.dumps(ws.query("SELECT * FROM ingests")) + json.dumps(ws.query("SELECT * FROM parts"))
    for f in ws.rejects_dir.glob("*.jsonl") if ws.rejects_dir.exists() else []:
        text += f.read_text(encoding="utf-8")
    return text + (json.dumps(out) if out else "")


def test_postgres_table_composite_key_mapping_and_reingest(ws, pg_table):
    url = pg_table.url()
    out = ingest(ws, url, table="conversations", mapping={"instruction": "customer", "output": "agent"})
    assert (out["added"], out["key"], out["dataset"]) == (2, ["conv_id", "turn"], "conversations")
    assert out["errors"] == [{"file": pg_table.url(password=False), "line": "conv_id=c2,turn=1",
                              "reason": "field 'agent' is null"}]
    frame = read_records(ws, "conversations")
    meta = {(m["conv_id"], m["turn"]): m for m in map(loads, frame["meta"])}
    assert meta["c1", 1]["amount"] == "12.50" and meta["c1", 1]["opened"].startswith("2024-01-02T10:00")
    assert meta["c1", 1]["sql"]["url"] == pg_table.url(password=False)
    pg_table.admin("INSERT INTO conversations VALUES ('c3', 1, 'Where is my invoice?', 'In your account page', now(), 1)")
    again = ingest(ws, url, table="conversations", mapping={"instruction": "customer", "output": "agent"})
    assert (again["added"], again["skipped"]) == (1, 2)
    assert pg_table.password not in all_text(ws, [out, again])
    pg_table.admin("DELETE FROM conversations WHERE conv_id = 'c3'")


def test_postgres_query_with_the_password_from_the_environment(ws, pg_table, monkeypatch):
    monkeypatch.setenv("CURATION_TEST_PG_PASSWORD", pg_table.password)
    out = ingest(ws, pg_table.url(password=False), password_env="CURATION_TEST_PG_PASSWORD", name="q",
                 query="SELECT conv_id || '-' || turn AS id, customer AS question, agent AS answer FROM conversations "
                       "WHERE agent IS NOT NULL", key="id")
    assert (out["added"], out["mapping"]) == (2, {"instruction": "question", "output": "answer"})
    with pytest.raises(CurationError, match="no password supplied"):
        ingest(ws, pg_table.url(password=False), table="conversations")  # no password at all
    monkeypatch.delenv("CURATION_TEST_PG_PASSWORD")
    with pytest.raises(CurationError, match="CURATION_TEST_PG_PASSWORD .* is not set"):
        ingest(ws, pg_table.url(password=False), password_env="CURATION_TEST_PG_PASSWORD", table="conversations")


def test_postgres_is_read_only(ws, pg_table):
    """A SELECT that calls a function which deletes rows: refused, because ingest reads in a read-only transaction."""
    pg_table.admin("CREATE OR REPLACE FUNCTION purge() RETURNS bigint LANGUAGE sql AS "
                   "'WITH gone AS (DELETE FROM conversations RETURNING 1) SELECT count(*) FROM gone'")
    with pytest.raises(CurationError, match="read-only transaction"):
        ingest(ws, pg_table.url(), query="SELECT purge() AS n, 'q' AS question, 'a' AS answer", key="n")
    assert pg_table.admin("SELECT count(*) FROM conversations")[0][0] == 3


def test_postgres_password_never_leaks_through_the_cli(tmp_path, pg_table):
    """Success, a bad table, a syntax error, a wrong password and a closed port: the password appears nowhere."""
    password, ws = pg_table.password, tmp_path / "ws"
    wrong = "Wr0ng-Pass-quux-4242"
    closed = pg_table.url().replace(f":{pg_table.port}/", f":{closed_port()}/")
    runs = [
        ([pg_table.url(), "--table", "conversations", "--map", "instruction=customer", "output=agent"], 0, ""),
        ([pg_table.url(), "--table", "no_such_table"], 1, 'relation "no_such_table" does not exist'),
        ([pg_table.url(), "--query", "SELEC 1"], 1, "syntax error"),
        ([pg_table.url().replace(password, wrong), "--table", "conversations"], 1, "password authentication failed"),
        ([closed, "--table", "conversations"], 1, "cannot connect to"),
    ]
    for args, code, expected in runs:
        done = subprocess.run([sys.executable, "-m", "curation", "ingest", *args, "--workspace", str(ws), "--json"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == code, done.stderr
        assert expected in done.stderr and (not code or done.stderr.count("\n") == 1), done.stderr
        assert "Traceback" not in done.stderr
        for secret in (password, wrong):
            assert secret not in done.stdout and secret not in done.stderr
    from curation.workspace import Workspace

    text = all_text(Workspace(ws))
    assert "no_such_table" not in text and password not in text and wrong not in text
    assert pg_table.url(password=False) in text  # the log and provenance keep the URL, without the password


def closed_port() -> int:
    import socket

    with socket.socket() as s:  # bound, never listening: a connection is refused
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_server_is_one_line_without_the_password(ws):
    port = closed_port()
    with pytest.raises(CurationError) as info:
        ingest(ws, f"postgresql+psycopg://someone:Very-Secret-77@127.0.0.1:{port}/db", table="t")
    message = str(info.value)
    assert message.startswith(f"cannot connect to postgresql+psycopg://someone@127.0.0.1:{port}/db")
    assert "Connection refused" in message and "Very-Secret-77" not in message and "\n" not in message


def test_the_record_id_is_a_hash_of_dataset_and_key(ws, db):
    ingest(ws, url_of(db), table="qa")
    h = hashlib.blake2b(digest_size=8)
    h.update(b"qa\x1fsql\x1f0\x1f" + orjson.dumps([2]))
    assert by_key(ws)[2]["record_id"] == h.hexdigest()


def test_personal_data_is_redacted_with_one_placeholder_per_value_across_chunks(ws, tmp_path):
    from curation.sql_source import ingest_sql

    rows = [(1, "Mail me at jane.roe@example.com", "Sure, I wrote to jane.roe@example.com", "a"),
            (2, "Is jane.roe@example.com right?", "Yes, jane.roe@example.com is on file", "b"),
            (3, "Call 415-555-0134 please", "Calling 415-555-0134 now", "c")]
    db = make_sqlite(tmp_path / "pii.db", rows)
    out = ingest_sql(ws, url_of(db), table="qa", fetch_rows=1, part_rows=2)  # every row in its own chunk
    assert out["redactions"].get("email") == 4 and out["redactions"].get("phone") == 2
    records = by_key(ws)
    assert records[1]["instruction"] == "Mail me at [EMAIL_1]" and records[2]["output"] == "Yes, [EMAIL_1] is on file"
    assert "415-555-0134" not in json.dumps({k: dict(r) for k, r in records.items()}, default=str)
    assert loads(records[1]["meta"])["sql"] == {"url": url_of(db), "query": "SELECT * FROM qa", "key": {"id": 1}}
    kept = ingest(ws, url_of(db), table="qa", name="raw", redact=False)
    assert kept["redactions"] == {} and "jane.roe@example.com" in by_key(ws, "raw")[1]["instruction"]


def test_a_failed_database_among_several_sources_is_listed_without_its_password(capsys, tmp_path, db):
    bad = f"postgresql+psycopg://me:Listed-Secret-31@127.0.0.1:{closed_port()}/db"
    code = main(["ingest", url_of(db), bad, "--table", "qa", "--workspace", str(tmp_path / "ws"), "--json"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 0 and out["added"] == 3
    assert out["failed"][0]["path"] == bad.replace("Listed-Secret-31", "***")
    assert "cannot connect" in out["failed"][0]["error"]
    assert "Listed-Secret-31" not in captured.out + captured.err


def test_a_relative_sqlite_url_is_kept_as_an_absolute_path(ws, db, monkeypatch):
    monkeypatch.chdir(db.parent)
    out = ingest(ws, "sqlite:///support.db", query="SELECT * FROM qa;", key="id")
    assert out["path"] == f"sqlite:///{db}" and out["query"] == "SELECT * FROM qa" and out["added"] == 3
    assert ws.query("SELECT path FROM ingests") == [(f"sqlite:///{db}",)]


def test_postgres_query_with_a_closing_semicolon(ws, pg_table):
    out = ingest(ws, pg_table.url(), query="SELECT * FROM conversations WHERE agent IS NOT NULL; ", key="conv_id,turn",
                 mapping={"instruction": "customer", "output": "agent"}, name="semi")
    assert out["added"] == 2 and out["key"] == ["conv_id", "turn"]


def test_reingest_of_stored_rows_converts_nothing_and_an_empty_result_is_a_warning(ws, db):
    mapping = {"instruction": "topic", "output": "question"}  # columns no guess would pick
    assert ingest(ws, url_of(db), table="qa", mapping=mapping, name="m")["added"] == 4
    again = ingest(ws, url_of(db), table="qa", name="m")  # no mapping: every key is stored, nothing to convert
    assert (again["added"], again["skipped"], again["errors"]) == (0, 4, [])
    empty = ingest(ws, url_of(db), query="SELECT * FROM qa WHERE id > 100", key="id", name="m")
    assert empty["added"] == 0 and any("returned no rows" in w for w in empty["warnings"])


@pytest.mark.parametrize("url, hint", [
    ("mysql://u:p@127.0.0.1/db", "pip install pymysql, then write mysql+pymysql://"),
    ("postgresql+psycopg2://u:p@127.0.0.1/db", "postgresql+psycopg://"),
])
def test_a_missing_driver_names_what_to_install_for_that_database(ws, url, hint):
    """A MySQL URL without its driver says how to get MySQL's driver, not PostgreSQL's; a one-letter password is hidden
    where it stands alone and leaves the words of the message whole."""
    with pytest.raises(CurationError) as caught:
        ingest(ws, url)
    message = str(caught.value)
    assert hint in message and ("PostgreSQL" in message) == url.startswith("postgresql")
    assert "***" not in message.replace("u:***@", "") and ":p@" not in message
    assert "psycopg" in message or "pymysql" in message


def test_secrets_are_scrubbed_wherever_they_appear_and_short_ones_where_they_stand_alone():
    from curation.sql_source import Database

    db = Database(engine=None, shown="x", secrets=("hunter2long", "pw"))
    assert db.scrub("auth hunter2long failed; xhunter2longx") == "auth *** failed; x***x"
    assert db.scrub("password pw rejected (pwd, pwned)") == "password *** rejected (pwd, pwned)"
