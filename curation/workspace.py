"""One directory holds all state of a curation project.

- `curation.db`: SQLite in WAL mode — dataset registry, ingest log, curator
  decisions (current state + append-only audit log), each stage's settings. Small transactional writes
  that survive a crash and concurrent writers.
- `records/<dataset>/part-*.parquet`: the records, one immutable part per ingest,
  written atomically (temp file + rename).
- `rejects/`: source lines that could not be read, with file, line and reason.
- `uploads/`: copies of files uploaded through the dashboard.
- `quarantine/`: damaged record parts and databases that `doctor` moved aside
  (never deleted).
- `trash/`: removed datasets (`curation.remove`), restorable until purged.

Every file is written under a temporary name that carries the writer's pid
(`.<name>.<pid>-<host>-<random>.tmp`) and renamed into place; opening a workspace
removes the temporary files of writers that are gone, only in the tool's own
folders and only under that exact name (never a user's file or folder).

Only `ingest` (and the dashboard) create a workspace: every other command opens
an existing one (`Workspace(root, create=False)`) and says so when there is none.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shlex
import shutil
import socket
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer at a time is then the user's job
    fcntl = None

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
CREATE TABLE IF NOT EXISTS parts (
    part TEXT PRIMARY KEY, dataset TEXT NOT NULL, source_path TEXT, rows TEXT, ts REAL
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reingest (
    part TEXT PRIMARY KEY, dataset TEXT NOT NULL, source TEXT, rows TEXT, paths TEXT, problem TEXT, moved_to TEXT,
    ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS edits (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL, dataset TEXT NOT NULL, version INTEGER NOT NULL,
    changes TEXT NOT NULL, curator TEXT, reason TEXT, ts REAL NOT NULL, undoes INTEGER
);
CREATE INDEX IF NOT EXISTS edits_record ON edits(record_id);
CREATE TABLE IF NOT EXISTS removals (
    id TEXT PRIMARY KEY, dataset TEXT NOT NULL, folder TEXT NOT NULL, trash TEXT NOT NULL, curator TEXT,
    ts REAL NOT NULL, manifest TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS removed_rows (
    removal TEXT NOT NULL, tbl TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS removed_rows_removal ON removed_rows(removal);
CREATE TABLE IF NOT EXISTS ingest_redactions (
    ingest INTEGER NOT NULL, dataset TEXT NOT NULL, kind TEXT NOT NULL, count INTEGER NOT NULL
);
"""
# Every table and its columns: what `doctor` checks and salvages. Opening a workspace creates the tables it lacks
# (a workspace from an older version gains `settings`).
TABLES = {
    "datasets": ("name", "folder", "created"),
    "ingests": ("id", "dataset", "path", "format", "added", "skipped", "errors", "rejects_file", "ts"),
    "log": ("seq", "record_id", "dataset", "action", "reason", "curator", "ts", "undoes"),
    "state": ("record_id", "dataset", "decision", "reason", "curator", "ts"),
    "parts": ("part", "dataset", "source_path", "rows", "ts"),
    "settings": ("key", "value"),
    "reingest": ("part", "dataset", "source", "rows", "paths", "problem", "moved_to", "ts"),
    "edits": ("seq", "record_id", "dataset", "version", "changes", "curator", "reason", "ts", "undoes"),  # curation.edits
    "removals": ("id", "dataset", "folder", "trash", "curator", "ts", "manifest"),  # curation.remove: the undo window
    "removed_rows": ("removal", "tbl", "data"),
    "ingest_redactions": ("ingest", "dataset", "kind", "count"),  # curation.pii: personal data redacted per ingest
}
TMP_NAME = re.compile(r"^\.(.+)\.(\d+)-([0-9a-f]{6})-[0-9a-f]{8}\.tmp$")  # .<name>.<pid>-<host>-<random>.tmp: temp_path's
STALE_AFTER = 24 * 3600  # seconds: a temporary file this old is an orphan whoever wrote it
# What the tool keeps at the top of a workspace: never read back as a source by ingest (uploads/ is the user's files).
OWN_ENTRIES = ("curation.db", "curation.db-wal", "curation.db-shm", "records", "rejects", "quarantine", "signals",
               "embeddings", "maps", "dedup", "groups", "models", "scores", "locks", "exports", "llm", "generate", "trash")
# The only folders whose temporary files the workspace cleans: the tool's own. Files directly inside these …
FLAT_FOLDERS = ("signals", "maps", "dedup", "groups", "models")
# … and directly inside each subfolder of these (records/<dataset>/, embeddings/<key>/, scores/<scorer-key>/).
NESTED_FOLDERS = ("records", "embeddings", "scores")
# Models written whole into models/<name> under a temporary folder name (embed.distill_static, the ifd scorer): the only
# folders ever removed, and only under exactly that name.
MODEL_FOLDERS = ("static-minilm", "smollm2-135m-instruct", "cross-minilm-mrpc-v1")  # the last: dedup/pairmodel.py


def host_tag() -> str:
    """Six hex characters naming this machine: a pid means something only on the machine that wrote it."""
    return hashlib.blake2b(socket.gethostname().encode(), digest_size=3).hexdigest()


def temp_path(path: Path) -> Path:
    """A hidden temporary name beside `path`, unique to this writer (pid, host, random) and findable as an orphan."""
    return path.with_name(f".{path.name}.{os.getpid()}-{host_tag()}-{secrets.token_hex(4)}.tmp")


def write_atomically(path: Path, write) -> Path:
    """`write(tmp)` into a hidden file beside `path`, then rename it: readers never see a half-written file.

    The temporary name is unique to the writer, so two writers of the same file never collide (the last
    rename wins, whole); a failed write removes its temporary file.
    """
    tmp = temp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        remove(tmp)
        raise
    return path


def write_folder_atomically(target: Path, marker: str, write) -> Path:
    """`write(tmp)` fills a unique temporary folder, renamed to `target` whole, so a reader never sees half a folder.
    When another process renamed its folder there first (its `marker` file is present), that one wins and ours goes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(target)
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError:
        if not (target / marker).exists():
            raise
    finally:
        remove(tmp)
    return target


def remove(path: Path) -> None:
    """Remove a file or folder this tool wrote, if it is still there."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


@contextmanager
def file_lock(path: Path):
    """An exclusive advisory lock (flock) on `path`, across processes; released when the block ends or the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` may still run on this machine: True when unsure (another user's process, a system without
    kill 0 — on Windows os.kill would end the process), so nothing of a live writer is ever removed."""
    if pid <= 0:
        return False
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's process
        return True
    return True


def temp_folders(root: Path) -> list[Path]:
    """The folders whose temporary files the workspace cleans: the tool's own (see FLAT_FOLDERS, NESTED_FOLDERS), never
    the user's uploads, exports, the quarantine or anything else; a symbolic link is never followed."""
    folders = [root / name for name in FLAT_FOLDERS]
    for name in NESTED_FOLDERS:
        try:
            folders += [Path(e.path) for e in os.scandir(root / name) if e.is_dir(follow_symlinks=False)]
        except (FileNotFoundError, NotADirectoryError):
            continue
    return folders


def is_temp(entry: os.DirEntry, folder: Path) -> bool:
    """Whether a folder entry is one of the tool's temporary files: a plain file named exactly as `temp_path` names
    them, or in models/ a model folder being written under exactly that name (`.static-minilm.<pid>-<host>-<hex>.tmp`)."""
    match = TMP_NAME.match(entry.name)
    if match is None:
        return False
    if entry.is_file(follow_symlinks=False):
        return True
    return folder.name == "models" and match.group(1) in MODEL_FOLDERS and entry.is_dir(follow_symlinks=False)


def orphan_temp_files(root: Path, *, now: float | None = None) -> tuple[list[Path], list[Path]]:
    """(orphans, live) temporary files in the workspace: an orphan's writer is gone (its pid is dead on this
    machine) or it is a day old (whoever wrote it, e.g. another machine sharing the folder).

    Only files named exactly as `write_atomically` names them, only in the tool's own folders (records/<dataset>/,
    signals/, embeddings/<key>/, maps/, dedup/, groups/, models/, scores/<key>/): never a user's file or folder elsewhere.
    """
    now = time.time() if now is None else now
    host = host_tag()
    orphans, live = [], []
    for folder in temp_folders(root):
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if not is_temp(entry, folder):
                continue
            match = TMP_NAME.match(entry.name)
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:  # renamed into place meanwhile
                continue
            dead = match.group(3) == host and not pid_alive(int(match.group(2)))
            (orphans if dead or age > STALE_AFTER else live).append(Path(entry.path))
    return orphans, live


def clean_orphans(root: Path) -> list[Path]:
    """Remove the temporary files of writers that are gone; returns what was removed."""
    orphans, _ = orphan_temp_files(root)
    for path in orphans:
        remove(path)
    return orphans


DAMAGE_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def is_damage(exc: BaseException) -> bool:
    """Whether a SQLite error means the database file is damaged (not merely busy or locked)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    return name.startswith(DAMAGE_CODES) or "malformed" in text or "not a database" in text


class DamagedWorkspace(CurationError):
    """A workspace file (the database, a record part) is damaged: the message says which, and the doctor command to run."""


def doctor_command(root: str | Path | None) -> str:
    """The doctor command for this workspace, runnable as written from any folder."""
    root = Path(root) if root is not None else default_root()
    return f"python -m curation doctor --workspace {shlex.quote(str(root.expanduser().resolve()))}"


def damaged_database(db_path: Path, exc: BaseException) -> DamagedWorkspace:
    return DamagedWorkspace(f"workspace database {db_path} is damaged ({exc}): run `{doctor_command(Path(db_path).parent)}`")


class _Connection(sqlite3.Connection):
    """A connection whose statements turn a damaged-database error into a CurationError that names the file."""

    db_path: Path | None = None

    def execute(self, *args, **kwargs):
        try:
            return super().execute(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise self._checked(exc) from exc

    def executemany(self, *args, **kwargs):
        try:
            return super().executemany(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise self._checked(exc) from exc

    def executescript(self, *args, **kwargs):
        try:
            return super().executescript(*args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise self._checked(exc) from exc

    def _checked(self, exc: sqlite3.DatabaseError) -> BaseException:
        return damaged_database(self.db_path, exc) if is_damage(exc) else exc


def default_root() -> Path:
    return Path(os.environ.get("CURATION_WORKSPACE", "workspace"))


def folder_name(dataset: str) -> str:
    """A safe folder name for a dataset name; distinct names never share a folder."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", dataset).strip("._") or "dataset"
    if safe != dataset:
        safe += "-" + hashlib.blake2b(dataset.encode(), digest_size=4).hexdigest()
    return safe


def is_workspace(root: Path) -> bool:
    """Whether a folder holds a workspace: its database or its records."""
    return root.is_dir() and ((root / "curation.db").exists() or (root / "records").is_dir())


class Workspace:
    def __init__(self, root: str | Path | None = None, *, open_db: bool = True, create: bool = True):
        """Open (or create) a workspace, removing temporary files that killed writers left behind.

        `open_db=False` touches no database (what `doctor` needs to open a workspace whose database is damaged).
        `create=False` opens only an existing workspace (a folder holding curation.db or records/), creating nothing:
        what every command but `ingest` does, so that a mistyped path is an error, not a new empty workspace.
        """
        self.root = Path(root) if root is not None else default_root()
        if self.root.exists() and not self.root.is_dir():
            raise CurationError(f"workspace {self.root} is a file, not a directory")
        if not create and not is_workspace(self.root):
            raise CurationError(f"no workspace at {self.root.expanduser().resolve()} (ingest creates one)")
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "curation.db"
        self.records_dir = self.root / "records"
        self.rejects_dir = self.root / "rejects"
        self.uploads_dir = self.root / "uploads"
        self.quarantine_dir = self.root / "quarantine"
        self.cleaned = clean_orphans(self.root)
        if open_db:
            self.create_schema()

    def create_schema(self) -> None:
        conn = self.connect()
        try:
            conn.executescript(SCHEMA)
        finally:
            conn.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def connect(self) -> sqlite3.Connection:
        """A connection (autocommit; WAL); a damaged database file raises a CurationError that says to run doctor."""
        conn = sqlite3.connect(self.db_path, timeout=60, isolation_level=None, factory=_Connection)
        conn.db_path = self.db_path
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
        except BaseException:
            conn.close()
            raise
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
        except sqlite3.DatabaseError as exc:  # damage found while reading rows, after execute() began
            if is_damage(exc):
                raise damaged_database(self.db_path, exc) from exc
            raise
        finally:
            conn.close()

    def lock(self, name: str):
        """An exclusive lock named `name` across every process using this workspace (see `file_lock`)."""
        return file_lock(self.root / "locks" / f"{name}.lock")

    def relative(self, path: Path) -> str:
        """A path inside the workspace as the user reads it in messages: records/x/part-….parquet."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

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

    def new_part(self, folder: Path) -> Path:
        """The name of a new part, known before it is written (its provenance is recorded first)."""
        now = time.time_ns()  # one reading: seconds and nanoseconds from two could cross a second and sort out of order
        stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now // 1_000_000_000)) + f"-{now % 1_000_000_000:09d}"
        return folder / f"part-{stamp}.parquet"

    def write_part(self, folder: Path, table, final: Path | None = None) -> Path:
        import pyarrow.parquet as pq

        final = self.new_part(folder) if final is None else final
        return write_atomically(final, lambda tmp: pq.write_table(table, tmp, compression="zstd"))

    def dataset_lock(self, dataset: str):
        """Held around "read the dataset's record ids, write a new part": a record id is stored once."""
        return self.lock(f"dataset-{folder_name(dataset)}")
