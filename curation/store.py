"""Reading records back out of a workspace as pandas frames.

A record id is stored once (ingest locks the dataset around "read ids, write a
part"), but a workspace damaged by an older version may hold the same record in
two parts: every reader here keeps the first row of each record id. A part that
cannot be read is named in the error, with the fix (`python -m curation doctor
--workspace …`).

The source rows of parts that `doctor` quarantined stay listed in the `reingest`
table until a re-ingest brings them back (`needs_reingest`, `settle_reingest`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from curation.errors import CurationError
from curation.records import COLUMNS
from curation.workspace import DamagedWorkspace, Workspace, doctor_command

EDITABLE = ("system", "instruction", "input", "output", "messages")  # curation.edits.FIELDS (edits imports this module)


def damaged_part(ws: Workspace, path: Path, exc: BaseException) -> CurationError:
    cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    cause = re.sub(r"^Could not open Parquet input source '[^']*': ", "", cause)  # the path is said once, below
    return DamagedWorkspace(f"record part {ws.relative(path)} is damaged ({cause}): run `{doctor_command(ws.root)}`")


def read_part(ws: Workspace, path: Path, columns: list[str]):
    """One part's columns as an Arrow table, or None if the part is gone (moved aside meanwhile)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, columns=columns)
    except FileNotFoundError:
        return None
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise damaged_part(ws, path, exc) from None


def part_rows(ws: Workspace, path: Path) -> int:
    """How many rows a part holds (its footer only); 0 if it is gone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except FileNotFoundError:
        return 0
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise damaged_part(ws, path, exc) from None


def read_columns(ws: Workspace, columns: list[str], dataset: str | None = None) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = ws.parts(dataset)
    wanted = list(columns) if "record_id" in columns else ["record_id", *columns]
    tables = [t for t in (read_part(ws, p, wanted) for p in parts) if t is not None]
    if not tables:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "object") for c in columns})
    table = pa.concat_tables(tables)
    if len(tables) > 1:
        ids = table.column("record_id")
        if len(pc.unique(ids)) < len(ids):  # the same record in two parts: keep its first row
            first = ~pd.Series(ids.to_numpy(zero_copy_only=False)).duplicated().to_numpy()
            table = table.filter(pa.array(first))
    table = table.select(list(columns))
    if any(c in EDITABLE for c in columns):  # the latest version of an edited record is what every reader sees (issue 17)
        from curation.edits import apply_overlay, overlay

        table = apply_overlay(table, overlay(ws))
    # Arrow-backed columns: near zero-copy from Parquet, and fast string kernels.
    return one_chunk(table).to_pandas(types_mapper=pd.ArrowDtype)


def one_chunk(table):
    """The table with each column in one chunk (issue 18): pyarrow concatenates a chunked column before every `take`,
    so picking 873 matching rows out of 1M records (a filter of the Records page) copied every column (8 s); once
    combined at read time (0.3 s) it takes a millisecond. A string column past 2 GB gets 64-bit offsets."""
    import pyarrow as pa

    try:
        return table.combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowCapacityError):
        schema = pa.schema([f.with_type(pa.large_string()) if f.type == pa.string() else f for f in table.schema])
        return table.cast(schema).combine_chunks()


def read_records(ws: Workspace, dataset: str | None = None) -> pd.DataFrame:
    """Every record, without decisions (those change often; join them with `with_decisions`); an edited record reads
    as its latest version (`curation.edits`)."""
    return read_columns(ws, list(COLUMNS), dataset)


def with_decisions(ws: Workspace, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame plus each record's current `decision` (keep / reject / undecided) and `reason`."""
    state = pd.DataFrame(ws.query("SELECT record_id, decision, reason FROM state"), columns=["record_id", "decision", "reason"])
    frame = frame.merge(state, on="record_id", how="left")
    frame["decision"] = frame["decision"].fillna("undecided")
    return frame


def load_records(ws: Workspace, dataset: str | None = None) -> pd.DataFrame:
    """Every record with its current decision."""
    return with_decisions(ws, read_records(ws, dataset))


def record_index(ws: Workspace) -> dict[str, str]:
    """record_id -> dataset, for validating and attributing decisions."""
    frame = read_columns(ws, ["record_id", "dataset"])
    return dict(zip(frame["record_id"], frame["dataset"]))


def dataset_sizes(ws: Workspace) -> dict[str, int]:
    """Records per dataset: from the part footers, or by distinct record id where a dataset has several parts."""
    sizes = {}
    for name in ws.datasets():
        parts = ws.parts(name)
        sizes[name] = part_rows(ws, parts[0]) if len(parts) == 1 else len(read_columns(ws, ["record_id"], name))
    return sizes


def compact_rows(rows) -> str:
    """Source rows as compact ranges: [1, 2, 3, 5, 7, 8] -> "1-3,5,7-8"."""
    out, start, prev = [], None, None
    for r in sorted(set(int(r) for r in rows)):
        if start is None:
            start = prev = r
        elif r == prev + 1:
            prev = r
        else:
            out.append(f"{start}-{prev}" if prev > start else str(start))
            start = prev = r
    if start is not None:
        out.append(f"{start}-{prev}" if prev > start else str(start))
    return ",".join(out)


def provenance(records: list[dict]) -> tuple[str, str]:
    """(source files, rows) of records about to form a part, as the `parts` table keeps them:
    ("d.jsonl", "1-500,502-1000") for one file; ("a.jsonl,b.jsonl", "a.jsonl:1-3;b.jsonl:1-2") for several."""
    by_file: dict[str, list[int]] = {}
    for r in records:
        by_file.setdefault(str(r["file"]), []).append(r["row"])
    if len(by_file) == 1:
        [(file, rows)] = by_file.items()
        return file, compact_rows(rows)
    return ",".join(by_file), ";".join(f"{file}:{compact_rows(rows)}" for file, rows in by_file.items())


def expand_rows(ranges: str) -> list[int]:
    """The inverse of `compact_rows`."""
    out = []
    for piece in filter(None, (ranges or "").split(",")):
        lo, _, hi = piece.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


# --- source rows to re-ingest ----------------------------------------------------------------------------------------

REINGEST = ("part", "dataset", "source", "rows", "paths", "problem", "moved_to", "ts")


def needs_reingest(ws: Workspace, dataset: str | None = None) -> list[dict]:
    """Source rows lost with a quarantined part and not ingested again yet, oldest first: each with the part, its dataset,
    source file(s) and rows (None when the part predates row tracking), the paths to ingest, the problem, where the part
    went and when."""
    sql = f"SELECT {', '.join(REINGEST)} FROM reingest" + (" WHERE dataset = ?" if dataset is not None else "") + " ORDER BY ts, part"
    out = []
    for row in ws.query(sql, (dataset,) if dataset is not None else ()):
        entry = dict(zip(REINGEST, row))
        entry["paths"] = json.loads(entry["paths"] or "[]")
        out.append(entry)
    return out


def rows_by_file(source: str | None, rows: str | None) -> dict[str, set[int]]:
    """A part's provenance as {source file: row numbers} (see `provenance`)."""
    if not source or not rows:
        return {}
    if ":" not in rows:  # one file
        return {source: set(expand_rows(rows))}
    out = {}
    for piece in rows.split(";"):
        file, _, ranges = piece.rpartition(":")
        out.setdefault(file, set()).update(expand_rows(ranges))
    return out


def settle_reingest(ws: Workspace, dataset: str, ingested: str | None = None) -> list[str]:
    """Forget the lost rows of `dataset` that are back: every source row of the entry is a record again (rows known), or
    `ingested` (a path just ingested, as the ingest log keeps it) is one of the entry's paths (rows unknown: the part
    predates row tracking). Returns the parts whose rows are back."""
    entries = needs_reingest(ws, dataset)
    if not entries:
        return []
    present: dict[str, set[int]] | None = None
    back = []
    for entry in entries:
        wanted = rows_by_file(entry["source"], entry["rows"])
        if not wanted:
            if ingested is not None and ingested in entry["paths"]:
                back.append(entry["part"])
            continue
        if present is None:
            frame = read_columns(ws, ["file", "row"], dataset)
            present = {}
            for file, row in zip(frame["file"], frame["row"]):
                present.setdefault(file, set()).add(int(row))
        if all(rows <= present.get(file, set()) for file, rows in wanted.items()):
            back.append(entry["part"])
    if back:
        with ws.transaction() as conn:
            conn.executemany("DELETE FROM reingest WHERE part = ?", [(p,) for p in back])
    return back
