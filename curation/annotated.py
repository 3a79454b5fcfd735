"""Records annotated with every cached column, and each stage's freshness stamp.

The one place that joins the records with what the stages cached, so the command
line, the pages and export never assemble it themselves:

- `stamp(ws, stage)` / `stamps(ws)`: a small hashable value that changes whenever
  the stage's answer could change (its inputs: records, decisions, settings, the
  stages it reads; its cache files) and not otherwise. Cheap: part and cache file
  listings, the audit log's last sequence number, settings values. The dashboard
  keys its caches on them.
- `find_signals`, `find_map`, `find_duplicates`: one stage's result for the
  records, None when it is not cached (computed only when asked with `compute`).
- `annotate(ws, frame)`: the records with their decision and every column already
  cached.

Stages and the columns `annotate` adds:

    records    the records (curation.records.COLUMNS), edited records as their latest version (curation.edits)
    decisions  decision (keep / reject / undecided), reason, curator (who decided), edited, edit_version, selection
    signals    flags, quality, flag__<signal>, score__<signal>, evidence__<signal>, <field>_tokens, …
    map        x, y, cluster, cluster_label, cluster_confidence, assigned, placed
    dedup      dup_group, representative, representative_id, group_size, group_kind, cross_dataset

`compute` (False, True, or the names of stages) says which stages may be
computed when they are not cached; by default nothing heavy ever starts.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from curation.errors import CurationError
from curation.progress import Progress
from curation.workspace import Workspace

STAGES = ("records", "decisions", "signals", "map", "dedup")
ANNOTATIONS = ("decisions", "signals", "map", "dedup")  # the stages whose columns `annotate` adds
CACHE_FOLDERS = {"signals": "signals", "map": "maps", "dedup": "dedup"}  # where each stage keeps its cache files
MAP_COLUMNS = ("x", "y", "cluster", "cluster_label", "cluster_confidence", "assigned", "placed")
DUPLICATE_COLUMNS = ("dup_group", "representative", "representative_id", "group_size", "group_kind", "cross_dataset")
MISSING = {
    "signals": "no quality signals for these records yet: run `python -m curation signals` first",
    "map": "no map for these records yet: run `python -m curation map` first",
    "dedup": "no duplicate groups for these records yet: run `python -m curation dedup` first",
}


def _stage(stage: str) -> str:
    if stage not in STAGES:
        raise CurationError(f"unknown stage {stage!r}: choose one of {', '.join(STAGES)}")
    return stage


def _computing(compute: bool | Iterable[str]) -> set[str]:
    if compute is True:
        return set(STAGES)
    if not compute:
        return set()
    return {_stage(s) for s in ([compute] if isinstance(compute, str) else compute)}


def cache_files(ws: Workspace, stage: str) -> tuple:
    """(name, mtime, size) of each file in the stage's cache folder, sorted; () when there is none.

    Hidden files (a writer's temporary file, a lock) are left out: a cache file counts once it is renamed into place."""
    folder = Path(ws.root) / CACHE_FOLDERS[stage]
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return ()
    out = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            info = entry.stat()
        except FileNotFoundError:  # removed meanwhile
            continue
        out.append((entry.name, info.st_mtime_ns, info.st_size))
    return tuple(sorted(out))


def _values(*settings) -> str:
    return json.dumps([asdict(s) for s in settings], sort_keys=True, default=str)


def stamp(ws: Workspace, stage: str) -> tuple:
    """The stage's freshness stamp: equal stamps, equal answers (see the module's doc)."""
    if _stage(stage) == "records":  # the parts, and the edits laid over them (issue 17)
        from curation.edits import stamp as edits_stamp

        return ws.fingerprint(), edits_stamp(ws)
    if stage == "decisions":
        return tuple(ws.query("SELECT count(*), max(seq) FROM log")[0])
    if stage == "signals":
        from curation.signals.compute import SignalSettings

        return stamp(ws, "records"), cache_files(ws, "signals"), _values(SignalSettings.load(ws))
    from curation.embed import EmbedSettings

    if stage == "map":
        from curation.atlas import MapSettings

        return stamp(ws, "records"), cache_files(ws, "map"), _values(EmbedSettings.load(ws), MapSettings.load(ws))
    return _dedup_stamp(ws, stamp(ws, "decisions"))


def dedup_stamp_but_decisions(ws: Workspace) -> tuple:
    """The dedup stamp less the decisions (they choose representatives): for a caller that checks itself whether a
    decision touched a record that can be in a group (the dashboard, issue 18: one decision must not regroup 1M records)."""
    return _dedup_stamp(ws, None)


def _dedup_stamp(ws: Workspace, decisions: tuple | None) -> tuple:
    return dedup_inputs(ws), cache_files(ws, "dedup"), decisions


def dedup_inputs(ws: Workspace) -> tuple:
    """What the duplicate groups depend on besides the cached pairs and the decisions: the records, the dedup and
    embedding settings, the protected evaluation sets (their records represent their groups) and, when the
    representative rule reads a signal, the signals."""
    from curation.decontaminate import protected_datasets
    from curation.dedup.detect import DedupSettings
    from curation.dedup.groups import RULES
    from curation.embed import EmbedSettings

    conf = DedupSettings.load(ws)
    reads_signals = conf.rule in RULES and RULES[conf.rule].needs is not None  # the representative rule reads a signal
    return (stamp(ws, "records"), _values(conf, EmbedSettings.load(ws)), tuple(protected_datasets(ws)),
            stamp(ws, "signals") if reads_signals else None)


def stamps(ws: Workspace) -> dict[str, tuple]:
    """Every stage's stamp."""
    return {stage: stamp(ws, stage) for stage in STAGES}


def find_signals(ws: Workspace, *, compute: bool = False, progress: Progress | None = None) -> pd.DataFrame | None:
    """Flags, quality and lengths of every record (`record_id` and the signal columns); None unless all are cached
    (or computed, with compute=True)."""
    from curation.signals.compute import annotated_signals, pending

    if not compute and (not cache_files(ws, "signals") or pending(ws)):
        return None
    return annotated_signals(ws, progress)


def find_map(ws: Workspace, records: pd.DataFrame, *, compute: bool = False, progress: Progress | None = None):
    """The map (an `atlas.Atlas`) of exactly these records under the workspace's settings; None when it is not
    cached (built instead with compute=True)."""
    from curation import atlas

    if compute:
        return atlas.build(ws, records, progress)
    if not cache_files(ws, "map"):  # no map was ever built: no need to hash every record's text
        return None
    return atlas.cached_atlas(ws, records)


def find_duplicates(ws: Workspace, records: pd.DataFrame, *, compute: bool | Iterable[str] = False, known: dict | None = None,
                    progress: Progress | None = None):
    """Duplicate groups (a `dedup.Duplicates`) of exactly these records under the workspace's settings; None when the
    candidate pairs are not cached (and not to be computed).

    `compute`: True or stage names ("dedup": the pairs, "signals": the rule's signal); `known`: results at hand
    (`{"signals": table or None}`) used instead of looking them up again."""
    from curation.dedup.detect import METHODS, DedupSettings, find
    from curation.dedup.groups import RULES

    computing = _computing(compute)
    known = known or {}
    if not len(records):
        return None
    conf = DedupSettings.load(ws)
    if "dedup" not in computing and METHODS[conf.method].cached and not cache_files(ws, "dedup"):
        return None  # no pairs were ever cached: no need to hash every record's text
    needs = RULES[conf.rule].needs if conf.rule in RULES else None
    if needs and needs not in records:
        table = known["signals"] if "signals" in known else find_signals(ws)
        if table is not None:
            records = records.merge(table[["record_id", needs]], on="record_id", how="left")
        # else dedup.find scores the records that can be in a group, once it knows the pairs are there: a find that
        # left the signals uncached (issue 18's MinHash speed-up) still shows its groups
    return find(ws, records, compute="dedup" in computing, progress=progress)


def regroup_duplicates(dups, frame: pd.DataFrame):
    """The duplicate groups `dups` (from `find_duplicates`) with the representatives chosen again under the decisions in
    `frame`: the same records in the same order as `dups` was found for, their decisions changed since. Equal to what
    `find_duplicates` gives for `frame`, without comparing the texts again (issue 18: at 1M records a find takes minutes,
    and a curator's keep or reject can change which record represents a group). None when the records differ.

    Only the components (of the near pairs and shared texts) that hold a record whose place in the representative
    order changed are grouped again (`curation.dedup.groups.regroup_components`), and their rows of the table made
    again; the other groups keep theirs, numbered again (1 = the largest) over all groups. The first call for a `dups`
    prepares what that needs (`prepare_regroup`: as long as a full regroup, once)."""
    from dataclasses import replace

    old = dups.frame
    if len(frame) != len(old) or not (frame["record_id"].to_numpy(object) == old["record_id"].to_numpy(object)).all():
        return None
    new = old.assign(**{c: frame[c].array for c in DECISION_COLUMNS if c in frame and c in old})
    memo = prepare_regroup(dups)
    changed, curator = _changed_rank(memo, old, new)
    labels, rows, state = _regroup_locally(dups, new, memo, changed)
    rank = _rank(memo, curator) if memo.preference is not None else None
    table = _spliced(dups.table, labels, rows, _assigned(dups, new, labels, rows))
    result = replace(dups, frame=new, table=table, rank=rank, _sweeps={})
    _remember(result, Prepared(state, memo.preference, curator))
    return result


@dataclass
class Prepared:
    """What a local regroup of one `Duplicates` needs: its star state (`groups.Regrouping`), each record's key under
    the representative rule (None for an unranked grouping) and its curator rank, both at the decisions it was made for."""

    state: object
    preference: np.ndarray | None
    curator: np.ndarray


_PREPARED: dict[int, tuple] = {}  # id(Duplicates) -> (a weak reference to it, Prepared)


def _remember(dups, prepared: Prepared) -> None:
    key = id(dups)
    _PREPARED[key] = (weakref.ref(dups, lambda _, key=key: _PREPARED.pop(key, None)), prepared)


def prepare_regroup(dups) -> Prepared:
    """What `regroup_duplicates` needs to regroup `dups` one component at a time, made once per `dups` (as long as one
    full regroup; the dashboard makes it when it finds the groups, so that a curator's first keep is quick too)."""
    from curation.dedup.groups import GROUPINGS, curator_rank, preference, regrouping

    found = _PREPARED.get(id(dups))
    if found is not None and found[0]() is dups:
        return found[1]
    conf = dups.conf
    ranked = GROUPINGS[conf["grouping"]].ranked
    rank = dups.rank if ranked else None
    if ranked and rank is None:
        from curation.dedup.groups import preference_rank

        rank = preference_rank(dups.frame, conf["rule"])
    _, state = regrouping(len(dups.frame), dups.pairs, dups.hashes, float(conf["threshold"]), rank)
    prepared = Prepared(state, preference(dups.frame, conf["rule"]) if ranked else None, curator_rank(dups.frame))
    _remember(dups, prepared)
    return prepared


def _changed_rank(memo: Prepared, old: pd.DataFrame, new: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(the rows whose curator rank differs from `memo`'s, every row's curator rank now): only rows whose decision or
    reason differ are ranked again."""
    from curation.dedup.groups import curator_rank

    differ = np.zeros(len(new), dtype=bool)
    for column in ("decision", "reason"):
        if column in new and column in old:
            before, now = old[column], new[column]
            differ |= ((before != now) & ~(before.isna() & now.isna())).to_numpy(bool)
    rows = np.flatnonzero(differ)
    curator = memo.curator.copy()
    if len(rows):
        curator[rows] = curator_rank(new.iloc[rows].reset_index(drop=True))
    return rows[curator[rows] != memo.curator[rows]], curator


def _regroup_locally(dups, new: pd.DataFrame, memo: Prepared, changed: np.ndarray):
    """`groups.regroup_components` for the rows whose rank changed, each component ranked by `preference_rank` over its
    own records only."""
    from curation.dedup.groups import preference_rank, regroup_components

    rule = dups.conf["rule"]
    return regroup_components(memo.state, changed, dups.hashes,
                              lambda rows: preference_rank(new.iloc[rows].reset_index(drop=True), rule))


def _rank(memo: Prepared, curator: np.ndarray) -> np.ndarray:
    """`preference_rank` of every record from the kept rule keys and the curator ranks now (a sort, no pass over texts)."""
    order = np.lexsort((np.arange(len(curator)), memo.preference, curator))
    rank = np.empty(len(curator), dtype=np.int64)
    rank[order] = np.arange(len(curator))
    return rank


def _assigned(dups, new: pd.DataFrame, labels: np.ndarray, rows: np.ndarray) -> pd.DataFrame:
    """`groups.assign` over these rows only (whole groups: the rows of whole components)."""
    from curation.dedup.groups import assign

    kin = dups.families
    if kin is not None:  # every per-record field of the families, at these rows
        from dataclasses import fields, replace

        picked = rows.tolist()
        kin = replace(kin, **{f.name: _at(getattr(kin, f.name), rows, picked) for f in fields(kin)})
    return assign(new.iloc[rows].reset_index(drop=True), labels[rows], dups.hashes[rows], dups.conf["rule"], kin)


def _at(values, rows: np.ndarray, picked: list):
    """values[rows] for an array or a list (one entry per record)."""
    return values[rows] if isinstance(values, np.ndarray) else [values[r] for r in picked]


def _spliced(table: pd.DataFrame, labels: np.ndarray, rows: np.ndarray, part: pd.DataFrame) -> pd.DataFrame:
    """The table with every group number from `labels` and the other columns of `rows` from `part` (`assign`'s table of
    those rows); the family of a record never changes with a decision."""
    columns = {"dup_group": pd.arrays.IntegerArray(np.where(labels > 0, labels, 0).astype(np.int64), labels == 0)}
    for column in part.columns:
        if column in ("record_id", "dup_group", "family"):
            continue
        values = table[column].array.copy()
        values[rows] = part[column].array
        columns[column] = pd.Series(values, index=table.index, dtype=table[column].dtype)  # object stays object
    return table.assign(**columns)


def regroup_everything(dups, frame: pd.DataFrame):
    """`regroup_duplicates` done over every record (the reference a local regroup must equal; benches and tests)."""
    old = dups.frame
    if len(frame) != len(old) or not (frame["record_id"].to_numpy(object) == old["record_id"].to_numpy(object)).all():
        return None
    new = old.assign(**{c: frame[c].array for c in DECISION_COLUMNS if c in frame and c in old})
    from dataclasses import replace

    from curation.dedup.groups import GROUPINGS, assign, group_labels, preference_rank

    conf = dups.conf
    rank = preference_rank(new, conf["rule"]) if GROUPINGS[conf["grouping"]].ranked else None
    labels = group_labels(len(new), dups.pairs, dups.hashes, float(conf["threshold"]), rank)
    table = assign(new, labels, dups.hashes, conf["rule"], dups.families)
    return replace(dups, frame=new, table=table, rank=rank, _sweeps={})


def _join(frame: pd.DataFrame, columns: pd.DataFrame) -> pd.DataFrame:
    """The frame plus the columns (keyed by record_id) it does not have yet; its own columns win."""
    new = [c for c in columns.columns if c != "record_id" and c not in frame]
    return frame.merge(columns[["record_id", *new]], on="record_id", how="left") if new else frame


REVIEW_COLUMNS = ("curator", "edited", "edit_version", "selection")


def with_review(ws: Workspace, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame plus who made each record's current decision (`curator`, None when undecided), whether its text is
    edited (`edited`: it differs from the original), its latest version (`edit_version`, 0: never edited), and its
    place in the latest selection applied (`selection`: "selected", "margin" or None; `curation.select.members`)."""
    from curation.edits import edited_ids, versions

    if all(c in frame for c in REVIEW_COLUMNS):
        return frame
    ids = frame["record_id"].astype(str)
    out = frame.copy()
    if "curator" not in out:
        out["curator"] = _lookup(ids, dict(ws.query("SELECT record_id, curator FROM state")), None)
    if "edited" not in out:
        out["edited"] = ids.isin(list(edited_ids(ws))).to_numpy()
    if "edit_version" not in out:
        out["edit_version"] = _lookup(ids, versions(ws), 0).astype(int)
    if "selection" not in out:
        from curation.select import members

        out["selection"] = _lookup(ids, members(ws), None)
    return out


DECISION_COLUMNS = ("decision", "reason", *REVIEW_COLUMNS)  # what the decisions stage adds


def decision_columns(ws: Workspace, ids: pd.Index) -> pd.DataFrame | None:
    """The decisions stage's columns (DECISION_COLUMNS) for the records whose ids are `ids`, in that order, equal to
    what `annotate(stages=("decisions",))` adds; None when the ids are not unique (use `annotate` then).

    Issue 18: only the ids each table holds are placed (`ids.get_indexer`) and the text columns are built in Arrow,
    so a caller that keeps the index of a million records pays for the few records decided, edited or selected, not
    for every record, each time it asks."""
    from curation.edits import edited_ids, versions
    from curation.select import members

    if not ids.is_unique:
        return None
    rows = ws.query("SELECT record_id, decision, reason, curator FROM state")
    keys = [r[0] for r in rows]
    found, chosen = versions(ws), members(ws)
    out = pd.DataFrame({"decision": _strings(ids, keys, [r[1] for r in rows], "undecided"),
                        "reason": _strings(ids, keys, [r[2] for r in rows]),
                        "curator": _strings(ids, keys, [r[3] for r in rows]),
                        "edited": _placed(ids, list(edited_ids(ws)), np.zeros(len(ids), dtype=bool), True),
                        "edit_version": _placed(ids, list(found), np.zeros(len(ids), dtype=int), list(found.values()))})
    # with no selection applied the column holds only None, and stays object as `with_review` leaves it
    out["selection"] = _strings(ids, list(chosen), list(chosen.values())) if chosen else np.empty(len(ids), dtype=object)
    return out


def _placed(ids: pd.Index, keys: list, out: np.ndarray, values) -> np.ndarray:
    """out with out[position of key] = its value, for each key among `ids` (keys elsewhere are left out)."""
    if len(keys):
        where = ids.get_indexer(keys)
        hit = where >= 0
        out[where[hit]] = values if np.isscalar(values) else np.asarray(values, dtype=out.dtype)[hit]
    return out


def _strings(ids: pd.Index, keys: list, values: list, default: str | None = None) -> pd.Series:
    """A text column (pandas' default string type, missing as NaN): each key's value at its id, `default` elsewhere."""
    import pyarrow as pa

    codes = _placed(ids, keys, np.zeros(len(ids), dtype=np.int32), list(range(1, len(keys) + 1)))
    words = pa.array([default, *values], type=pa.string())
    return pd.Series(pd.array(words.take(pa.array(codes)), dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


def _lookup(ids: pd.Series, table: dict, default) -> np.ndarray:
    """table[id] for each id, `default` where an id has no entry. Issue 18: only the ids in the table are looked up
    (a map over 1M ids per column took seconds on every page load though few or no records are decided)."""
    out = np.full(len(ids), default, dtype=object)
    if table:
        hit = ids.isin(list(table)).to_numpy()
        out[hit] = ids[hit].map(table).to_numpy()
    return out


def annotate(ws: Workspace, frame: pd.DataFrame | None = None, *, stages: Iterable[str] | None = None,
             compute: bool | Iterable[str] = False, require: Iterable[str] = (), nulls: bool = False,
             known: dict | None = None, progress: Progress | None = None) -> pd.DataFrame:
    """The records (all of the workspace's by default) with their decision and every column already cached.

    - `frame`: the records to annotate; the map and duplicate groups are looked up for exactly these records, so
      pass all of them (filter afterwards). Columns it has already are kept as they are.
    - `stages`: the stages whose columns to add (default ANNOTATIONS: every one).
    - `compute`: the stages that may be computed when not cached (True: all); by default nothing heavy starts.
    - `require`: stages that must be there (they are looked up even if not in `stages`): a CurationError that says
      which command computes them otherwise.
    - `nulls`: add the map and duplicate columns as nulls where those are not cached (what the CLI prints).
    - `known`: stage results the caller holds already (`{"signals": table, "map": Atlas, "dedup": Duplicates}`, None
      for not cached), used instead of looking them up again: the dashboard passes its memoised ones.

    Never writes anything unless `compute` asks for it.
    """
    from curation.store import load_records, with_decisions

    require = tuple(_stage(s) for s in require)
    wanted = (ANNOTATIONS if stages is None else tuple(_stage(s) for s in stages)) + require
    computing = _computing(compute)
    known = dict(known or {})
    records = load_records(ws) if frame is None else frame
    out = records
    if "decisions" in wanted and "decision" not in out:
        out = with_decisions(ws, out)
    if "decisions" in wanted or "decision" in out:  # records with their decisions carry who made them and edit state
        out = with_review(ws, out)
    found = {}
    if "signals" in wanted:
        found["signals"] = known["signals"] if "signals" in known else find_signals(
            ws, compute="signals" in computing, progress=progress)
        if found["signals"] is not None:
            out = _join(out, found["signals"])
    if "map" in wanted:
        found["map"] = known["map"] if "map" in known else find_map(ws, records, compute="map" in computing, progress=progress)
        if found["map"] is not None:
            out = _join(out, found["map"].points)
        elif nulls:
            out = out.assign(**{c: None for c in MAP_COLUMNS if c not in out})
    if "dedup" in wanted:
        if "dedup" in known:
            found["dedup"] = known["dedup"]
        else:
            signals = {"signals": found["signals"]} if "signals" in found else {}
            found["dedup"] = find_duplicates(ws, out, compute=computing, known={**known, **signals}, progress=progress)
        if found["dedup"] is not None:
            out = _join(out, found["dedup"].table)
        elif nulls:
            out = out.assign(**{c: None for c in DUPLICATE_COLUMNS if c not in out})
    for stage in require:
        if found.get(stage, True) is None:
            raise CurationError(MISSING[stage])
    return out
