"""Ingest: source file -> rows -> records -> a new Parquet part in the workspace.

Every problem is reported with file, line and cause and the raw text is kept in
a rejects file; the rest of the file loads. Re-ingesting a file adds nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

import orjson

from curation import jsonl_stream
from curation.errors import CurationError, UnknownFormat
from curation.formats import Format, RowError, detect, detect_row, get_format
from curation.jsonl_stream import RowStream
from curation.progress import Progress
from curation.readers import TOO_DEEP, Problem, Rows, dumps_raw, read_parts, shown
from curation.records import COLUMNS, SOURCES, canonical_json, check_source, dumps, record_id
from curation.workspace import Workspace

MB = 2**20  # the unit of a streamed file's progress


def ingest(
    ws: Workspace,
    path: str | Path,
    *,
    name: str | None = None,
    fmt: str | None = None,
    source: str | None = None,
    mapping: dict[str, str] | None = None,
    transcript: dict | None = None,
    redact: bool | None = None,
    progress: Progress | None = None,
    **sql,
) -> dict:
    """Load one source (a file, a folder of files, a Hugging Face dataset, a database URL) into the
    workspace; returns the summary the CLI prints. `sql` options (table, query, key, password, password_env)
    apply to a database URL only (see `curation.sql_source`).

    Each file of a folder is read, detected and reported on its own: a file that
    cannot be read or whose format is unknown is a problem, the others load. When
    no file's format can be detected, the detection error is raised (so that the
    caller can ask for a column mapping).

    `redact` (issue 16, curation.pii): personal data replaced by placeholders before the records are stored, one
    redactor per source file; None redacts the records whose source is `external` (transcripts, SQL by default).

    `progress(done, total, what)`: called after each slice of a streamed file is stored, in megabytes read of the file."""
    from curation.sql_source import is_sql_url

    if is_sql_url(path):  # a SQLAlchemy URL: rows of a table or query (issue 16)
        from curation.sql_source import ingest_sql

        # ingest_sql redacts (curation.pii) with one redactor for the whole query, chunk by chunk
        return ingest_sql(ws, str(path), name=name, fmt=fmt, source=source, mapping=mapping, redact=redact, **sql)
    if any(v is not None for v in sql.values()):
        raise CurationError(f"{path}: --table, --query, --key and --password-env apply to a database URL only")
    if source is not None:
        check_source(source)
    # Call and meeting transcripts (issue 16): --format transcript, transcript options, or detected (.vtt, .srt, …).
    from curation import transcripts as tr

    as_transcript = fmt == tr.FORMAT or (not fmt and not mapping and tr.is_transcript_source(path, ws.root))
    if transcript and not as_transcript:
        raise CurationError(f"{path}: --shape, --speaker-role, --split-gap and --max-turns apply to transcripts only (.vtt, "
                            ".srt, speaker-labelled .txt, Whisper .json); name --format transcript to read it as one")
    explicit = get_format(fmt, mapping) if (fmt or mapping) and not as_transcript else None
    check_outside_workspace(ws, path)
    parts, warnings = read_parts(path, skip=ws.root, stream_above=jsonl_stream.STREAM_ABOVE) if not as_transcript else ([], [])
    dataset = name or dataset_name(path)
    problems: list[Problem] = []
    records: list[dict] = []
    stored_added = stored_skipped = 0
    format_names: dict[str, None] = {}
    undetected: list[UnknownFormat] = []
    files_with_rows = 0
    if as_transcript:  # conversations -> records with provenance, source external; then stored as any file's records
        got = tr.collect(path, dataset, tr.make_options(**(transcript or {})), source=source or "external",
                         explicit=fmt == tr.FORMAT, skip=ws.root)
        records, problems, warnings = got.records, got.problems, got.warnings
        format_names.update(dict.fromkeys(got.formats))
    for rows in parts:
        if isinstance(rows, RowStream):  # issue 18: a big JSON Lines file, read and stored a slice at a time
            streamed = ingest_stream(ws, rows, explicit, dataset, source, redact, records, progress)
            problems.extend(streamed.problems)
            warnings.extend(rows.warnings)
            format_names.update(streamed.formats)
            stored_added, stored_skipped = stored_added + streamed.added, stored_skipped + streamed.skipped
            files_with_rows += streamed.had_rows
            if streamed.undetected is not None:
                undetected.append(streamed.undetected)
            continue
        problems.extend(rows.problems)
        warnings.extend(rows.warnings)
        if not rows.rows:
            continue
        files_with_rows += 1
        try:
            groups = group_rows(rows, explicit)
        except UnknownFormat as exc:  # the format of this file is unknown
            undetected.append(exc)
            problems.append(Problem(rows.name, None, str(exc)))
            continue
        for format_, group in groups:
            format_names[format_.name] = None
            for lo in range(0, len(group), STORE_EVERY):  # issue 18: a big file is converted and stored a slice at a time
                converted = convert_rows(format_, group[lo : lo + STORE_EVERY], rows, dataset, source, problems)
                if len(group) > STORE_EVERY and not needs_redaction(converted, redact):
                    got = store(ws, dataset, converted)
                    stored_added, stored_skipped = stored_added + got[0], stored_skipped + got[1]
                else:  # small files, and records to redact (one redactor per file sees all of them): stored together below
                    records.extend(converted)
                del converted
    if undetected and len(undetected) == files_with_rows:
        raise undetected[0]
    from curation.pii import redact_for_ingest

    redactions = redact_for_ingest(records, redact)
    added, skipped = store(ws, dataset, records)
    added, skipped = added + stored_added, skipped + stored_skipped
    rejects_file = write_rejects(ws, dataset, problems)
    result = {
        "dataset": dataset,
        "format": "+".join(format_names) or (explicit.name if explicit else None),
        "added": added,
        "skipped": skipped,
        "errors": [{"file": p.file, "line": p.line, "reason": p.reason} for p in problems],
        "rejects_file": rejects_file,
        "warnings": warnings,
        "path": str(path),
        "redactions": redactions,
    }
    if as_transcript:
        result["transcripts"] = got.summary
    log_ingest(ws, result, logged_path(path))
    return result


def log_ingest(ws: Workspace, result: dict, path: str) -> None:
    """Append an ingest to the log (`path` as the log keeps it: never a password) and settle re-ingested rows."""
    with ws.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO ingests(dataset, path, format, added, skipped, errors, rejects_file, ts) VALUES (?,?,?,?,?,?,?,?)",
            (result["dataset"], path, result["format"], result["added"], result["skipped"], len(result["errors"]),
             result["rejects_file"], time.time()),
        )
        if result.get("redactions"):  # personal data replaced, per kind (curation.pii)
            from curation.pii import log_counts

            log_counts(conn, cursor.lastrowid, result["dataset"], result["redactions"])
    from curation.store import settle_reingest

    settle_reingest(ws, result["dataset"], path)  # rows lost with a quarantined part that are back now


def check_outside_workspace(ws: Workspace, path: str | Path) -> None:
    """Refuse to ingest the workspace itself or anything the tool keeps in it (its record parts, database, caches,
    rejects, quarantine, exports). Its uploads/ folder (the dashboard's uploaded files) and files of the user's own in it
    are sources like any other."""
    from curation.workspace import OWN_ENTRIES

    local = Path(str(path)).expanduser()
    try:
        if not local.exists():
            return
        where, root = local.resolve(), ws.root.resolve()
    except OSError:
        return  # the reader says what is wrong with the path
    if where != root and root not in where.parents:
        return
    inside = where.relative_to(root).parts
    if where == root or inside[0] in OWN_ENTRIES:
        what = "is the workspace" if where == root else f"is the workspace's own data ({inside[0]}/ of {root})"
        raise CurationError(f"{path} {what}: ingest reads your source files, never the workspace's own data; "
                            f"name a source file or folder (an uploaded file is under {root / 'uploads'})")


def logged_path(path: str | Path) -> str:
    """The source as the ingest log keeps it: a local path made absolute (export refuses to write over it), a hub id as given."""
    local = Path(str(path)).expanduser()
    return str(local.resolve()) if local.exists() else str(path)


def dataset_name(path: str | Path) -> str:
    p = Path(str(path).removeprefix("hf://"))
    return p.stem if p.suffix else p.name


STORE_EVERY = 200_000  # issue 18: records of a bigger file are stored a part per this many source rows
DETECT_ROWS = 200  # the first rows a file's format is detected from (all that `formats.detect` looks at)


@dataclass
class Streamed:
    """What ingesting one `RowStream` came to."""

    added: int = 0
    skipped: int = 0
    formats: dict[str, None] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    had_rows: bool = False
    undetected: UnknownFormat | None = None


def ingest_stream(ws: Workspace, stream: RowStream, explicit: Format | None, dataset: str, source: str | None,
                  redact: bool | None, waiting: list[dict], progress: Progress | None = None) -> Streamed:
    """Read, convert and store a streamed file a slice of `STORE_EVERY` rows at a time (issue 18), its format detected
    from its first `DETECT_ROWS` rows; records to redact join `waiting` (the file's one redactor sees them all).
    The records and their ids are those the whole-file path gives; only how they are split into parts differs.
    An undetected format stops the reading there: the file's problems are those found until then."""
    done = Streamed()
    converting: list[Problem] = []
    rows = stream.rows()
    head = list(islice(rows, DETECT_ROWS))
    if head:
        done.had_rows = True
        try:
            main = explicit or detect(head)
        except UnknownFormat as exc:
            rows.close()
            done.undetected = exc
            done.problems = [*stream.problems, Problem(stream.name, None, str(exc))]
            return done
        for batch in slices(reading(chain(head, rows), stream, progress), STORE_EVERY):
            converted = []
            for format_, group in ([(explicit, batch)] if explicit else split_by_format(batch, main)):
                done.formats[format_.name] = None
                converted.extend(convert_rows(format_, group, stream, dataset, source, converting))
            del batch, group
            if needs_redaction(converted, redact):
                waiting.extend(converted)
            else:
                added, skipped = store(ws, dataset, converted)
                done.added, done.skipped = done.added + added, done.skipped + skipped
            del converted
            if progress:
                progress(stream.bytes_read // MB, max(stream.size // MB, 1), f"MB of {stream.name} loaded")
    done.problems = [*stream.problems, *converting]  # as the whole-file path orders them: reading's, then converting's
    return done


READ_REPORT_EVERY = 20_000  # rows: a streamed file's progress moves this often while a slice is being read


def reading(rows, stream: RowStream, progress: Progress | None):
    """The rows, reporting the megabytes read every READ_REPORT_EVERY rows: a slice of 200k rows takes ~10 s to read
    (issue 18: a file of one slice showed no progress until it was loaded)."""
    for k, row in enumerate(rows, 1):
        if progress and k % READ_REPORT_EVERY == 0:
            progress(stream.bytes_read // MB, max(stream.size // MB, 1), f"MB of {stream.name} read")
        yield row


def slices(items, size: int):
    """Lists of `size` items (the last one shorter); a slice is let go of before the next one is read."""
    it = iter(items)
    while True:
        batch = list(islice(it, size))
        if not batch:
            return
        yield batch
        del batch


def needs_redaction(records: list[dict], redact: bool | None) -> bool:
    """Whether `redact_for_ingest` would redact any of these records (then they wait for the file's one redactor)."""
    return bool(redact) or (redact is None and any(r["source"] == "external" for r in records))


def group_rows(rows: Rows, explicit: Format | None) -> list[tuple[Format, list]]:
    """Split rows by format: the explicit one, or the detected main one plus any other a row fits.

    A row that fits no format goes with the main one, whose conversion then says
    what it lacks (e.g. "missing required field 'output'").
    """
    if explicit is not None:
        return [(explicit, rows.rows)]
    return split_by_format(rows.rows, detect(rows.rows))


def split_by_format(rows: list[tuple[int, dict]], main: Format) -> list[tuple[Format, list]]:
    """Rows in groups by format: `main`, or another one a row fits (see `group_rows`)."""
    groups: dict[str, tuple[Format, list]] = {main.name: (main, [])}
    for number, row in rows:
        fmt = main if main.matches(row) else (detect_row(row) or main)
        groups.setdefault(fmt.name, (fmt, []))[1].append((number, row))
    return [g for g in groups.values() if g[1]]


def convert_rows(fmt: Format, group, rows: Rows | RowStream, dataset: str, source: str | None, problems: list[Problem]) -> list[dict]:
    by_number = dict(group)
    hashed: dict[int, bytes] = {}  # the current source row's canonical JSON only (issue 18: not one per row of the file)
    failed: set[int] = set()
    records = []
    for number, sub, rec in fmt.convert(group):
        if number in failed:
            continue
        if isinstance(rec, RowError):
            problems.append(Problem(rows.name, number, str(rec), dumps_raw(by_number.get(number))))
            continue
        meta = rec["meta"]
        try:  # orjson refuses values nested too deeply and values JSON has no type for
            if number not in hashed:
                hashed.clear()
                hashed[number] = canonical_json(by_number[number])
            meta_json = dumps(meta)
            messages_json = dumps(rec["messages"]) if rec["messages"] is not None else None
        except TypeError as exc:
            failed.add(number)
            too_deep = "Recursion limit" in str(exc)
            reason = TOO_DEEP if too_deep else f"a value cannot be stored as JSON ({exc}); make it text or a number"
            problems.append(Problem(rows.name, number, reason, dumps_raw(by_number.get(number))))
            continue
        row_source = meta.get("source") if isinstance(meta.get("source"), str) else None
        records.append(
            {
                "record_id": record_id(dataset, rows.name, number, sub, hashed[number]),
                "dataset": dataset,
                "file": rows.name,
                "row": number,
                "where": f"{rows.unit} {number}",
                "format": fmt.name,
                "source": source or (row_source if row_source in SOURCES else None) or rec.get("source") or "unknown",
                "system": rec["system"],
                "instruction": rec["instruction"],
                "input": rec["input"],
                "output": rec["output"],
                "messages": messages_json,
                "meta": meta_json,
            }
        )
    return records


def store(ws: Workspace, dataset: str, records: list[dict], *, source_path: str | None = None) -> tuple[int, int]:
    """Write the records not already in the dataset as one new part; (added, skipped).

    Under the dataset's lock from reading the existing ids to writing the part, so a record id is stored once
    even when several ingests run at the same time. The part's source file and rows are recorded in the
    `parts` table: if the part is ever damaged, `doctor` says which lines to re-ingest.
    """
    import pyarrow as pa

    from curation.store import provenance

    if not records:
        return 0, 0
    folder = ws.register_dataset(dataset)
    with ws.dataset_lock(dataset):
        known = stored_already(ws, dataset, [r["record_id"] for r in records])
        seen: set[str] = set()
        new = []
        for r, stored in zip(records, known):
            rid = r["record_id"]
            if not stored and rid not in seen:
                seen.add(rid)
                new.append(r)
        if new:
            columns = {c: [r[c] for r in new] for c in COLUMNS}
            schema = pa.schema([(c, pa.int64() if c == "row" else pa.string()) for c in COLUMNS])
            table = pa.Table.from_pydict(columns, schema=schema)
            # The provenance row first, then the part: a writer killed in between leaves a row without its part (which
            # doctor drops), never a part without its row.
            part = ws.new_part(folder)
            files, rows = provenance(new)
            with ws.transaction() as conn:
                conn.execute("INSERT OR REPLACE INTO parts(part, dataset, source_path, rows, ts) VALUES (?,?,?,?,?)",
                             (ws.relative(part), dataset, source_path or files, rows, time.time()))
            try:
                ws.write_part(folder, table, part)
            except BaseException:
                if not part.exists():
                    with ws.transaction() as conn:
                        conn.execute("DELETE FROM parts WHERE part = ?", (ws.relative(part),))
                raise
    return len(new), len(records) - len(new)


def stored_already(ws: Workspace, dataset: str, ids: list[str]) -> list[bool]:
    """Whether each id is a record of the dataset already. Compared in Arrow (issue 18): a set of the ids of a
    million records took 2 s and 100 MB for every slice of a big file."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from curation.store import read_part

    tables = [t for t in (read_part(ws, p, ["record_id"]) for p in ws.parts(dataset)) if t is not None]
    if not tables:
        return [False] * len(ids)
    existing = pa.concat_tables(tables).column("record_id").combine_chunks()
    return pc.is_in(pa.array(ids, existing.type), value_set=existing).to_pylist()


def write_rejects(ws: Workspace, dataset: str, problems: list[Problem]) -> str | None:
    if not problems:
        return None
    from curation.workspace import folder_name

    ws.rejects_dir.mkdir(parents=True, exist_ok=True)
    path = ws.rejects_dir / f"{folder_name(dataset)}-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}.jsonl"
    with open(path, "wb") as fh:
        for p in problems:
            fh.write(orjson.dumps({**p.as_dict(), "raw": shown(p.raw)}) + b"\n")
    return str(path)


def parse_mapping(pairs: list[str] | None) -> dict[str, str] | None:
    """`["instruction=question", "output=answer"]` -> {"instruction": "question", …}."""
    if not pairs:
        return None
    mapping = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field or not column:
            raise CurationError(f"bad --map {pair!r}: write FIELD=COLUMN, e.g. instruction=question")
        mapping[field.strip()] = column.strip()
    return mapping
