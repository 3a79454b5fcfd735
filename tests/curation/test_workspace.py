"""The workspace as storage: atomic writes, concurrent writers, orphan clean-up, damage named in errors.

Concurrency tests start real processes (spawn) that meet on a barrier, so the
race they reproduce happens every time, not by chance.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from curation.errors import CurationError
from curation.records import COLUMNS
from curation.store import compact_rows, dataset_sizes, expand_rows, read_records, record_index
from curation.workspace import Workspace
from tests.conftest import write_jsonl

SPAWN = multiprocessing.get_context("spawn")  # fresh interpreters: no fork of pyarrow's threads


def start_all(targets) -> list:
    procs = [SPAWN.Process(target=t, args=a) for t, a in targets]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    return procs


def rows(n: int, start: int = 0) -> list[dict]:
    return [{"instruction": f"question {i}", "output": f"answer {i}"} for i in range(start, start + n)]


def table_of(records: list[dict]) -> pa.Table:
    schema = pa.schema([(c, pa.int64() if c == "row" else pa.string()) for c in COLUMNS])
    return pa.Table.from_pydict({c: [r.get(c) for r in records] for c in COLUMNS}, schema=schema)


def record(rid: str, row: int, output: str, dataset: str = "d") -> dict:
    return {"record_id": rid, "dataset": dataset, "file": "d.jsonl", "row": row, "where": f"line {row}", "format": "alpaca",
            "source": "unknown", "system": None, "instruction": f"q{rid}", "input": "", "output": output,
            "messages": None, "meta": "{}"}


# --- atomic writes -----------------------------------------------------------------------------------------------


def _write_same_file(path: str, barrier, tag: bytes) -> None:
    from curation.workspace import write_atomically

    def write(tmp: Path) -> None:
        tmp.write_bytes(tag * 100_000)
        barrier.wait(timeout=60)  # both writers hold a written temporary file before either renames it

    write_atomically(Path(path), write)


def test_two_writers_of_one_file_never_collide(tmp_path):
    target = tmp_path / "cache.bin"
    barrier = SPAWN.Barrier(2)
    procs = start_all([(_write_same_file, (str(target), barrier, b"A")), (_write_same_file, (str(target), barrier, b"B"))])
    assert [p.exitcode for p in procs] == [0, 0]
    assert target.read_bytes() in (b"A" * 100_000, b"B" * 100_000)  # one writer's file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["cache.bin"]  # no temporary file left


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    from curation.workspace import write_atomically

    def fail(tmp):
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(tmp_path / "x.parquet", fail)
    assert list(tmp_path.iterdir()) == []


# --- orphan temporary files --------------------------------------------------------------------------------------


def _killed_while_writing(path: str) -> None:
    from curation.workspace import write_atomically

    def write(tmp: Path) -> None:
        tmp.write_bytes(b"PAR1 half a part")
        os.kill(os.getpid(), signal.SIGKILL)

    write_atomically(Path(path), write)


def test_orphans_of_killed_writers_are_removed_on_open_and_live_ones_kept(tmp_path):
    from curation.workspace import host_tag

    ws = Workspace(tmp_path / "ws")
    folder = ws.register_dataset("d")
    [proc] = start_all([(_killed_while_writing, (str(folder / "part-1.parquet"),))])
    assert proc.exitcode == -signal.SIGKILL
    [orphan] = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    live = folder / f".part-2.parquet.{os.getpid()}-{host_tag()}-0123abcd.tmp"  # this process: still writing
    elsewhere = "000000" if host_tag() != "000000" else "111111"
    other_host = folder / f".part-3.parquet.{proc.pid}-{elsewhere}-0123abcd.tmp"  # a dead pid, but of another machine
    stale = folder / f".part-4.parquet.{proc.pid}-{elsewhere}-0123abcd.tmp"  # another machine's, two days old
    old_style = folder / ".part-5.parquet.tmp"  # not our exact name: someone else's
    upload = ws.root / "uploads" / ".data.jsonl.1-abcdef-0123abcd.tmp"
    users = ws.root / "notes.tmp"
    for p in (live, other_host, stale, old_style, upload, users):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    two_days_ago = time.time() - 2 * 86400
    for p in (stale, old_style, users, upload):
        os.utime(p, (two_days_ago, two_days_ago))

    opened = Workspace(ws.root)
    assert not orphan.exists() and not stale.exists()
    assert live.exists() and other_host.exists()  # a writer that may still run
    assert upload.exists() and users.exists() and old_style.exists()  # not the workspace's temporary files
    assert sorted(p.name for p in opened.cleaned) == sorted([orphan.name, stale.name])
    assert not list(folder.glob("part-*.parquet"))


# --- concurrent ingests --------------------------------------------------------------------------------------------


def _ingest_racing(root: str, path: str, barrier) -> None:
    """Ingest, but wait after reading the existing ids until the other process has read them too (or 3 s)."""
    import curation.store as store
    from curation.ingest import ingest

    original = store.read_columns

    def racing(ws, columns, dataset=None):
        out = original(ws, columns, dataset)
        try:
            barrier.wait(timeout=3)  # with the dataset lock the other process cannot get here: we go on alone
        except threading.BrokenBarrierError:
            pass
        return out

    store.read_columns = racing
    ingest(Workspace(root), path)


def test_concurrent_ingests_of_one_file_store_each_record_once(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", rows(2000))
    root = tmp_path / "ws"
    Workspace(root)
    barrier = SPAWN.Barrier(2)
    procs = start_all([(_ingest_racing, (str(root), str(path), barrier))] * 2)
    assert [p.exitcode for p in procs] == [0, 0]
    ws = Workspace(root)
    import pyarrow.parquet as pq

    assert sum(pq.ParquetFile(p).metadata.num_rows for p in ws.parts()) == 2000
    assert len(read_records(ws)) == 2000 and dataset_sizes(ws) == {"d": 2000}
    assert ws.query("SELECT count(*) FROM parts") == [(1,)]


# --- readers tolerate duplicates ------------------------------------------------------------------------------------


def test_readers_keep_the_first_row_of_a_record_stored_twice(ws):
    folder = ws.register_dataset("d")
    ws.write_part(folder, table_of([record("a", 1, "first"), record("b", 2, "first")]))
    ws.write_part(folder, table_of([record("b", 2, "second"), record("c", 3, "second")]))  # an older version's race
    frame = read_records(ws)
    assert list(frame["record_id"]) == ["a", "b", "c"]
    assert list(frame["output"]) == ["first", "first", "second"]
    assert dataset_sizes(ws) == {"d": 3} and record_index(ws) == {"a": "d", "b": "d", "c": "d"}
    from curation.signals.compute import signal_table

    table, _ = signal_table(ws)  # the signals agree: one row per record, and the copy is no exact duplicate of itself
    assert list(table["record_id"]) == ["a", "b", "c"]
    assert not table["score__exact_duplicate"].astype(bool).any()


# --- damage is named -------------------------------------------------------------------------------------------------


def test_a_truncated_part_is_named_with_the_fix(ws, tmp_path):
    from curation.ingest import ingest

    ingest(ws, write_jsonl(tmp_path / "d.jsonl", rows(20)))
    [part] = ws.parts()
    part.write_bytes(part.read_bytes()[:200])
    command = f"python -m curation doctor --workspace {ws.root.resolve()}"
    with pytest.raises(CurationError, match=rf"^record part records/d/part-.*\.parquet is damaged \(.+\): run `{re.escape(command)}`$"):
        read_records(ws)
    with pytest.raises(CurationError, match="is damaged"):
        dataset_sizes(ws)


def test_a_damaged_database_is_named_with_the_fix(ws):
    ws.db_path.write_bytes(b"this is not a database" * 100)
    command = f"python -m curation doctor --workspace {ws.root.resolve()}"
    with pytest.raises(CurationError, match=rf"workspace database .*curation\.db is damaged \(.*\): run `{re.escape(command)}`"):
        Workspace(ws.root)


def test_a_busy_database_is_not_called_damaged(ws):
    from curation.workspace import is_damage

    assert not is_damage(sqlite3.OperationalError("database is locked"))
    assert is_damage(sqlite3.DatabaseError("database disk image is malformed"))


# --- part provenance --------------------------------------------------------------------------------------------------


def test_each_part_records_its_source_file_and_rows(ws, tmp_path):
    from curation.ingest import ingest

    path = tmp_path / "d.jsonl"
    path.write_text('{"instruction": "a", "output": "1"}\n{"instruction": "b", "output": "2"}\n{oops\n'
                    '{"instruction": "c", "output": "3"}\n', encoding="utf-8")
    ingest(ws, path)
    [(part, dataset, source, ranges)] = ws.query("SELECT part, dataset, source_path, rows FROM parts")
    assert part == ws.relative(ws.parts()[0]) and dataset == "d" and source == "d.jsonl" and ranges == "1-2,4"


def test_an_old_workspace_gains_the_parts_table(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    conn = sqlite3.connect(root / "curation.db")
    conn.execute("CREATE TABLE datasets (name TEXT PRIMARY KEY, folder TEXT NOT NULL UNIQUE, created REAL NOT NULL)")
    conn.commit()
    conn.close()
    assert Workspace(root).query("SELECT count(*) FROM parts") == [(0,)]


@given(st.sets(st.integers(min_value=1, max_value=300)))
def test_row_ranges_round_trip(numbers):
    text = compact_rows(numbers)
    assert expand_rows(text) == sorted(numbers)
    assert text.count(",") < len(numbers) or not numbers


def test_a_part_from_several_files_records_each_files_rows(ws):
    from curation.ingest import store

    records = [record("a1", 1, "x"), record("a2", 2, "x"), {**record("b1", 7, "y"), "file": "b.jsonl"}]
    assert store(ws, "d", records) == (3, 0)
    assert ws.query("SELECT source_path, rows FROM parts") == [("d.jsonl,b.jsonl", "d.jsonl:1-2;b.jsonl:7")]


class Killed(BaseException):
    """What kill -9 does to a writer: nothing after this point runs (tests raise it to stop the writer there)."""


def test_a_part_is_registered_before_it_is_renamed_into_place(ws, tmp_path, monkeypatch):
    import curation.workspace as workspace
    from curation.ingest import ingest

    real_replace = os.replace
    seen = []

    def replace_then_die(src, dst):
        seen.append(ws.query("SELECT part FROM parts"))  # what a kill right after the rename would leave
        real_replace(src, dst)
        raise Killed

    monkeypatch.setattr(workspace.os, "replace", replace_then_die)
    with pytest.raises(Killed):
        ingest(ws, write_jsonl(tmp_path / "d.jsonl", rows(3)))
    [part] = ws.parts()
    assert seen == [[(ws.relative(part),)]]
    assert ws.query("SELECT part, source_path, rows FROM parts") == [(ws.relative(part), "d.jsonl", "1-3")]


def test_a_failed_part_write_leaves_no_provenance_row(ws, tmp_path, monkeypatch):
    import curation.workspace as workspace
    from curation.ingest import ingest

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(workspace.os, "replace", full_disk)
    with pytest.raises(OSError):
        ingest(ws, write_jsonl(tmp_path / "d.jsonl", rows(3)))
    assert ws.parts() == [] and ws.query("SELECT count(*) FROM parts") == [(0,)]


# --- only ingest creates a workspace -----------------------------------------------------------------------------------


def test_opening_without_create_never_makes_a_workspace(tmp_path):
    missing, empty = tmp_path / "missing", tmp_path / "empty"
    empty.mkdir()
    for root in (missing, empty):
        with pytest.raises(CurationError, match=rf"^no workspace at {re.escape(str(root))} \(ingest creates one\)$"):
            Workspace(root, create=False)
    assert not missing.exists() and list(empty.iterdir()) == []
    made = Workspace(missing)  # the default (ingest, the dashboard, the demo) creates it
    assert made.db_path.exists() and Workspace(missing, create=False).root == missing
    (tmp_path / "only-records" / "records").mkdir(parents=True)  # the database lost: still a workspace (doctor rebuilds it)
    assert Workspace(tmp_path / "only-records", create=False).db_path.exists()


# --- temporary files: only the tool's own ------------------------------------------------------------------------------


def test_clean_up_never_touches_a_users_files_or_folders(tmp_path, monkeypatch):
    """The workspace is a project folder: hidden *.tmp files and folders of the user's, old or not, stay."""
    from curation.workspace import host_tag

    proj = tmp_path / "proj"
    (proj / "src" / "pkg").mkdir(parents=True)
    (proj / ".venv.tmp").mkdir()
    build, lib = proj / "src" / "pkg" / ".build.tmp", proj / ".venv.tmp" / "x"
    build.write_text("code")
    lib.write_text("lib")
    dead = f"999999999-{host_tag()}-0123abcd"  # no such pid on this machine: our name would make it an orphan
    lookalike = proj / "src" / f".notes.txt.{dead}.tmp"  # our exact name, but outside our folders
    lookalike.write_text("mine")
    ws = Workspace(proj)
    folder = ws.register_dataset("d")
    named_dir = folder / f".part-1.parquet.{dead}.tmp"  # a folder under our file name: never removed
    named_dir.mkdir()
    (named_dir / "keep").write_text("x")
    models = proj / "models"
    static_tmp, other_tmp = models / f".static-minilm.{dead}.tmp", models / f".my-model.{dead}.tmp"
    for d in (static_tmp, other_tmp):
        d.mkdir(parents=True)
        (d / "model.safetensors").write_bytes(b"half")
    orphan = folder / f".part-2.parquet.{dead}.tmp"
    orphan.write_bytes(b"half")
    three_days_ago = time.time() - 3 * 86400
    for p in (build, proj / ".venv.tmp", lib, lookalike, named_dir, other_tmp):
        os.utime(p, (three_days_ago, three_days_ago))

    monkeypatch.chdir(proj)
    opened = Workspace(".")
    assert build.read_text() == "code" and lib.read_text() == "lib" and lookalike.read_text() == "mine"
    assert (named_dir / "keep").exists() and (other_tmp / "model.safetensors").exists()
    assert not orphan.exists() and not static_tmp.exists()  # ours: a part and the static model being written
    assert sorted(p.name for p in opened.cleaned) == sorted([orphan.name, static_tmp.name])


def test_a_new_parts_name_is_one_clock_reading(tmp_path, monkeypatch):
    """Seconds and nanoseconds come from one reading: read apart, a second could tick between them and the new part
    would sort before older ones (parts are read oldest first)."""
    import time as clock

    ws = Workspace(tmp_path / "ws")
    reading = 1_700_000_000_999_999_999
    monkeypatch.setattr(clock, "time_ns", lambda: reading)
    name = ws.new_part(tmp_path).name
    assert name == f"part-{clock.strftime('%Y%m%dT%H%M%S', clock.localtime(1_700_000_000))}-999999999.parquet"
