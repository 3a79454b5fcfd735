"""Remove a dataset from the workspace, with an undo window: everything goes to the trash and can come back exactly.

    plan_removal(ws, "t0")          # what would go: records, parts, cache files, decisions, log entries, edits
    remove_dataset(ws, "t0")        # moves it into trash/<id>/ (files) and removed_rows (database rows)
    removed_datasets(ws)            # what can be restored, with when it was removed and until when
    restore_dataset(ws, "t0")       # everything back as it was: parts, decisions, audit log, edits, ingest log
    purge(ws)                       # delete what was removed more than WINDOW ago (or `everything=True`, or one name)

What moves: the dataset's record parts (`records/<folder>/`), the signals cached for those parts, the files of rows
ingest could not read (`rejects/`); in the database its registry row, part provenance, ingest log, current decisions,
audit log, edits and re-ingest entries (moved to `removed_rows`, one transaction, so nothing shows a ghost dataset:
`stats`, `records`, the stamps and `doctor` see it gone). Caches shared by content stay where they are (embeddings
keyed by text, model scores, the whole workspace's map and duplicate pairs): they never serve the wrong records, and
a restore finds them again. Only files the tool wrote are ever moved or deleted; a source file is never touched.

A protected evaluation set (`curation.decontaminate`) is removed only with `force=True`: without it, training records
that copy its items would no longer be flagged or left out of exports. A restore protects it again.

Nothing is deleted until `purge`: removals older than `WINDOW` (7 days) are purged when another dataset is removed
or on demand (`remove --purge`); `purge(everything=True)` or a name empties the trash at once.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path

from curation.errors import CurationError
from curation.workspace import Workspace, folder_name, write_atomically

WINDOW = 7 * 24 * 3600  # seconds a removed dataset stays restorable before `purge` deletes it
TRASH = "trash"
# Database tables holding a dataset's rows (column `dataset`; the registry: `name`), moved out and back whole.
TABLES = {"datasets": "name", "parts": "dataset", "ingests": "dataset", "state": "dataset", "log": "dataset",
          "edits": "dataset", "reingest": "dataset", "ingest_redactions": "dataset"}


def trash_dir(ws: Workspace) -> Path:
    return ws.root / TRASH


def _known(ws: Workspace, name: str) -> str:
    rows = ws.query("SELECT folder FROM datasets WHERE name = ?", (name,))
    if rows:
        return rows[0][0]
    if any(r["dataset"] == name for r in removed_datasets(ws)):
        raise CurationError(f"dataset {name!r} is already removed: `remove --restore {name}` brings it back",
                            dashboard=f"dataset {name!r} is already removed: Restore it under Recently removed")
    names = ", ".join(ws.datasets()) or "none yet"
    raise CurationError(f"no dataset named {name!r}: choose among {names}")


def _files(ws: Workspace, name: str, folder: str) -> list[Path]:
    """The files the tool wrote for this dataset alone: its parts, their cached signals, its rejects files."""
    parts = ws.parts(name)
    files = list(parts)
    signals = ws.root / "signals"
    for part in parts:
        files += sorted(p for p in signals.glob(f"{part.stem}.*.parquet") if p.is_file())
    for (rejects,) in ws.query("SELECT rejects_file FROM ingests WHERE dataset = ? AND rejects_file IS NOT NULL", (name,)):
        path = Path(rejects) if Path(rejects).is_absolute() else ws.root / rejects
        if path.is_file() and path.parent.resolve() == ws.rejects_dir.resolve() and path.name.startswith(folder_name(name)):
            files.append(path)
    return list(dict.fromkeys(files))


def _rows(conn, name: str) -> dict[str, list[dict]]:
    out = {}
    for table, column in TABLES.items():
        cursor = conn.execute(f"SELECT * FROM {table} WHERE {column} = ?", (name,))
        columns = [d[0] for d in cursor.description]
        out[table] = [dict(zip(columns, row)) for row in cursor.fetchall()]
    return out


def _protected(ws: Workspace) -> set[str]:
    from curation.decontaminate import protected_datasets

    return set(protected_datasets(ws))


def plan_removal(ws: Workspace, name: str) -> dict:
    """What removing the dataset would move to the trash (nothing is changed)."""
    folder = _known(ws, name)
    files = _files(ws, name, folder)
    conn = ws.connect()
    try:
        rows = _rows(conn, name)
    finally:
        conn.close()
    from curation.store import dataset_sizes

    return {"dataset": name, "records": dataset_sizes(ws).get(name, 0), "parts": len(ws.parts(name)),
            "files": [ws.relative(p) for p in files], "decisions": len(rows["state"]), "log_entries": len(rows["log"]),
            "edits": len(rows["edits"]), "edited_records": len({r["record_id"] for r in rows["edits"]}),
            "protected": name in _protected(ws), "window_days": WINDOW / 86400}


def remove_dataset(ws: Workspace, name: str, *, curator: str | None = None, force: bool = False) -> dict:
    """Move a dataset into the trash (see the module doc); returns what was moved, the removal's id, until when it
    can be restored, and the older removals purged (past the window)."""
    from curation.decisions import default_curator

    curator = (curator or "").strip() or default_curator()
    with ws.dataset_lock(name):
        folder = _known(ws, name)
        protected = name in _protected(ws)
        if protected and not force:
            raise CurationError(f"{name!r} is a protected evaluation set: without it, training records that copy its items are "
                                "no longer flagged or left out of exports. Remove it anyway with force (--force)",
                                dashboard=f"{name!r} is a protected evaluation set: without it, training records that copy "
                                "its items are no longer flagged or left out of exports. Tick 'Remove it anyway' to remove "
                                "it all the same")
        plan = plan_removal(ws, name)
        files = _files(ws, name, folder)
        now = time.time()
        rid = f"{time.strftime('%Y%m%dT%H%M%S', time.localtime(now))}-{folder}-{secrets.token_hex(3)}"
        target = trash_dir(ws) / rid
        moves = [(p, target / p.relative_to(ws.root)) for p in files]
        manifest = {"id": rid, "dataset": name, "folder": folder, "curator": curator, "ts": now, "protected": protected,
                    "files": [[ws.relative(a), ws.relative(b)] for a, b in moves], "counts": {k: plan[k] for k in (
                        "records", "parts", "decisions", "log_entries", "edits", "edited_records")}}
        target.mkdir(parents=True)
        write_atomically(target / "manifest.json", lambda tmp: tmp.write_text(json.dumps(manifest, indent=1)))
        if protected:
            from curation.decontaminate import DecontaminationSettings

            DecontaminationSettings.save(ws, protected=sorted(_protected(ws) - {name}))
        with ws.transaction() as conn:
            rows = _rows(conn, name)
            conn.executemany("INSERT INTO removed_rows(removal, tbl, data) VALUES (?,?,?)",
                             [(rid, table, json.dumps(row)) for table, items in rows.items() for row in items])
            for table, column in TABLES.items():
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))
            conn.execute("INSERT INTO removals(id, dataset, folder, trash, curator, ts, manifest) VALUES (?,?,?,?,?,?,?)",
                         (rid, name, folder, ws.relative(target), curator, now, json.dumps(manifest)))
        for source, dest in moves:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, dest)
        try:
            (ws.records_dir / folder).rmdir()  # empty now (the tool's own folder); left if anything else is in it
        except OSError:
            pass
    purged = purge(ws, now=now)
    return {**plan, "removed": True, "id": rid, "trash": ws.relative(target), "curator": curator,
            "restorable_until": now + WINDOW, "purged": purged}


def removed_datasets(ws: Workspace) -> list[dict]:
    """Removals that can be restored, newest first: id, dataset, when (ts), by whom, until when, and what they hold."""
    out = []
    for rid, name, folder, trash, curator, ts, manifest in ws.query(
            "SELECT id, dataset, folder, trash, curator, ts, manifest FROM removals ORDER BY ts DESC, id DESC"):
        counts = json.loads(manifest).get("counts", {})
        out.append({"id": rid, "dataset": name, "folder": folder, "trash": trash, "curator": curator, "removed_at": ts,
                    "restorable_until": ts + WINDOW, **counts})
    return out


def _removal(ws: Workspace, name: str) -> dict:
    found = [r for r in removed_datasets(ws) if name in (r["dataset"], r["id"])]
    if not found:
        listed = ", ".join(r["dataset"] for r in removed_datasets(ws)) or "none"
        raise CurationError(f"no removed dataset named {name!r} to restore (removed: {listed})")
    return found[0]


def restore_dataset(ws: Workspace, name: str) -> dict:
    """Bring back the latest removal of `name` (a dataset name or a removal id) exactly: its files to where they were,
    its database rows as they were (decisions, audit log, edits…), its protection. Returns what came back."""
    entry = _removal(ws, name)
    rid, name = entry["id"], entry["dataset"]
    with ws.dataset_lock(name):
        if ws.query("SELECT 1 FROM datasets WHERE name = ?", (name,)):
            raise CurationError(f"a dataset named {name!r} exists again (ingested after the removal): remove it first "
                                f"(`remove {name} --yes`), then restore",
                                dashboard=f"a dataset named {name!r} exists again (loaded after the removal): remove it "
                                "first, then restore")
        manifest = json.loads(ws.query("SELECT manifest FROM removals WHERE id = ?", (rid,))[0][0])
        moves = [(ws.root / a, ws.root / b) for a, b in manifest["files"]]
        for original, trashed in moves:
            if original.exists() and trashed.exists():
                raise CurationError(f"{ws.relative(original)} exists again: move it away, then restore")
            if not original.exists() and not trashed.exists():
                raise CurationError(f"{ws.relative(trashed)} is gone from the trash: {name!r} cannot be restored whole")
        for original, trashed in moves:
            if trashed.exists():
                original.parent.mkdir(parents=True, exist_ok=True)
                os.replace(trashed, original)
        with ws.transaction() as conn:
            for table, data in conn.execute("SELECT tbl, data FROM removed_rows WHERE removal = ? ORDER BY rowid", (rid,)).fetchall():
                row = json.loads(data)
                marks = ",".join("?" * len(row))
                verb = "INSERT OR REPLACE" if table == "state" else "INSERT"
                conn.execute(f"{verb} INTO {table}({', '.join(row)}) VALUES ({marks})", list(row.values()))
            conn.execute("DELETE FROM removed_rows WHERE removal = ?", (rid,))
            conn.execute("DELETE FROM removals WHERE id = ?", (rid,))
        (ws.records_dir / manifest["folder"]).mkdir(parents=True, exist_ok=True)
        if manifest.get("protected"):
            from curation.decontaminate import protect

            protect(ws, [name])
        _delete_trash(ws, rid)
    return {"dataset": name, "id": rid, "restored": True, **manifest["counts"], "protected": bool(manifest.get("protected"))}


def _delete_trash(ws: Workspace, rid: str) -> None:
    """Delete one removal's trash folder: only trash/<id>, the tool's own."""
    folder = trash_dir(ws) / rid
    if folder.parent.resolve() != trash_dir(ws).resolve() or not rid or "/" in rid or rid.startswith("."):
        raise CurationError(f"refusing to delete {folder}: not a removal's folder in the trash")
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
    try:
        trash_dir(ws).rmdir()  # the trash folder itself, once empty
    except OSError:
        pass


def purge(ws: Workspace, *, name: str | None = None, everything: bool = False, now: float | None = None,
          window: float = WINDOW) -> list[dict]:
    """Delete removals for good: those older than the window (default), one dataset's (`name`), or all
    (`everything`). Only the trash is deleted: trash/<id>/ and the removal's rows. Returns what was purged."""
    now = time.time() if now is None else now
    entries = removed_datasets(ws)
    if name is not None:
        chosen = [r for r in entries if name in (r["dataset"], r["id"])]
        if not chosen:
            raise CurationError(f"no removed dataset named {name!r} to purge")
    elif everything:
        chosen = entries
    else:
        chosen = [r for r in entries if r["removed_at"] + window <= now]
    for entry in chosen:
        with ws.transaction() as conn:
            conn.execute("DELETE FROM removed_rows WHERE removal = ?", (entry["id"],))
            conn.execute("DELETE FROM removals WHERE id = ?", (entry["id"],))
        _delete_trash(ws, entry["id"])
    return [{"dataset": r["dataset"], "id": r["id"], "removed_at": r["removed_at"]} for r in chosen]
