"""Doctor: check a workspace, repair what can be repaired, and say what needs the user.

Checks, in order:

- temporary files left by killed writers (removed when their writer is gone);
- the database (`PRAGMA integrity_check` and the schema). A damaged database is
  moved into `quarantine/`, a new one is built, the registry is rebuilt from the
  record parts (each holds a `dataset` column), and every row SQLite can still
  read from the damaged file (decisions, audit log, settings, ingest log) is
  copied over; the report says what was recovered and what was lost;
- every record part: readable, with the expected columns. A damaged part is moved
  into `quarantine/` (never deleted) and the report names the source file and
  rows to re-ingest (re-ingesting adds back only the missing records). Those rows
  stay in the workspace's `reingest` table, and in every later report (and in
  `stats`), until a re-ingest brings them back; a provenance row whose part was
  never written (an ingest killed before its rename) is dropped;
- record ids stored in more than one part (concurrent ingests of an older
  version): a part whose records all exist in earlier parts is moved into
  quarantine; one that overlaps partly is rewritten without the copies;
- derived caches (embedding shards, signals, maps, duplicate pairs): damaged
  files are removed, since recomputing them only costs time.

`doctor` returns a report; `needs_action` is true when the user must act
(re-ingest, or decisions that could not be recovered).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from curation.records import COLUMNS
from curation.workspace import TABLES, Workspace, orphan_temp_files, remove, write_atomically


def doctor(root: str | Path | None = None) -> dict:
    """Check and repair the workspace at `root` (an error when there is none: doctor creates nothing); returns the
    report (see the module docstring)."""
    ws = Workspace(root, open_db=False, create=False)  # removes orphan temporary files; touches no database yet
    report = {
        "workspace": str(ws.root),
        "fixed": [],
        "lost": [],
        "action": [],
        "temp_files": {"removed": [ws.relative(p) for p in ws.cleaned],
                       "kept": [ws.relative(p) for p in orphan_temp_files(ws.root)[1]]},
        "database": {},
        "parts": {"checked": 0, "quarantined": []},
        "duplicates": {"records": 0, "quarantined": [], "rewritten": []},
        "reingest": [],
        "caches": {"checked": 0, "removed": []},
    }
    if ws.cleaned:
        report["fixed"].append(f"removed {len(ws.cleaned)} temporary file(s) left by writers that are gone")
    report["database"] = check_database(ws, report)
    check_parts(ws, report)
    check_reingest(ws, report)
    check_caches(ws, report)
    report["needs_action"] = bool(report["action"])
    report["healthy"] = not report["fixed"] and not report["action"]
    if report["parts"]["quarantined"] or report["duplicates"]["quarantined"] or report["database"].get("quarantined"):
        ws.quarantine_dir.mkdir(parents=True, exist_ok=True)
        path = ws.quarantine_dir / f"doctor-{stamp()}.json"
        write_atomically(path, lambda tmp: tmp.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8"))
        report["report_file"] = ws.relative(path)
    return report


def stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + f"-{time.time_ns() % 1_000_000_000:09d}"


def quarantine(ws: Workspace, path: Path) -> Path:
    """Move a file into quarantine/, keeping its place in the workspace (records/x/part-….parquet)."""
    target = ws.quarantine_dir / ws.relative(path)
    if target.exists():
        target = target.with_name(f"{target.stem}-{stamp()}{target.suffix}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), str(target))
    return target


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# --- database ----------------------------------------------------------------------------------------------------


def database_problem(path: Path) -> str | None:
    """Why the database at `path` is damaged, or None when it passes the integrity check and has our columns."""
    try:
        conn = sqlite3.connect(path)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
            if rows != ["ok"]:
                lines = [line for r in rows for line in str(r).splitlines() if line and not line.startswith("***")]
                more = f" and {len(lines) - 1} more problem(s)" if len(lines) > 1 else ""
                return f"integrity check: {lines[0] if lines else rows[0]}{more}"
            for table, columns in TABLES.items():
                have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
                lacking = [c for c in columns if c not in have]
                if have and lacking:
                    return f"table {table} lacks the column(s) {', '.join(lacking)}"
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return first_line(exc)
    return None


def check_database(ws: Workspace, report: dict) -> dict:
    existed = ws.db_path.exists()
    problem = database_problem(ws.db_path) if existed else None
    if problem is None:
        ws.create_schema()  # adds tables a newer version introduced (e.g. parts)
        out = {"status": "ok" if existed else "created"}
        registered = register_folders(ws, {name for name, in ws.query("SELECT folder FROM datasets")})
        if registered:
            report["fixed"].append(f"registered {len(registered)} dataset(s) whose records were not in the database: "
                                   + ", ".join(registered))
            out["registered"] = registered
        return out
    return rebuild_database(ws, problem, report)


def rebuild_database(ws: Workspace, problem: str, report: dict) -> dict:
    """Move the damaged database aside, salvage what SQLite can still read, and build a new one."""
    base = ws.quarantine_dir / f"curation-{stamp()}.db"
    base.parent.mkdir(parents=True, exist_ok=True)
    moved = []
    for suffix in ("", "-wal", "-shm"):
        path = ws.db_path.with_name(ws.db_path.name + suffix)
        if path.exists():
            shutil.move(str(path), str(base.with_name(base.name + suffix)))
            moved.append(ws.relative(base.with_name(base.name + suffix)))
    salvaged, complete, sql, sequence = salvage(base)
    ws.create_schema()
    restored = restore(ws, salvaged, sql)
    state_note = rebuild_state(ws, salvaged, complete, sequence)
    known = {row["folder"] for row in salvaged.get("datasets", []) if (ws.records_dir / row["folder"]).is_dir()}
    registered = register_folders(ws, known)

    recovered = {t: n for t, n in restored.items() if n}
    existing = set(sql) or set(TABLES)  # the old tables, if its schema could be read
    lost = []
    for table, label in LABELS.items():
        if table not in existing or table in ("state", "datasets"):  # decisions: below; datasets: from the parts
            continue
        if not complete.get(table) and not restored.get(table):
            lost.append(f"the {label}: unreadable")
        elif not complete.get(table):
            lost.append(f"part of the {label}: only {restored[table]:,} row(s) could be read")
        elif table == "log" and sequence.get("log", 0) > max((e["seq"] for e in salvaged["log"]), default=0):
            lost.append(f"the latest {sequence['log'] - max((e['seq'] for e in salvaged['log']), default=0):,} "
                        f"audit-log entries")
    if state_note["lost"]:
        lost.insert(0, state_note["lost"])
    report["fixed"].append(
        f"the workspace database was damaged ({problem}): moved it to {moved[0]} and built a new one; "
        f"recovered {', '.join(f'{n:,} {LABELS.get(t, t)} row(s)' for t, n in recovered.items()) or 'no rows'}; "
        f"registered {len(registered)} dataset(s) from the record parts; current decisions: {state_note['count']:,} "
        f"({state_note['source']})")
    report["lost"].extend(lost)
    if state_note["lost"]:
        report["action"].append(f"{state_note['lost']}: check the decisions you need (the damaged file stays in {moved[0]})")
    return {"status": "rebuilt", "problem": problem, "quarantined": moved, "recovered": recovered,
            "registered": registered, "decisions": state_note, "lost": lost}


LABELS = {"state": "current decisions", "log": "audit log", "ingests": "ingest log", "settings": "settings",
          "parts": "part provenance (source rows)", "datasets": "dataset registry"}


def salvage(path: Path) -> tuple[dict[str, list[dict]], dict[str, bool], dict[str, str], dict[str, int]]:
    """Every row SQLite can still read from a damaged database: rows per table, whether each table was read whole,
    the CREATE statements, and the AUTOINCREMENT counters. Works on a scratch copy; the quarantined file stays as it was."""
    rows: dict[str, list[dict]] = {}
    complete: dict[str, bool] = {}
    sql: dict[str, str] = {}
    sequence: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "salvage.db"
        for suffix in ("", "-wal"):
            if path.with_name(path.name + suffix).exists():
                shutil.copyfile(path.with_name(path.name + suffix), copy.with_name(copy.name + suffix))
        try:
            conn = sqlite3.connect(copy)
        except sqlite3.DatabaseError:
            return rows, complete, sql, sequence
        try:
            try:
                for name, create in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"):
                    sql[name] = create
            except sqlite3.DatabaseError:
                pass
            try:
                sequence.update(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
            except sqlite3.DatabaseError:
                pass
            for table in dict.fromkeys([*TABLES, *(t for t in sql if not t.startswith("sqlite_"))]):
                got, whole = read_table(conn, table)
                if got is not None:
                    rows[table], complete[table] = got, whole
        finally:
            conn.close()
    return rows, complete, sql, sequence


def read_table(conn: sqlite3.Connection, table: str) -> tuple[list[dict] | None, bool]:
    """The rows of one table that can be read: by rowid upwards until damage, then downwards until damage."""
    got: dict[int, dict] = {}
    whole = True
    for order in ("ASC", "DESC"):
        try:
            cur = conn.execute(f'SELECT rowid AS "_rowid", * FROM "{table}" ORDER BY rowid {order}')
            names = [d[0] for d in cur.description]
            for row in cur:
                got[row[0]] = dict(zip(names[1:], row[1:]))
            if order == "ASC":
                break  # read to the end: nothing is missing
        except sqlite3.DatabaseError as exc:
            if "no such table" in str(exc) and order == "ASC":
                return None, False
            whole = False
    return [got[k] for k in sorted(got)], whole


def restore(ws: Workspace, salvaged: dict[str, list[dict]], sql: dict[str, str]) -> dict[str, int]:
    """Copy salvaged rows into the new database (tables it lacks are created from their old statements)."""
    counts = {}
    with ws.transaction() as conn:
        for table, rows in salvaged.items():
            if not rows:
                counts[table] = 0
                continue
            have = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            if not have and table in sql:
                conn.execute(sql[table])
                have = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            columns = [c for c in have if c in rows[0]]
            if not columns:
                counts[table] = 0
                continue
            names = ", ".join(f'"{c}"' for c in columns)
            before = conn.total_changes
            conn.executemany(f'INSERT OR IGNORE INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})',
                             [tuple(r.get(c) for c in columns) for r in rows])
            counts[table] = conn.total_changes - before
    return counts


def replay(log: list[dict]) -> dict[str, tuple]:
    """Each record's current decision from its audit log, as `decisions.undo` leaves it."""
    live: dict[str, list[dict]] = {}
    for entry in sorted(log, key=lambda e: e["seq"]):
        stack = live.setdefault(entry["record_id"], [])
        if entry["action"] == "undo":
            live[entry["record_id"]] = [e for e in stack if e["seq"] != entry["undoes"]]
        else:
            stack.append(entry)
    return {rid: (s[-1]["dataset"], s[-1]["action"], s[-1]["reason"], s[-1]["curator"], s[-1]["ts"])
            for rid, s in live.items() if s}


def rebuild_state(ws: Workspace, salvaged: dict, complete: dict, sequence: dict) -> dict:
    """Current decisions: read whole from the old `state`, or replayed from a whole audit log, or what is left."""
    log = salvaged.get("log", [])
    log_whole = complete.get("log", False) and (not sequence.get("log") or max((e["seq"] for e in log), default=0) >= sequence["log"])
    if complete.get("state"):
        return {"source": "state table, read whole", "count": len(salvaged["state"]), "lost": ""}
    replayed = replay(log)
    with ws.transaction() as conn:
        if log_whole:
            conn.execute("DELETE FROM state")
        have = {r for r, in conn.execute("SELECT record_id FROM state")}
        rows = [(rid, *v) for rid, v in replayed.items() if rid not in have]
        conn.executemany("INSERT INTO state(record_id, dataset, decision, reason, curator, ts) VALUES (?,?,?,?,?,?)", rows)
        total = conn.execute("SELECT count(*) FROM state").fetchone()[0]
    if log_whole:
        return {"source": "replayed from the whole audit log", "count": total, "lost": ""}
    return {"source": f"what could be read of the decisions table, {len(rows):,} replayed from what is left of the audit log",
            "count": total,
            "lost": "decisions may be lost: neither the current decisions nor the audit log could be read whole"}


def register_folders(ws: Workspace, known: set[str]) -> list[str]:
    """Register every records/<folder> holding parts that the registry lacks, by the `dataset` column of its parts."""
    import pyarrow.parquet as pq

    added = []
    if not ws.records_dir.is_dir():
        return added
    for folder in sorted(p for p in ws.records_dir.iterdir() if p.is_dir() and p.name not in known):
        parts = sorted(folder.glob("part-*.parquet"))
        name = None
        for part in parts:
            try:
                column = pq.read_table(part, columns=["dataset"]).column("dataset")
                name = column[0].as_py() if len(column) else None
            except Exception:  # noqa: BLE001 - a damaged part (pyarrow raises many types): the next one may say
                continue
            if name:
                break
        if not name:
            continue
        created = min(p.stat().st_mtime for p in parts)
        with ws.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO datasets(name, folder, created) VALUES (?, ?, ?)", (name, folder.name, created))
        added.append(name)
    return added


# --- record parts --------------------------------------------------------------------------------------------------


def part_problem(path: Path):
    """(None, record ids) for a readable part, or (why it is damaged, None)."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        lacking = [c for c in COLUMNS if c not in pf.schema_arrow.names]
        if lacking:
            return f"lacks the column(s) {', '.join(lacking)}", None
        table = pf.read(columns=list(COLUMNS))  # decodes every page
        return None, table.column("record_id").to_pylist()
    except Exception as exc:  # pyarrow raises many types for a damaged file
        return first_line(exc), None


def check_parts(ws: Workspace, report: dict) -> None:
    registry = dict(ws.query("SELECT folder, name FROM datasets"))
    provenance = {row[0]: row[1:] for row in ws.query("SELECT part, dataset, source_path, rows FROM parts")}
    seen: set[str] = set()
    for part in ws.parts():
        dataset = registry.get(part.parent.name, part.parent.name)
        with ws.dataset_lock(dataset):
            if not part.exists():  # moved meanwhile
                continue
            report["parts"]["checked"] += 1
            problem, ids = part_problem(part)
            if problem is not None:
                quarantine_part(ws, part, dataset, problem, provenance, report)
                continue
            dup = [i for i in ids if i in seen]
            if dup:
                fix_duplicates(ws, part, dataset, ids, set(dup), provenance, report)
            seen.update(ids)
    drop_rows_without_parts(ws, provenance)


def drop_rows_without_parts(ws: Workspace, provenance: dict) -> None:
    """Drop, silently, the provenance of parts never written: ingest records a part's row before renaming the part into
    place, so an ingest killed in between leaves a row and no part (and lost nothing: its records were never there)."""
    for rel, (dataset, _, _) in provenance.items():
        path = ws.root / rel
        if path.exists():
            continue
        with ws.dataset_lock(dataset):  # an ingest holds it from the row to the rename: a part still being written is there now
            if not path.exists():
                with ws.transaction() as conn:
                    conn.execute("DELETE FROM parts WHERE part = ?", (rel,))


def quarantine_part(ws: Workspace, part: Path, dataset: str, problem: str, provenance: dict, report: dict) -> None:
    rel = ws.relative(part)
    target = quarantine(ws, part)
    known = provenance.get(rel)
    source, rows = (known[1], known[2]) if known else (None, None)
    if source:
        paths = full_paths(ws, dataset, source)
    else:  # written before parts were tracked: every file ingested into the dataset
        paths = [p for p, in ws.query("SELECT DISTINCT path FROM ingests WHERE dataset = ? ORDER BY id", (dataset,))]
    entry = {"part": rel, "moved_to": ws.relative(target), "problem": problem, "dataset": dataset,
             "source": source, "rows": rows, "paths": paths}
    with ws.transaction() as conn:  # the lost rows are kept until a re-ingest brings them back (check_reingest)
        conn.execute("DELETE FROM parts WHERE part = ?", (rel,))
        conn.execute("INSERT OR REPLACE INTO reingest(part, dataset, source, rows, paths, problem, moved_to, ts) "
                     "VALUES (?,?,?,?,?,?,?,?)", (rel, dataset, source, rows, json.dumps(paths), problem, entry["moved_to"],
                                                  time.time()))
    report["parts"]["quarantined"].append(entry)
    report["fixed"].append(f"moved the damaged record part {rel} ({problem}) to {ws.relative(target)}")


def check_reingest(ws: Workspace, report: dict) -> None:
    """Every source row lost with a quarantined part, this time or before, that is not back yet: what to re-ingest."""
    from curation.store import needs_reingest, settle_reingest

    for dataset in dict.fromkeys(e["dataset"] for e in needs_reingest(ws)):
        settle_reingest(ws, dataset)  # rows present again (another part holds them): nothing to do
    for entry in needs_reingest(ws):
        report["reingest"].append({k: entry[k] for k in ("part", "moved_to", "problem", "dataset", "source", "rows", "paths")})
        report["action"].append(reingest_action(ws, entry))


def reingest_action(ws: Workspace, entry: dict) -> str:
    source, rows, paths, dataset = entry["source"], entry["rows"], entry["paths"], entry["dataset"]
    where = ((f"rows {rows}" if ";" in (rows or "") else f"{source} rows {rows}") if source else
             f"dataset {dataset!r} (the part predates row tracking; its ingest log lists "
             f"{', '.join(paths) if paths else 'no file'})")
    root = shell(str(ws.root.resolve()))
    command = "; ".join(f"python -m curation ingest {shell(p)} --name {shell(dataset)} --workspace {root}" for p in paths[:3])
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.get("ts") or time.time()))
    return (f"re-ingest {where}: {command or 'ingest its source files again'} (adds back only the missing records; "
            f"lost with {entry['part']}, moved to {entry['moved_to']} on {when})")


def full_paths(ws: Workspace, dataset: str, source: str) -> list[str]:
    """The paths to ingest again: the ingest log's paths of these source files (a part keeps only file names), else
    every path the dataset was ingested from (a folder, say: re-ingesting it adds back only what is missing)."""
    logged = [p for p, in ws.query("SELECT DISTINCT path FROM ingests WHERE dataset = ? ORDER BY id", (dataset,))]
    names = [source] if any(p == source or Path(p.removeprefix("hf://")).name == source for p in logged) else source.split(",")
    out = [p for p in logged for name in names if p == name or Path(p.removeprefix("hf://")).name == name]
    return list(dict.fromkeys(out)) or logged or names


def shell(text: str) -> str:
    import shlex

    return shlex.quote(str(text))


def fix_duplicates(ws: Workspace, part: Path, dataset: str, ids: list[str], dup: set[str], provenance: dict,
                   report: dict) -> None:
    """A part repeating records of earlier parts: moved to quarantine when it holds nothing else, else rewritten
    without the copies (the original goes to quarantine)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.store import compact_rows

    rel = ws.relative(part)
    copies = sum(1 for i in ids if i in dup)
    report["duplicates"]["records"] += copies
    if copies == len(ids):
        target = quarantine(ws, part)
        with ws.transaction() as conn:
            conn.execute("DELETE FROM parts WHERE part = ?", (rel,))
        report["duplicates"]["quarantined"].append({"part": rel, "moved_to": ws.relative(target), "records": copies})
        report["fixed"].append(f"moved {rel} to {ws.relative(target)}: all {copies:,} of its records are also in earlier parts")
        return
    table = pq.read_table(part)
    keep = pa.array([i not in dup for i in ids])
    table = table.filter(keep)
    new = part.with_name(f"{part.stem}-d{part.suffix}")  # sorts just before the original: the order of records stays
    known = provenance.get(rel)
    with ws.transaction() as conn:  # the new part's row before the part, as ingest does
        conn.execute("INSERT OR REPLACE INTO parts(part, dataset, source_path, rows, ts) VALUES (?,?,?,?,?)",
                     (ws.relative(new), dataset, known[1] if known else None,
                      compact_rows(table.column("row").to_pylist()), time.time()))
    write_atomically(new, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    target = quarantine(ws, part)
    with ws.transaction() as conn:
        conn.execute("DELETE FROM parts WHERE part = ?", (rel,))
    report["duplicates"]["rewritten"].append({"part": rel, "now": ws.relative(new), "moved_to": ws.relative(target),
                                              "removed": copies, "kept": len(table)})
    report["fixed"].append(f"rewrote {rel} without the {copies:,} record(s) also in earlier parts (original in "
                           f"{ws.relative(target)})")


# --- caches ---------------------------------------------------------------------------------------------------------


def check_caches(ws: Workspace, report: dict) -> None:
    """Remove damaged derived files: recomputing them only costs time."""
    removed = report["caches"]["removed"]
    before = len(removed)
    check_embeddings(ws, report)
    for path in sorted((ws.root / "signals").glob("*.parquet")):
        check_file(ws, path, read_parquet, report)
    maps = ws.root / "maps"
    for stem in sorted({p.stem for p in maps.glob("*.parquet")} | {p.stem for p in maps.glob("*.json")}):
        pair = [maps / f"{stem}.parquet", maps / f"{stem}.json"]
        report["caches"]["checked"] += 1
        if any(p.exists() and not readable(p, read_parquet if p.suffix == ".parquet" else read_json) for p in pair):
            for p in pair:
                if p.exists():
                    remove(p)
                    removed.append(ws.relative(p))
    for path in sorted((ws.root / "dedup").glob("*.npz")):
        check_file(ws, path, read_npz, report)
    for path in sorted((ws.root / "scores").glob("*/*.parquet")):  # model scores: shards, and learned's latest run
        check_file(ws, path, read_parquet, report)
    for path in sorted((ws.root / "scores").glob("*/identity.json")):
        check_file(ws, path, read_json, report)
    if len(removed) > before:
        report["fixed"].append(f"removed {len(removed) - before} damaged cache file(s) (they are recomputed when needed)")


def readable(path: Path, read) -> bool:
    try:
        read(path)
    except FileNotFoundError:
        return True  # replaced or removed meanwhile
    except Exception:  # noqa: BLE001 - whatever the reader raises, the file is damaged
        return False
    return True


def check_file(ws: Workspace, path: Path, read, report: dict) -> None:
    report["caches"]["checked"] += 1
    if not readable(path, read):
        remove(path)
        report["caches"]["removed"].append(ws.relative(path))


def read_parquet(path: Path) -> None:
    import pyarrow.parquet as pq

    pq.read_table(path)


def read_json(path: Path) -> None:
    json.loads(path.read_text(encoding="utf-8"))


def read_npz(path: Path) -> None:
    import numpy as np

    with np.load(path) as data:
        for name in data.files:
            data[name]


def check_embeddings(ws: Workspace, report: dict) -> None:
    from curation.embed import cache_lock, read_shard

    root = ws.root / "embeddings"
    if not root.is_dir():
        return
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        with cache_lock(folder):  # writers hold it while they write a shard: no shard is half-written now
            keys = {p.name.removesuffix(".keys.npy") for p in folder.glob("shard-*.keys.npy")}
            vectors = {p.name.removesuffix(".vectors.npy") for p in folder.glob("shard-*.vectors.npy")}
            for stem in sorted(keys | vectors):
                report["caches"]["checked"] += 1
                pair = [folder / f"{stem}.keys.npy", folder / f"{stem}.vectors.npy"]
                if stem in keys and stem in vectors and read_shard(*pair) is not None:
                    continue
                for p in pair:
                    if p.exists():
                        remove(p)
                        report["caches"]["removed"].append(ws.relative(p))


def text_report(report: dict) -> str:
    """What `doctor` prints without --json."""
    if report["healthy"]:
        return f"workspace {report['workspace']}: healthy ({report['parts']['checked']} record parts, " \
               f"{report['caches']['checked']} cache files checked)"
    lines = [f"workspace {report['workspace']}:"]
    lines += [f"  fixed: {line}" for line in report["fixed"]]
    lines += [f"  lost: {line}" for line in report["lost"]]
    lines += [f"  needs you: {line}" for line in report["action"]]
    if report["temp_files"]["kept"]:
        lines.append(f"  {len(report['temp_files']['kept'])} temporary file(s) of running writers left alone")
    if report.get("report_file"):
        lines.append(f"  report kept in {report['report_file']}")
    return "\n".join(lines)


def exit_code(report: dict) -> int:
    return 1 if report["needs_action"] else 0

