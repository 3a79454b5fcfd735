"""Duplicate groups kept on disk for the export (issue 18: at 1M records finding them again from the cached pairs took
~4 min of an 8-min export, right after `dedup` had found the same groups).

A saved file holds each record's `dup_group` under a key of everything the groups depend on:

- `annotated.dedup_inputs`: the records, the dedup and embedding settings, the protected sets, the rule's signals;
  taken *before* the records are read, so a change made meanwhile gives a key no later reader asks for;
- the dedup cache folder's listing (the candidate pairs the groups came from);
- each record's curator rank (`groups.curator_rank`, from the decisions of the records the groups were found for): the
  only way decisions reach the groups. Dedup's own rejections leave it unchanged, so `dedup --apply` keeps the key.

Files live in the workspace's `groups/` folder, written atomically; the newest `KEEP` stay and only files named as this
module names them are ever removed. An unreadable file is a miss (the groups are found again and saved over it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from curation.workspace import Workspace, write_atomically

FOLDER = "groups"
KEEP = 3  # saved files kept: the latest few settings a curator moves between
NAME = re.compile(r"^[0-9a-f]{24}\.parquet$")
INFO = b"curation.groups"  # the schema metadata entry holding what the export's manifest says of the groups


def inputs(ws: Workspace) -> tuple:
    """Take before reading the records the groups are found for."""
    from curation.annotated import dedup_inputs

    return dedup_inputs(ws)


def key(ws: Workspace, taken: tuple, frame: pd.DataFrame) -> str:
    """The saved file's name for groups found under `taken` (`inputs`) for `frame` (the records with their decisions)."""
    from curation.annotated import cache_files
    from curation.dedup.groups import curator_rank

    decided = frame[[c for c in ("decision", "reason") if c in frame]]  # not `protected`: the protected sets are in `taken`
    h = hashlib.blake2b(digest_size=12)
    h.update(repr((taken, cache_files(ws, "dedup"))).encode())
    h.update(np.ascontiguousarray(curator_rank(decided), dtype=np.int8).tobytes())
    return h.hexdigest()


def path_of(ws: Workspace, name: str):
    return ws.root / FOLDER / f"{name}.parquet"


def load(ws: Workspace, name: str, ids: np.ndarray) -> tuple[pd.Series, dict] | None:
    """(dup_group per record, info) saved under `name` for exactly these record ids in this order; None otherwise."""
    path = path_of(ws, name)
    try:
        table = pq.read_table(path)
        info = json.loads(table.schema.metadata[INFO])
    except (OSError, KeyError, TypeError, ValueError, pa.ArrowException):  # missing, removed meanwhile or damaged
        return None
    saved = table.column("record_id").to_numpy(zero_copy_only=False)
    if len(saved) != len(ids) or not (saved == np.asarray(ids, dtype=object)).all():
        return None
    return table.column("dup_group").to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get), info


def save(ws: Workspace, name: str, ids: np.ndarray, dup_group: pd.Series, info: dict) -> None:
    """Keep the groups under `name`; then remove all but the newest `KEEP` saved files."""
    table = pa.table({"record_id": pa.array(np.asarray(ids, dtype=object), pa.string()),
                      "dup_group": pa.array(pd.array(dup_group, dtype="Int64"), pa.int64())})
    table = table.replace_schema_metadata({INFO: json.dumps(info, sort_keys=True)})
    path = path_of(ws, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: pq.write_table(table, tmp))
    prune(path.parent)


def prune(folder) -> None:
    """Remove the saved files but the newest `KEEP` (only files named as `save` names them)."""
    entries = []
    for entry in os.scandir(folder):
        if NAME.match(entry.name):
            try:
                entries.append((entry.stat().st_mtime_ns, entry.path))
            except FileNotFoundError:
                continue
    for _, path in sorted(entries, reverse=True)[KEEP:]:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def group_info(dups) -> dict:
    """What the export's manifest says of a `dedup.Duplicates`'s groups."""
    return {"method": dups.conf["method"], "threshold": dups.conf["threshold"], "text": dups.conf["text"],
            "groups": int(dups.table["dup_group"].nunique())}


def find_and_save(ws: Workspace, progress=None):
    """`dedup.find` over every record of the workspace (pairs computed when missing), its groups saved for the export:
    what the `dedup` command and the Duplicates page run."""
    from curation.dedup.detect import find

    taken = inputs(ws)  # before the records are read
    found = find(ws, progress=progress)
    save_found(ws, taken, found)
    return found


def save_found(ws: Workspace, taken: tuple, dups) -> None:
    """Save the groups of a find over every record of the workspace (`dups.frame`: the records and decisions it read)."""
    save(ws, key(ws, taken, dups.frame), dups.table["record_id"].to_numpy(object), dups.table["dup_group"], group_info(dups))
