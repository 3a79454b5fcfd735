"""Where a generation run's seeds come from: the default pool, a dataset, a cluster of the map, or given records
(a selection, the records of a filter).

The default pool is the 175 human-written tasks of self-instruct (`alpaca/seed_tasks.jsonl` of the shared data,
or `$CURATION_SEED_TASKS`), ingested once into the workspace as the dataset `seed_tasks` (source human), so the
generated records are compared with them like any other records (dedup, map) and name them by record id.
Rejected records are never seeds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from curation.errors import CurationError
from curation.generate.base import Seed
from curation.records import loads
from curation.workspace import Workspace

SEED_DATASET = "seed_tasks"


def default_pool() -> Path:
    path = os.environ.get("CURATION_SEED_TASKS")
    if path:
        return Path(path)
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "alpaca" / "seed_tasks.jsonl"


def ensure_default(ws: Workspace) -> str:
    """The default seed dataset, ingested once."""
    if SEED_DATASET in ws.datasets():
        return SEED_DATASET
    path = default_pool()
    if not path.exists():
        raise CurationError(f"the default seed pool {path} is not there: give --seeds DATASET (or set $CURATION_SEED_TASKS "
                            "to a copy of self-instruct's seed_tasks.jsonl)")
    from curation.ingest import ingest

    ingest(ws, path, name=SEED_DATASET, source="human")
    return SEED_DATASET


def seed_frame(ws: Workspace, dataset: str | None = None, cluster: int | None = None,
               ids: list[str] | None = None) -> tuple[pd.DataFrame, str]:
    """(the seed records, a one-line description): a cluster, given record ids (a selection, a filter's records),
    a dataset, or the default pool."""
    from curation.store import load_records

    if ids is not None:
        frame = load_records(ws, dataset) if dataset else load_records(ws)
        wanted = set(ids)
        frame = frame[frame["record_id"].isin(wanted)]
        missing = len(wanted) - len(frame)
        what = "chosen records" + (f" of {dataset}" if dataset else "")
        if missing:
            raise CurationError(f"{missing:,} of the {len(wanted):,} {what} are not in the workspace: check the ids")
    elif cluster is not None:
        from curation.annotated import annotate

        frame = annotate(ws, stages=("decisions", "map"), require=("map",))
        frame = frame[frame["cluster"] == cluster]
        if dataset:
            frame = frame[frame["dataset"] == dataset]
        what = f"cluster {cluster}" + (f" of {dataset}" if dataset else "")
    else:
        dataset = dataset or ensure_default(ws)
        if dataset not in ws.datasets():
            raise CurationError(f"no dataset {dataset!r} to take seeds from: choose one of {', '.join(ws.datasets()) or '(none yet)'}")
        frame = load_records(ws, dataset)
        what = f"dataset {dataset}"
    if "decision" in frame:
        frame = frame[frame["decision"] != "reject"]
    frame = frame[frame["instruction"].fillna("").str.strip() != ""]
    if frame.empty:
        raise CurationError(f"no seed records in {what} (none with an instruction that is not rejected)")
    return frame, f"{what} ({len(frame):,} records)"


def seeds_of(frame: pd.DataFrame) -> list[Seed]:
    """One seed per distinct instruction (a task with several instances is one seed), in record order."""
    out, seen = [], set()
    for r in frame.itertuples(index=False):
        if r.instruction in seen:
            continue
        seen.add(r.instruction)
        meta = loads(getattr(r, "meta", None)) or {}
        clf = meta.get("is_classification") if isinstance(meta, dict) else None
        out.append(Seed(str(r.record_id), str(r.instruction or ""), str(r.input or ""), str(r.output or ""),
                        clf if isinstance(clf, bool) else None))
    return out
