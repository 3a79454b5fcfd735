"""Records from SQL databases: the rows of a table or a query, read through SQLAlchemy in chunks.

Any SQLAlchemy URL names the database: `sqlite:///support.db`, `duckdb:///warehouse.duckdb` (duckdb-engine),
`postgresql+psycopg://curator@db.internal:5432/support`. The password comes from the URL or, better, from an
environment variable (`password_env`); it is never written anywhere: the URL the records, the ingest log and every
message carry is the URL without it (and without secret query parameters), and error messages are scrubbed of it.

Rows are fetched `FETCH_ROWS` at a time and written as a record part every `PART_ROWS` rows, so a table of millions
of rows never sits in memory at once. Columns become record fields as in a file: auto-detected (alpaca, dolly,
prompt/completion columns, or obvious names such as question/answer) or mapped (`--map instruction=question
output=answer`), through the same formats (`curation.formats`) and the same conversion (`curation.ingest`).

Each record's id comes from the dataset and the row's key (`--key`, default the table's primary key), so ingesting
the same query again adds only rows whose key is new. Without a key a record is identified by its whole content.
Databases are opened read-only where the driver allows it (SQLite `mode=ro`, DuckDB `read_only`, PostgreSQL
read-only transactions): ingest never changes a source.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

from curation.errors import CurationError, Phrased, UnknownFormat
from curation.readers import Problem, Rows, json_safe
from curation.records import canonical_json

URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)(?:\+[A-Za-z0-9_]+)?://")
NOT_SQL = {"hf", "http", "https", "ftp", "file", "s3", "gs", "gcs", "az", "abfs"}  # URLs that are not databases
SECRET_KEYS = ("password", "passwd", "pwd", "secret", "token")  # query parameters left out of the shown URL
FETCH_ROWS = 5_000  # rows fetched from the database at a time
PART_ROWS = 100_000  # records written as one part
PROVENANCE = "sql"  # the meta key of a record's provenance ({url, query, key}); "_sql" when the row has a column "sql"
NATIVE = (str, int, float, bool, type(None))
# Obvious column names, for a table whose columns fit no format: the first of each list present is used.
GUESSES = {
    "instruction": ("instruction", "question", "prompt", "query", "request", "user", "input_text"),
    "input": ("input", "context"),
    "output": ("output", "answer", "response", "completion", "reply", "assistant", "target"),
    "system": ("system", "system_prompt"),
}


def is_sql_url(path) -> bool:
    """Whether an ingest argument is a database URL (`dialect[+driver]://…`), not a file, folder or hub id."""
    match = URL_SCHEME.match(str(path))
    return bool(match) and match.group(1).lower() not in NOT_SQL


def masked(text: str) -> str:
    """A URL string with any password replaced by ***, for messages about a URL that could not even be parsed."""
    text = re.sub(r"(://[^/@:]*:)[^@/]*@", r"\1***@", str(text))
    return re.sub(rf"((?:{'|'.join(SECRET_KEYS)})[^=&]*=)[^&]*", r"\1***", text, flags=re.I)


SHORT_SECRET = 6  # characters: a secret shorter than this is scrubbed only where it stands alone


@dataclass
class Database:
    """An opened database: the engine, the URL as shown (no password), and the secrets to scrub from messages."""

    engine: object
    shown: str
    secrets: tuple[str, ...] = field(default=())

    def scrub(self, text: str) -> str:
        """The text with every secret replaced by ***. A short secret (under SHORT_SECRET characters) only where it
        stands alone: a password "p" must not turn "psycopg" into "***syco***g"."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) >= SHORT_SECRET:
                text = text.replace(secret, "***")
            else:
                text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "***", text)
        return text

    def error(self, message: str, dashboard: str | None = None) -> CurationError:
        return CurationError(self.scrub(message), dashboard=self.scrub(dashboard) if dashboard else None)


def secret_forms(values) -> tuple[str, ...]:
    """Each secret as written and URL-quoted, so that it is found however a message spells it."""
    forms = set()
    for value in values:
        if value:
            forms.update({value, quote(value, safe=""), quote_plus(value)})
    return tuple(forms)


DRIVER_HINTS = {  # the database kind -> what to install or write when its driver is missing
    "postgresql": "for PostgreSQL write postgresql+psycopg:// (psycopg 3 is installed)",
    "mysql": "for MySQL or MariaDB: pip install pymysql, then write mysql+pymysql://",
    "mariadb": "for MySQL or MariaDB: pip install pymysql, then write mysql+pymysql://",
    "mssql": "for SQL Server: pip install pyodbc (and an ODBC driver), then write mssql+pyodbc://",
    "oracle": "for Oracle: pip install oracledb, then write oracle+oracledb://",
}


def driver_hint(kind: str) -> str:
    """What to do when the driver for this kind of database is not installed."""
    return DRIVER_HINTS.get(kind, f"install the Python driver SQLAlchemy names for {kind}")


def connect(url: str, *, password: str | None = None, password_env: str | None = None) -> Database:
    """An engine for a SQLAlchemy URL, opened read-only where the driver allows; a clear CurationError otherwise."""
    import sqlalchemy as sa
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    from sqlalchemy.pool import NullPool

    try:
        parsed = sa.make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise CurationError(f"{masked(url)}: not a database URL ({masked(str(exc))}); write it like "
                            "postgresql+psycopg://user@host:5432/dbname or sqlite:///file.db") from None
    secrets = [parsed.password, *(v for k, v in parsed.query.items() if is_secret(k) and isinstance(v, str))]
    if password_env:
        if password_env not in os.environ:
            raise CurationError(f"the environment variable {password_env} (--password-env) is not set: export it with the "
                                "database password",
                                dashboard=f"the environment variable {password_env} is not set: type the password in its "
                                          "field instead")
        password = os.environ[password_env]
    if password:
        parsed = parsed.set(password=password)
        secrets.append(password)
    public = sa.engine.URL.create(parsed.drivername, username=parsed.username, host=parsed.host, port=parsed.port,
                                  database=parsed.database,
                                  query={k: v for k, v in parsed.query.items() if not is_secret(k)})
    db = Database(None, public.render_as_string(hide_password=False), secret_forms(str(s) for s in secrets if s))
    backend = parsed.get_backend_name()
    connect_args: dict = {}
    if backend in ("sqlite", "duckdb"):
        parsed, connect_args, where = read_only_file(db, parsed, backend)
        if where is not None:  # provenance and the ingest log name the file by its absolute path, as for a source file
            db.shown = public.set(database=str(where)).render_as_string(hide_password=False)
    if parsed.drivername == "postgresql":  # SQLAlchemy's default driver is psycopg2; we ship psycopg 3
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        db.engine = sa.create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
    except NoSuchModuleError:
        raise db.error(f"{db.shown}: unknown kind of database {parsed.drivername!r}; SQLAlchemy URLs start with sqlite://, "
                       "duckdb://, postgresql+psycopg://, mysql+pymysql:// …") from None
    except ImportError as exc:
        raise db.error(f"{db.shown}: the database driver for {parsed.drivername} is not installed ({exc}); "
                       + driver_hint(parsed.get_backend_name())) from None
    except (ArgumentError, ValueError, TypeError) as exc:
        raise db.error(f"{db.shown}: bad database URL ({exc})") from None
    return db


def is_secret(key: str) -> bool:
    return any(s in key.lower() for s in SECRET_KEYS)


def read_only_file(db: Database, url, backend: str):
    """A file database must exist (SQLite and DuckDB would create an empty one) and is opened read-only:
    (url to open, connect_args, the file's absolute path or None)."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return url, {}, None
    path = Path(database).expanduser()
    if not path.is_file():
        what = "a folder, not a database file" if path.is_dir() else "no such database file"
        raise db.error(f"{db.shown}: {what} ({path})")
    if backend == "duckdb":
        return url, {"read_only": True}, path.resolve()
    return url.set(database=f"file:{path.resolve()}", query={**url.query, "mode": "ro", "uri": "true"}), {}, path.resolve()


def cause(exc: BaseException) -> str:
    """The driver's own message, on one line (without SQLAlchemy's [SQL: …] and background link)."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines()]
    lines = [line for line in lines if line and not line.startswith(("[SQL", "(Background", "LINE ", "^"))]
    return " ".join(lines[:2]) or type(orig).__name__


def split_table(table: str) -> tuple[str | None, str]:
    schema, _, name = table.strip().rpartition(".")
    return schema or None, name


def statement(db: Database, table: str | None, query: str | None):
    """(the SQLAlchemy statement, the SQL as shown in provenance and messages)."""
    import sqlalchemy as sa

    query = (query or "").strip().rstrip(";").strip()  # a closing semicolon breaks PostgreSQL's server-side cursor
    if query:
        # text() reads :name as a bind parameter; a query names none, so every colon is literal ('12:30', ::casts)
        return sa.text(query.replace(":", "\\:")), query
    if not table or not table.strip():
        raise CurationError(f"{db.shown}: name a --table or a --query (SELECT …) to read",
                            dashboard=f"{db.shown}: fill in the Table field or the Query field (a SELECT …) to read")
    schema, name = split_table(table)
    stmt = sa.select(sa.literal_column("*")).select_from(sa.table(name, schema=schema))
    return stmt, " ".join(str(stmt.compile(dialect=db.engine.dialect)).split())


def primary_key(db: Database, conn, table: str) -> list[str]:
    """The table's primary key columns ([] when it has none or the driver cannot say)."""
    import sqlalchemy as sa

    schema, name = split_table(table)
    try:
        return list(sa.inspect(conn).get_pk_constraint(name, schema=schema).get("constrained_columns") or [])
    except Exception:  # noqa: BLE001 - duckdb-engine's reflection fails on SQLAlchemy 2.1 (it speaks the Postgres catalog)
        conn.rollback()
    if db.engine.dialect.name == "duckdb":
        try:
            rows = conn.exec_driver_sql(
                "SELECT constraint_column_names FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' "
                "AND table_name = ?" + (" AND schema_name = ?" if schema else ""), (name, schema) if schema else (name,)
            ).fetchall()
            return list(rows[0][0]) if rows else []
        except Exception:  # noqa: BLE001 - best effort: without a key, records are identified by content
            conn.rollback()
    return []


def tables_hint(db: Database, conn) -> str:
    """'; tables: a, b, c' for a message about a missing table (empty when they cannot be listed)."""
    import sqlalchemy as sa

    try:
        conn.rollback()
        names = sa.inspect(conn).get_table_names()
    except Exception:  # noqa: BLE001 - only a hint
        return ""
    shown = ", ".join(names[:20]) + (" …" if len(names) > 20 else "")
    return f"; its tables: {shown}" if names else "; the database has no tables"


def guess_mapping(columns: list[str]) -> dict[str, str] | None:
    """instruction/output (and input, system) from obvious column names, when each is clear; None otherwise."""
    lower = {c.lower(): c for c in columns}
    mapping = {}
    for target, names in GUESSES.items():
        found = next((lower[n] for n in names if n in lower and lower[n] not in mapping.values()), None)
        if found is not None:
            mapping[target] = found
    if "instruction" not in mapping or "output" not in mapping:
        return None
    return mapping


def key_columns(key) -> list[str]:
    if not key:
        return []
    parts = [key] if isinstance(key, str) else list(key)
    return [c.strip() for p in parts for c in str(p).split(",") if c.strip()]


def sql_record_id(dataset: str, key_json: bytes, sub: int) -> str:
    """Stable for the same dataset and key (or content, without a key), whatever the row's position or text."""
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{dataset}\x1fsql\x1f{sub}\x1f".encode())
    h.update(key_json)
    return h.hexdigest()


class Reader:
    """One query's rows as JSON-safe dicts, in chunks; the columns, key and format found on the way."""

    def __init__(self, db: Database, conn, stmt, shown_query: str, table: str | None, key: list[str]):
        self.db, self.conn, self.shown_query, self.table = db, conn, shown_query, table
        try:
            self.result = conn.execute(stmt)
        except Exception as exc:  # noqa: BLE001 - every driver error becomes one line
            raise self.failure(exc) from None
        if not self.result.returns_rows:
            raise db.error(f"{db.shown}: the query returns no rows (read with a SELECT): {shown_query}")
        self.columns = list(self.result.keys())
        self.warnings = []
        repeated = sorted({c for c in self.columns if self.columns.count(c) > 1})
        if repeated:
            self.warnings.append(f"{db.shown}: column name(s) {', '.join(repeated)} appear more than once in the result: "
                                 "only the last of each is kept; name them apart with AS")
        self.key = key
        missing = [c for c in key if c not in self.columns]
        if missing:
            raise db.error(f"{db.shown}: key column(s) {', '.join(missing)} are not in the result; its columns are "
                           f"{', '.join(self.columns)}")
        self.meta_key = PROVENANCE if PROVENANCE not in self.columns else "_" + PROVENANCE
        self.read = 0

    def failure(self, exc: BaseException) -> CurationError:
        text = cause(exc)
        hint = tables_hint(self.db, self.conn) if self.table and re.search(r"no such table|does not exist|not found", text,
                                                                           re.I) else ""
        return self.db.error(f"{self.db.shown}: the query failed: {text} (query: {short(self.shown_query)}){hint}")

    def chunks(self, size: int, skip=None):
        """Lists of (row number, row dict, key label, key json) of `size` rows at most. `skip(key_json)`: rows whose
        key it accepts (already stored) are only counted, in `self.skipped`, never built into dicts."""
        columns, key = self.columns, self.key
        where = [len(columns) - 1 - columns[::-1].index(c) for c in key]  # a repeated name: the last one, as the dict
        self.skipped = 0
        while True:
            try:
                batch = self.result.fetchmany(size)
            except Exception as exc:  # noqa: BLE001 - a connection lost half-way, a value the driver cannot decode
                raise self.failure(exc) from None
            if not batch:
                return
            out = []
            for values in batch:
                self.read += 1
                if key:
                    key_values = [v if type(v) in NATIVE else json_safe(v) for v in (values[i] for i in where)]
                    key_json = None if any(v is None for v in key_values) else canonical_json(key_values)
                    if skip is not None and key_json is not None and skip(key_json):
                        self.skipped += 1
                        continue
                row = {c: v if type(v) in NATIVE else json_safe(v) for c, v in zip(columns, values)}
                if key:
                    label = ",".join(f"{c}={v}" for c, v in zip(key, key_values))
                else:
                    label, key_json = f"row {self.read}", canonical_json(row)
                row[self.meta_key] = {"url": self.db.shown, "query": self.shown_query,
                                      "key": dict(zip(key, key_values)) if key else None}
                out.append((self.read, row, label, key_json))
            yield out


def short(query: str, limit: int = 200) -> str:
    one = " ".join(query.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def opened(url: str, table: str | None, query: str | None, key, password: str | None, password_env: str | None):
    """(database, connection, statement, shown query, key columns): connected, the key resolved."""
    db = connect(url, password=password, password_env=password_env)
    stmt, shown_query = statement(db, table, query)
    try:
        conn = db.engine.connect()
    except Exception as exc:  # noqa: BLE001 - unreachable server, bad password, unknown database
        raise db.error(f"cannot connect to {db.shown}: {cause(exc)}; check that the server runs and the host, port, "
                       "user, password (in the URL or --password-env VAR) and database name",
                       dashboard=f"cannot connect to {db.shown}: {cause(exc)}; check that the server runs and the host, "
                                 "port, user, password (its own field, or in the URL) and database name") from None
    try:
        if db.engine.dialect.name == "postgresql":
            conn = conn.execution_options(postgresql_readonly=True)
        conn = conn.execution_options(stream_results=True, max_row_buffer=FETCH_ROWS)
        keys = key_columns(key) or (primary_key(db, conn, table) if table else [])
    except CurationError:
        conn.close()
        raise
    except Exception as exc:  # noqa: BLE001
        conn.close()
        raise db.error(f"{db.shown}: {cause(exc)}") from None
    return db, conn, stmt, shown_query, keys


def preview(url: str, *, table: str | None = None, query: str | None = None, key=None, limit: int = 10,
            password: str | None = None, password_env: str | None = None) -> dict:
    """The first `limit` rows of a table or query, its columns, key and the format ingest would read it as."""
    db, conn, stmt, shown_query, keys = opened(url, table, query, key, password, password_env)
    try:
        reader = Reader(db, conn, stmt, shown_query, table, keys)
        rows = next(reader.chunks(limit), [])
        reader.result.close()
    finally:
        conn.close()
    plain = [{c: v for c, v in row.items() if c != reader.meta_key} for _, row, _, _ in rows]
    fmt, mapping = None, None
    if plain:
        try:
            fmt, mapping = choose_format([(n, row) for n, row, _, _ in rows], reader.columns, None, None, db)
        except UnknownFormat:  # the preview is where the curator maps the columns
            pass
    return {"url": db.shown, "query": shown_query, "columns": reader.columns, "rows": plain, "key": keys,
            "format": fmt.name if fmt else None, "mapping": mapping, "warnings": reader.warnings}


def choose_format(rows, columns: list[str], fmt: str | None, mapping: dict | None, db: Database):
    """(format, the mapping guessed from obvious column names or None): as named, mapped, detected, or guessed."""
    from curation.formats import detect, get_format, mapped

    if fmt or mapping:
        if mapping:
            missing = [c for c in mapping.values() if c not in columns]
            if missing:
                raise db.error(f"{db.shown}: mapped column(s) {', '.join(missing)} are not in the result; its columns are "
                               f"{', '.join(columns)}")
        return get_format(fmt, mapping), None
    try:
        return detect(rows), None
    except UnknownFormat:
        guessed = guess_mapping(columns)
        if guessed is None:
            text = f"{db.shown}: could not tell which columns hold the instruction and the output: columns are {columns}"
            raise UnknownFormat(f"{text}; map them with --map instruction=COLUMN output=COLUMN", columns,
                                dashboard=f"{text}; preview the first rows and choose the instruction and output "
                                          "columns") from None
        return mapped(guessed), guessed


def ingest_sql(ws, url: str, *, table: str | None = None, query: str | None = None, key=None, name: str | None = None,
               fmt: str | None = None, source: str | None = None, mapping: dict | None = None,
               password: str | None = None, password_env: str | None = None, redact: bool | None = None,
               fetch_rows: int = FETCH_ROWS, part_rows: int = PART_ROWS) -> dict:
    """Ingest the rows of a table or query: the same summary as `ingest` gives for a file, plus `query`, `key`, `rows`
    (read) and `mapping` (when guessed from column names). Rows whose key is already in the dataset are skipped
    without being converted. `redact` as for `ingest` (None: external records, the default source here), with one
    redactor for the whole query so that a value gets the same placeholder in every chunk."""
    from curation.ingest import convert_rows, log_ingest, store, write_rejects
    from curation.records import check_source
    from curation.store import read_columns

    if source is not None:
        check_source(source)
    db, conn, stmt, shown_query, keys = opened(url, table, query, key, password, password_env)
    problems: list[Problem] = []
    dataset = name or (split_table(table)[1] if table else database_name(db))
    added = skipped = 0
    fmt_used, guessed = None, None
    redactions: dict[str, int] = {}
    redactor = [None]  # created on the first record to redact
    try:
        reader = Reader(db, conn, stmt, shown_query, table, keys)
        warnings = list(reader.warnings)
        if not keys:
            text = "records are identified by their whole content, so a changed row loads again as a new record"
            warnings.append(Phrased(f"{db.shown}: no key column (a table's primary key, or --key COLUMN): {text}",
                                    f"{db.shown}: no key column (a table's primary key, or the Key column(s) field): {text}"))
        existing = set(read_columns(ws, ["record_id"], dataset)["record_id"]) if dataset in ws.datasets() else set()
        pending: list[dict] = []
        known = (lambda key_json: sql_record_id(dataset, key_json, 0) in existing) if existing else None
        for chunk in reader.chunks(fetch_rows, skip=known):
            if not chunk:  # every row of it already stored
                continue
            if fmt_used is None:
                fmt_used, guessed = choose_format([(n, row) for n, row, _, _ in chunk], reader.columns, fmt, mapping, db)
            group, labels, ids = [], {}, {}
            for number, row, label, key_json in chunk:
                if key_json is None:
                    problems.append(Problem(db.shown, label, f"key column(s) {', '.join(keys)} are null: a row needs a key to "
                                                              "be ingested", dumps_row(row)))
                    continue
                first_id = sql_record_id(dataset, key_json, 0)
                if first_id in existing:  # a row without a key, identified by content, that is already stored
                    skipped += 1
                    continue
                group.append((number, row))
                # `row`: a single integer key itself (stable, as doctor reports rows to re-ingest), else the position
                row_no = row[keys[0]] if len(keys) == 1 and type(row[keys[0]]) is int else number
                labels[number], ids[number] = label, (key_json, first_id, row_no)
            before = len(problems)
            records = convert_rows(fmt_used, group, Rows(db.shown, "row", group, [], []), dataset, source or "external",
                                   problems)
            for p in problems[before:]:  # a row that cannot be converted is reported by its key
                p.line = labels.get(p.line, p.line)
            subs: dict[int, int] = {}
            for r in records:
                number = r["row"]
                sub = subs[number] = subs.get(number, -1) + 1
                key_json, first_id, r["row"] = ids[number]
                r["record_id"] = first_id if sub == 0 else sql_record_id(dataset, key_json, sub)
                r["where"] = labels[number]
            for kind, n in redact_chunk(records, redact, redactor, reader.meta_key).items():
                redactions[kind] = redactions.get(kind, 0) + n
            pending.extend(records)
            if len(pending) >= part_rows:
                a, s = store(ws, dataset, pending, source_path=db.shown)
                added, skipped, pending = added + a, skipped + s, []
        a, s = store(ws, dataset, pending, source_path=db.shown)
        added, skipped = added + a, skipped + s + reader.skipped
        rows_read = reader.read
    except CurationError as exc:
        if added:
            raise db.error(f"{exc} ({added:,} records were stored before it: ingest again to add the rest)") from None
        raise
    finally:
        conn.close()
    if rows_read == 0:
        warnings.append(f"{db.shown}: the query returned no rows")
    result = {
        "dataset": dataset,
        "format": fmt_used.name if fmt_used else (fmt or ("mapped" if mapping else None)),
        "added": added,
        "skipped": skipped,
        "errors": [{"file": p.file, "line": p.line, "reason": p.reason} for p in problems],
        "rejects_file": write_rejects(ws, dataset, problems),
        "warnings": warnings,
        "path": db.shown,
        "query": shown_query,
        "key": keys or None,
        "rows": rows_read,
        **({"mapping": guessed} if guessed else {}),
        "redactions": dict(sorted(redactions.items())),
    }
    log_ingest(ws, result, db.shown)
    return result


def redact_chunk(records: list[dict], redact: bool | None, redactor: list, meta_key: str) -> dict[str, int]:
    """Redact personal data in place (curation.pii), as `ingest` does for a file, but with one Redactor for every
    chunk of the query; the provenance's URL and SQL are left as they are (the key is redacted like any value)."""
    chosen = [r for r in records if redact or (redact is None and r["source"] == "external")]
    if not chosen:
        return {}
    from curation.pii import Redactor, redact_records
    from curation.records import dumps, loads

    if redactor[0] is None:
        redactor[0] = Redactor()
    kept = []
    for r in chosen:
        meta = loads(r["meta"])
        provenance = meta.get(meta_key)
        kept.append({k: provenance.pop(k) for k in ("url", "query") if k in provenance} if isinstance(provenance, dict)
                    else {})
        r["meta"] = dumps(meta)
    counts = redact_records(chosen, redactor[0])
    for r, fixed in zip(chosen, kept):
        if fixed:
            meta = loads(r["meta"])
            meta[meta_key] = {**fixed, **meta.get(meta_key, {})}
            r["meta"] = dumps(meta)
    return counts


def dumps_row(row: dict) -> str:
    from curation.readers import dumps_raw

    return dumps_raw(row)


def database_name(db: Database) -> str:
    """The default dataset name for a query: the database's name (a file's stem)."""
    import sqlalchemy as sa

    database = sa.make_url(db.shown).database or ""
    return Path(database).stem if database and database != ":memory:" else "sql"
