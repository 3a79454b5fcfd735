"""Doctor: checks a workspace, repairs what it can, quarantines (never deletes) record parts, says what to re-ingest."""

from __future__ import annotations

import os
import sqlite3

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation import decisions
from curation.doctor import doctor, exit_code, replay, text_report
from curation.errors import CurationError
from curation.ingest import ingest
from curation.records import COLUMNS
from curation.store import read_records
from curation.workspace import Workspace
from tests.conftest import write_jsonl


def rows(n: int, start: int = 0) -> list[dict]:
    return [{"instruction": f"question {i}", "output": f"answer {i}"} for i in range(start, start + n)]


def truncate(path, keep: int = 200) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def test_a_healthy_workspace_exits_0_and_changes_nothing(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "d.jsonl", rows(10)))
    before = sorted(p.relative_to(ws.root) for p in ws.root.rglob("*") if p.is_file())
    report = doctor(ws.root)
    assert report["healthy"] and exit_code(report) == 0 and report["parts"]["checked"] == 1
    assert sorted(p.relative_to(ws.root) for p in ws.root.rglob("*") if p.is_file()) == before
    assert "healthy" in text_report(report)


def test_a_damaged_part_is_quarantined_and_its_source_rows_named(ws, tmp_path):
    first = write_jsonl(tmp_path / "first.jsonl", rows(5))
    second = write_jsonl(tmp_path / "second.jsonl", [*rows(3, 100), {"bad": "row"}, *rows(2, 200)])
    ingest(ws, first, name="d")
    ingest(ws, second, name="d")
    damaged = ws.parts()[1]
    original = damaged.read_bytes()
    truncate(damaged)

    report = doctor(ws.root)
    assert exit_code(report) == 1 and report["needs_action"]
    [entry] = report["reingest"]
    assert entry["source"] == "second.jsonl" and entry["rows"] == "1-3,5-6" and entry["dataset"] == "d"
    assert entry["paths"] == [str(second)]
    moved = ws.root / entry["moved_to"]
    assert moved.read_bytes() == original[:200]  # moved, never deleted
    assert not damaged.exists() and len(read_records(ws)) == 5
    assert f"python -m curation ingest {second} --name d --workspace {ws.root.resolve()}" in report["action"][0]

    ingest(ws, second, name="d")  # what the report says to do: adds back only what is missing
    assert len(read_records(ws)) == 10
    assert doctor(ws.root)["healthy"]


def damaged_before_row_tracking(ws, tmp_path):
    """Five records ingested, their part written as an older version left it (no row tracking), then truncated."""
    path = write_jsonl(tmp_path / "d.jsonl", rows(5))
    ingest(ws, path)
    with ws.transaction() as conn:
        conn.execute("DELETE FROM parts")
    truncate(ws.parts()[0])
    return path


def test_a_part_written_before_row_tracking_names_the_dataset_and_its_ingested_files(ws, tmp_path):
    path = damaged_before_row_tracking(ws, tmp_path)
    report = doctor(ws.root)
    [entry] = report["reingest"]
    assert entry["rows"] is None and entry["dataset"] == "d" and entry["source"] is None and entry["paths"] == [str(path)]
    assert "predates row tracking" in report["action"][0]


def test_a_part_lacking_columns_is_damaged(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "d.jsonl", rows(5)))
    [part] = ws.parts()
    pq.write_table(pq.read_table(part).drop_columns(["output"]), part)
    report = doctor(ws.root)
    assert "lacks the column(s) output" in report["reingest"][0]["problem"]


def test_records_stored_twice_are_repaired(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "d.jsonl", rows(6)))
    [part] = ws.parts()
    table = pq.read_table(part)
    folder = part.parent
    ws.write_part(folder, table)  # two racing ingests of an older version: every record twice
    ws.write_part(folder, pa.concat_tables([table.slice(0, 2), table_with_ids(table.slice(0, 1), "extra")]))  # partly
    assert len(ws.parts()) == 3

    report = doctor(ws.root)
    assert exit_code(report) == 0 and not report["healthy"]
    assert report["duplicates"]["records"] == 8
    assert len(report["duplicates"]["quarantined"]) == 1 and len(report["duplicates"]["rewritten"]) == 1
    assert sum(pq.ParquetFile(p).metadata.num_rows for p in ws.parts()) == 7  # 6 + the one new record
    assert len(read_records(ws)) == 7
    assert len(list((ws.quarantine_dir / "records").rglob("*.parquet"))) == 2  # nothing deleted
    assert doctor(ws.root)["healthy"]


def table_with_ids(table: pa.Table, prefix: str) -> pa.Table:
    ids = pa.array([f"{prefix}{i}" for i in range(len(table))])
    return table.set_column(COLUMNS.index("record_id"), "record_id", ids)


def test_orphan_temp_files_are_reported(ws):
    from curation.workspace import host_tag

    folder = ws.register_dataset("d")
    orphan = folder / f".part-1.parquet.999999999-{host_tag()}-0123abcd.tmp"  # no such pid
    orphan.write_bytes(b"half")
    old = folder / f".part-2.parquet.999999999-{'000000' if host_tag() != '000000' else '111111'}-0123abcd.tmp"
    old.write_bytes(b"half")  # another machine's, a day old
    os.utime(old, (0, 0))
    report = doctor(ws.root)
    assert sorted(report["temp_files"]["removed"]) == sorted([f"records/d/{orphan.name}", f"records/d/{old.name}"])
    assert not orphan.exists() and not old.exists() and exit_code(report) == 0


def test_damaged_caches_are_removed(ws, tmp_path, monkeypatch):
    from curation import embed

    monkeypatch.setattr(embed, "get_embedder", lambda ws, name="minilm": embed.Embedder(
        name, lambda texts: np.ones((len(texts), 4), dtype=np.float32), 4))
    embed.embed_texts(ws, ["a", "b"])
    folder = embed.cache_dir(ws, "minilm", "prompt")
    good = embed.complete_shards(folder)
    embed.write_shard(folder, [embed.text_key("c")], np.ones((1, 4), dtype=np.float32))
    _, vectors = embed.complete_shards(folder)[-1]
    truncate(vectors, 60)
    lone = folder / "shard-00000000000000000001.vectors.npy"
    lone.write_bytes(b"left by a killed writer")
    for name, body in (("signals/p.abc.parquet", b"PAR1 garbage"), ("maps/k.json", b"{"), ("maps/k.parquet", b"x"),
                       ("dedup/k.npz", b"not a zip"), ("scores/ifd-abc/shard-1.parquet", b"PAR1"),
                       ("scores/ifd-abc/identity.json", b"{"), ("scores/learned/latest.parquet", b"")):
        (ws.root / name).parent.mkdir(parents=True, exist_ok=True)
        (ws.root / name).write_bytes(body)

    report = doctor(ws.root)
    removed = set(report["caches"]["removed"])
    assert {"signals/p.abc.parquet", "maps/k.json", "maps/k.parquet", "dedup/k.npz", ws.relative(vectors), ws.relative(lone),
            "scores/ifd-abc/shard-1.parquet", "scores/ifd-abc/identity.json", "scores/learned/latest.parquet"} <= removed
    assert embed.complete_shards(folder) == good and exit_code(report) == 0


def test_a_garbage_database_is_rebuilt_from_the_parts_and_says_what_was_lost(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "one.jsonl", rows(4)))
    ingest(ws, write_jsonl(tmp_path / "two.jsonl", rows(3)))
    ws.db_path.write_bytes(b"garbage" * 1000)

    report = doctor(ws.root)
    assert exit_code(report) == 1
    db = report["database"]
    assert db["status"] == "rebuilt" and sorted(db["registered"]) == ["one", "two"]
    assert (ws.root / db["quarantined"][0]).read_bytes() == b"garbage" * 1000
    assert any("decisions may be lost" in line for line in report["lost"])
    assert any("audit log: unreadable" in line for line in report["lost"])
    healed = Workspace(ws.root)
    assert healed.datasets() == ["one", "two"] and len(read_records(healed)) == 7


def corrupt_leaf_page(db_path, table: str) -> None:
    """Overwrite the middle leaf page of a table's b-tree, as a disk fault would."""
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = [p for p, in conn.execute("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno", (table,))]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no dbstat table")
    finally:
        conn.close()
    with open(db_path, "r+b") as fh:
        fh.seek((pages[len(pages) // 2] - 1) * size + 100)
        fh.write(b"\xff" * 300)


def decided_workspace(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "d.jsonl", rows(3000)))
    ids = list(read_records(ws)["record_id"])
    decisions.decide(ws, ids[:2000], "reject", "manual, with a longer reason to fill pages")
    decisions.decide(ws, ids[:500], "keep", "second look")
    decisions.undo(ws, ids[:100])
    return dict(ws.query("SELECT record_id, decision FROM state"))


def test_a_damaged_state_table_is_replayed_from_the_whole_audit_log(ws, tmp_path):
    expected = decided_workspace(ws, tmp_path)
    corrupt_leaf_page(ws.db_path, "state")
    with pytest.raises(CurationError, match=r"workspace database .* is damaged .*: run `python -m curation doctor --workspace "):
        Workspace(ws.root).query("SELECT count(*), max(ts) FROM state")

    report = doctor(ws.root)
    assert report["database"]["decisions"]["source"] == "replayed from the whole audit log"
    assert exit_code(report) == 0  # nothing the user must redo
    assert dict(Workspace(ws.root).query("SELECT record_id, decision FROM state")) == expected


def test_a_damaged_audit_log_and_state_keep_what_sqlite_can_read(ws, tmp_path):
    expected = decided_workspace(ws, tmp_path)
    corrupt_leaf_page(ws.db_path, "log")
    corrupt_leaf_page(ws.db_path, "state")

    report = doctor(ws.root)
    assert exit_code(report) == 1 and report["database"]["status"] == "rebuilt"
    assert any("part of the audit log" in line for line in report["lost"])
    healed = dict(Workspace(ws.root).query("SELECT record_id, decision FROM state"))
    right = sum(healed.get(rid) == d for rid, d in expected.items())
    assert 0 < len(healed) <= len(expected) and right >= len(expected) * 0.9
    assert sqlite3.connect(ws.db_path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_replay_follows_undo():
    log = [
        {"seq": 1, "record_id": "a", "dataset": "d", "action": "reject", "reason": "r1", "curator": "c", "ts": 1, "undoes": None},
        {"seq": 2, "record_id": "a", "dataset": "d", "action": "keep", "reason": "r2", "curator": "c", "ts": 2, "undoes": None},
        {"seq": 3, "record_id": "a", "dataset": "d", "action": "undo", "reason": "r2", "curator": "c", "ts": 3, "undoes": 2},
        {"seq": 4, "record_id": "b", "dataset": "d", "action": "keep", "reason": "r", "curator": "c", "ts": 4, "undoes": None},
        {"seq": 5, "record_id": "b", "dataset": "d", "action": "undo", "reason": "r", "curator": "c", "ts": 5, "undoes": 4},
    ]
    assert replay(log) == {"a": ("d", "reject", "r1", "c", 1)}


def test_an_unregistered_records_folder_is_registered(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "d.jsonl", rows(3)))
    with ws.transaction() as conn:
        conn.execute("DELETE FROM datasets")
    report = doctor(ws.root)
    assert report["database"]["registered"] == ["d"] and len(read_records(Workspace(ws.root))) == 3


def test_a_damaged_part_of_a_folder_ingest_points_at_the_folder(ws, tmp_path):
    from curation.ingest import store

    records = []
    for file, start in (("a.jsonl", 0), ("b.jsonl", 10)):
        for i in range(3):
            records.append({c: None for c in COLUMNS} | {"record_id": f"{file}{i}", "dataset": "d", "file": file, "row": i + 1,
                                                         "where": f"line {i + 1}", "format": "alpaca", "source": "unknown",
                                                         "instruction": f"q{start + i}", "output": "o", "input": "", "meta": "{}"})
    store(ws, "d", records)
    with ws.transaction() as conn:
        conn.execute("INSERT INTO ingests(dataset, path, ts) VALUES ('d', '/data/folder', 0)")
    truncate(ws.parts()[0])
    report = doctor(ws.root)
    [entry] = report["reingest"]
    assert entry["rows"] == "a.jsonl:1-3;b.jsonl:1-3" and entry["paths"] == ["/data/folder"]
    assert "re-ingest rows a.jsonl:1-3;b.jsonl:1-3: python -m curation ingest /data/folder --name d" in report["action"][0]


# --- what is lost stays reported until it is back ---------------------------------------------------------------------


def test_lost_rows_stay_reported_until_a_reingest_brings_them_back(ws, tmp_path):
    from curation.query import stats

    path = write_jsonl(tmp_path / "d.jsonl", rows(8))
    ingest(ws, path)
    truncate(ws.parts()[0])
    first = doctor(ws.root)
    assert exit_code(first) == 1 and len(first["reingest"]) == 1
    for _ in range(2):  # every later doctor still says so, and so does stats
        again = doctor(ws.root)
        assert exit_code(again) == 1 and not again["healthy"] and again["reingest"] == first["reingest"]
        assert again["fixed"] == [] and "re-ingest d.jsonl rows 1-8" in again["action"][0]
        assert f"python -m curation ingest {path} --name d --workspace {ws.root.resolve()}" in text_report(again)
    [lost] = stats(ws)["needs_reingest"]
    assert (lost["dataset"], lost["source"], lost["rows"], lost["paths"]) == ("d", "d.jsonl", "1-8", [str(path)])

    ingest(ws, write_jsonl(tmp_path / "other.jsonl", rows(2, 50)), name="d")  # other rows: not what was lost
    assert len(stats(ws)["needs_reingest"]) == 1
    ingest(ws, path)
    assert stats(ws)["needs_reingest"] == [] and doctor(ws.root)["healthy"]


def test_lost_rows_of_a_part_without_row_tracking_stay_reported_until_its_files_are_ingested(ws, tmp_path):
    path = damaged_before_row_tracking(ws, tmp_path)
    doctor(ws.root)
    report = doctor(ws.root)
    assert exit_code(report) == 1 and "predates row tracking" in report["action"][0]
    ingest(ws, path)
    assert doctor(ws.root)["healthy"]


def test_a_provenance_row_without_its_part_is_dropped_silently(ws, tmp_path):
    ingest(ws, write_jsonl(tmp_path / "d.jsonl", rows(3)))
    with ws.transaction() as conn:  # an ingest killed after recording its part, before renaming it into place
        conn.execute("INSERT INTO parts(part, dataset, source_path, rows, ts) "
                     "VALUES ('records/d/part-20990101T000000-000000001.parquet', 'd', 'e.jsonl', '1-9', 0)")
    report = doctor(ws.root)
    assert report["healthy"] and exit_code(report) == 0 and report["action"] == []
    assert [p for p, in ws.query("SELECT part FROM parts")] == [ws.relative(ws.parts()[0])]


def test_doctor_on_a_folder_without_a_workspace_creates_nothing(tmp_path):
    for root in (tmp_path / "typo", tmp_path):
        with pytest.raises(CurationError, match=r"^no workspace at .* \(ingest creates one\)$"):
            doctor(root)
    assert not (tmp_path / "typo").exists() and list(tmp_path.iterdir()) == []
