"""One directory holds all state of a curation project.

- `curation.db`: SQLite in WAL mode — dataset registry, ingest log, curator
  decisions (current state + append-only audit log). Small transactional writes
  that survive a crash and concurrent writers.
- `records/<dataset>/part-*.parquet`: the records, one immutable part per ingest,
  written atomically (temp file + rename).
- `rejects/`: source lines that could not be read, with file, line and reason.
- `uploads/`: copies of files uploaded through the dashboard.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from curation.errors import CurationError

SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    name TEXT PRIMARY KEY, folder TEXT NOT NULL UNIQUE, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ingests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT NOT NULL, path TEXT NOT NULL,
    format TEXT, added INTEGER, skipped INTEGER, errors INTEGER, rejects_file TEXT, ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL, dataset TEXT NOT NULL,
    action TEXT NOT NULL, reason TEXT, curator TEXT, ts REAL NOT NULL, undoes INTEGER
);
CREATE INDEX IF NOT EXISTS log_record ON log(record_id);
CREATE TABLE IF NOT EXISTS state (
    record_id TEXT PRIMARY KEY, dataset TEXT NOT NULL, decision TEXT NOT NULL,
    reason TEXT, curator TEXT, ts REAL NOT NULL
);
"""


def write_atomically(path: Path, write) -> Path:
    """`write(tmp)` into a hidden file beside `path`, then rename it: readers never see a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)
    return path


def default_root() -> Path:
    return Path(os.environ.get("CURATION_WORKSPACE", "workspace"))


def folder_name(dataset: str) -> str:
    """A safe folder name for a dataset name; distinct names never share a folder."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", dataset).strip("._") or "dataset"
    if safe != dataset:
        safe += "-" + hashlib.blake2b(dataset.encode(), digest_size=4).hexdigest()
    return safe


class Workspace:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        if self.root.exists() and not self.root.is_dir():
            raise CurationError(f"workspace {self.root} is a file, not a directory")
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "curation.db"
        self.records_dir = self.root / "records"
        self.rejects_dir = self.root / "rejects"
        self.uploads_dir = self.root / "uploads"
        with self.connect() as conn:
            conn.executescript(SCHEMA)

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=60, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=60000")
        return conn

    @contextmanager
    def transaction(self):
        """A write transaction: taken at once (BEGIN IMMEDIATE), committed whole or not at all."""
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def query(self, sql: str, params=()) -> list[tuple]:
        conn = self.connect()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    # --- datasets -----------------------------------------------------------------
    def register_dataset(self, name: str) -> Path:
        folder = folder_name(name)
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO datasets(name, folder, created) VALUES (?, ?, ?)", (name, folder, time.time()))
        path = self.records_dir / folder
        path.mkdir(parents=True, exist_ok=True)
        return path

    def datasets(self) -> list[str]:
        return [name for (name,) in self.query("SELECT name FROM datasets ORDER BY created, name")]

    def parts(self, dataset: str | None = None) -> list[Path]:
        """The Parquet parts holding records, oldest first."""
        rows = self.query("SELECT name, folder FROM datasets ORDER BY created, name")
        folders = [folder for name, folder in rows if dataset is None or name == dataset]
        return [p for f in folders for p in sorted((self.records_dir / f).glob("part-*.parquet"))]

    def fingerprint(self) -> tuple:
        """Changes whenever records are added: a cache key for loaded frames."""
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in self.parts())

    def write_part(self, folder: Path, table) -> Path:
        import pyarrow.parquet as pq

        stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{time.time_ns() % 1_000_000_000:09d}"
        final = folder / f"part-{stamp}.parquet"
        return write_atomically(final, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
