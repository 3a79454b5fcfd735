"""Where a generation run's seeds come from: the default pool, a dataset, a cluster of the map, a topic (the records
nearest a text by semantic search, `topic_seeds`), or given records (a selection, the records of a filter).

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
                            "to a copy of self-instruct's seed_tasks.jsonl)",
                            dashboard=f"the default seed pool {path} is not there: choose a loaded dataset under Seeds (or set "
                                      "$CURATION_SEED_TASKS to a copy of self-instruct's seed_tasks.jsonl)")
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


def topic_seeds(ws: Workspace, topic: str, size: int = 20, dataset: str | None = None,
                exclude: str | None = None) -> tuple[pd.DataFrame, str, dict]:
    """(the seed records, a one-line description, the topic's share before the run) for aimed generation at a topic.

    The seeds are the `size` records nearest the topic text (of `dataset`, else of the whole workspace), found by the
    same semantic search as `records --near` and the Map page (`atlas.nearest`: the workspace's embedding model and
    text, cosine similarity; records not embedded yet are embedded first, and cached), leaving out the records of the
    dataset `exclude` (the run's own: a rerun finds the same seeds). The topic is then the region
    of the embedding space within the similarity of the farthest seed: its share is the records (of the workspace,
    rejected ones left out) at least that similar to the topic text, of all of them. After a run, `topic_share_after`
    counts the new records that land in that region, by the same measure."""
    from curation.atlas import nearest
    from curation.store import load_records

    topic = " ".join(str(topic or "").split())
    if not topic:
        raise CurationError("--topic needs a text: what the new records should be about, e.g. --topic \"baking bread\"",
                            dashboard="the topic needs a text: what the new records should be about, e.g. baking bread")
    if int(size) < 1:
        raise CurationError("--topic-size must be at least 1", dashboard="the number of nearest records must be at least 1")
    if dataset and dataset not in ws.datasets():
        raise CurationError(f"no dataset {dataset!r} to take seeds from: choose one of {', '.join(ws.datasets()) or '(none yet)'}")
    frame = load_records(ws)
    pool = frame[frame["decision"] != "reject"].reset_index(drop=True)
    if pool.empty:
        raise CurationError("no records to search for the topic: load some data first (or choose a dataset of seeds)")
    ranked = nearest(ws, pool, topic, len(pool))  # every record, nearest first, with its similarity to the topic
    candidates = ranked[ranked["instruction"].fillna("").str.strip() != ""]
    if dataset:
        candidates = candidates[candidates["dataset"] == dataset]
    if exclude:
        candidates = candidates[candidates["dataset"] != exclude]
    seeds = candidates.head(int(size))
    where = f" in {dataset}" if dataset else ""
    if seeds.empty:
        raise CurationError(f"no seed records{where} (none with an instruction that is not rejected)")
    threshold = float(seeds["similarity"].iat[-1])
    within = int((ranked["similarity"] >= threshold).sum())
    share = {"text": topic, "size": len(seeds), "similarity_at_least": round(threshold, 4), "records_before": within,
             "total_before": len(ranked), "share_before": round(within / len(ranked), 4),
             "threshold": threshold, "known_ids": set(ranked["record_id"])}
    return seeds.drop(columns=["similarity"]), f"the {len(seeds):,} records nearest “{topic}”{where}", share


def topic_share_after(ws: Workspace, share: dict, accepted: list[dict]) -> dict:
    """The topic's share once the run's new records are in: each new record (not already in the workspace) counts in
    the topic when it is at least as similar to the topic text as the farthest seed was."""
    import pandas as pd

    from curation.atlas import nearest

    new = [r for r in accepted if r["record_id"] not in share["known_ids"]]
    within = 0
    if new:
        frame = pd.DataFrame(new)
        sims = nearest(ws, frame, share["text"], len(frame))["similarity"]
        within = int((sims >= share["threshold"]).sum())
    total = share["total_before"] + len(new)
    records = share["records_before"] + within
    return {**public(share), "new_records": len(new), "new_within": within, "records_after": records, "total_after": total,
            "share_after": round(records / total, 4) if total else 0.0}


def public(share: dict) -> dict:
    """The topic's share as the report shows it (without what only the run needs)."""
    return {k: v for k, v in share.items() if k not in ("known_ids", "threshold")}
