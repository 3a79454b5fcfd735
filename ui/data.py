"""The workspace and its records as the pages see them, cached between reruns.

Every loader wraps a library function (`curation.annotated`) in a Streamlit cache keyed on the freshness stamps of
the stages it reads, so a result is reused exactly until its inputs or cache files change.

Issue 18 (a page rerun at 1M records must not take seconds): the records joined with the cached signal and map columns
are kept per stamp (`_joined`); the decisions, which change on every key of the Review page, are laid over them on
each call, looking up only the records decided, edited or selected (`curation.annotated.decision_columns`); the
duplicate groups are found again only when a decision touches a record that can be in a group.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from contextlib import contextmanager

import numpy as np
import pandas as pd
import streamlit as st

from curation import CurationError
from curation.annotated import (
    ANNOTATIONS,
    annotate,
    decision_columns,
    dedup_stamp_but_decisions,
    find_duplicates,
    find_map,
    find_signals,
    prepare_regroup,
    regroup_duplicates,
    stamp,
    stamps,
)
from curation.errors import for_dashboard
from curation.query import Filter
from curation.store import read_records
from curation.workspace import Workspace, default_root
from ui import state
from ui.show import plain


def workspace() -> Workspace:
    root = st.session_state.get(state.WORKSPACE) or str(default_root())
    return Workspace(root)


@st.cache_resource(show_spinner="Loading records…", max_entries=4)
def _records(root: str, records_stamp: tuple) -> pd.DataFrame:
    """Records of a workspace, re-read only when a new part was written (shared, read-only)."""
    return read_records(Workspace(root))


@st.cache_resource(show_spinner="Indexing records…", max_entries=4)
def _base(root: str, records_stamp: tuple) -> tuple[pd.DataFrame, pd.Index]:
    """The records as `annotate`'s join gives them (record ids as Python strings, a RangeIndex: a row's label is its
    position) and the index of their ids, which places decisions and finds rows without a pass over every record."""
    frame = _records(root, records_stamp)
    frame = frame.assign(record_id=frame["record_id"].astype(object)).reset_index(drop=True)
    return frame, pd.Index(frame["record_id"])


_LATEST: dict[str, weakref.ref] = {}  # workspace -> the frame `records` returned last (`with_cached_columns` knows it)


def records(ws: Workspace) -> pd.DataFrame:
    """All records with their current decisions (the records are cached; the decisions are laid over them on each
    call, cheaply: only the records decided, edited or selected are looked up)."""
    frame, index = _base(str(ws.root), stamp(ws, "records"))
    decided = decision_columns(ws, index)
    out = annotate(ws, frame, stages=("decisions",)) if decided is None else pd.concat([frame, decided], axis=1)
    _LATEST[str(ws.root)] = weakref.ref(out)
    return out


def positions(ws: Workspace, ids) -> np.ndarray:
    """The row of each id in `records(ws)` and `annotated_records(ws)` (both in the order of the records), -1 where
    an id is not there. Cheap however many records there are: the index of their ids is kept."""
    _, index = _base(str(ws.root), stamp(ws, "records"))
    ids = list(ids)
    if not ids:
        return np.empty(0, dtype=np.intp)
    if index.is_unique:
        return index.get_indexer(ids)
    first = pd.Series(np.arange(len(index)), index=index).groupby(level=0).first()  # repeated ids: the first row
    return first.reindex(ids).fillna(-1).to_numpy(np.intp)


def current_filter() -> Filter:
    """The shared filter (Records' widgets and the sidebar set it; Records, Quality and Map apply it)."""
    selection, edited, curator = state.get(state.SELECTION_FILTER), state.get(state.EDITED_FILTER), state.get(state.CURATOR_FILTER)
    return Filter(tuple(state.get(state.DATASETS)), tuple(state.get(state.SOURCES)), tuple(state.get(state.DECISIONS)),
                  state.get(state.SEARCH), tuple(state.get(state.FLAGS)), reasons=tuple(state.get(state.REASONS)),
                  dup_group=None if state.get(state.DUP_GROUP_FILTER) == "any" else int(state.get(state.DUP_GROUP_FILTER)),
                  selection=None if selection == "any" else selection,
                  edited={"edited": True, "not edited": False}.get(edited), curator=None if curator == "any" else curator)


@contextmanager
def shown_errors(doing: str):
    """Turn a library error into an on-page message with its cause, never a traceback."""
    try:
        yield
    except CurationError as exc:
        st.error(f"Could not {plain(doing)}: {plain(for_dashboard(exc))}")
    except OSError as exc:
        st.error(f"Could not {plain(doing)}: {plain(exc.strerror or exc)} ({plain(getattr(exc, 'filename', '') or '')})")


def record_datasets(ws: Workspace, ids) -> dict[str, str]:
    """record_id -> dataset for those of `ids` that exist now: the index `curation.decisions.decide` checks ids against,
    from the kept records (issue 18: else each decision reads every record's id and dataset from disk)."""
    frame, _ = _base(str(ws.root), stamp(ws, "records"))
    ids = list(ids)
    rows = positions(ws, ids)
    found = rows >= 0
    return dict(zip([i for i, hit in zip(ids, found) if hit], frame["dataset"].iloc[rows[found]].tolist()))


@st.cache_resource(max_entries=4, show_spinner=False)
def _signals(root: str, signals_stamp: tuple) -> pd.DataFrame | None:
    return find_signals(Workspace(root))


def cached_signals(ws: Workspace) -> pd.DataFrame | None:
    """Flags, quality and lengths of every record if they are all computed already (None otherwise); never computes."""
    return _signals(str(ws.root), stamp(ws, "signals"))


@st.cache_resource(max_entries=4, show_spinner=False)
def _map(root: str, records_stamp: tuple, map_stamp: tuple):
    return find_map(Workspace(root), _records(root, records_stamp))


def cached_map(ws: Workspace):
    """The cached map of all records (None when there is none); misses are remembered until a map is written."""
    return _map(str(ws.root), stamp(ws, "records"), stamp(ws, "map"))


def _find(ws: Workspace):
    return find_duplicates(ws, records(ws), known={"signals": cached_signals(ws)})


def _state(ws: Workspace) -> list[tuple]:
    return ws.query("SELECT record_id, decision, reason FROM state")


def _group_decisions(state: list[tuple], groupable: frozenset) -> str:
    """A digest of the decisions (and reasons) of these records: those that can be in a duplicate group are the only ones
    whose decisions choose representatives (`curation.dedup.groups.preference_rank`), so change the groups. Costs the
    decided records only (a set lookup each)."""
    rows = sorted(f"{r[0]}\t{r[1]}\t{r[2]}" for r in state if r[0] in groupable)
    return hashlib.sha1("\n".join(rows).encode()).hexdigest() if rows else ""


def _groupable(dups) -> dict[str, frozenset]:
    """The ids of the records whose decisions can change the groups: "sweep" for the groups at every threshold the pairs
    answer (the Duplicates page's sweep: in any candidate pair or sharing a text), "groups" for the groups at the
    threshold in force (in a pair at or above it, or sharing a text: far fewer where the pairs reach a low floor)."""
    from curation.dedup.detect import groupable_rows

    ids = dups.frame["record_id"].to_numpy()
    near = dups.pairs.above(float(dups.conf["threshold"]))
    return {"sweep": frozenset(ids[groupable_rows(len(ids), dups.pairs, dups.hashes)].tolist()),
            "groups": frozenset(ids[groupable_rows(len(ids), near, dups.hashes)].tolist())}


@st.cache_resource(max_entries=2, show_spinner="Finding the duplicate groups in the cached pairs…")
def _first_duplicates(root: str, inputs: tuple):
    """The groups under these inputs (the dedup stamp but decisions), the records whose decisions can change them
    (`_groupable`) and the digest of those decisions when the groups were found; None when the pairs are not cached."""
    ws = Workspace(root)
    before = _state(ws)  # read first: a decision made meanwhile makes the digest differ, and the groups are found again
    dups = _find(ws)
    if dups is None:
        return None
    prepare_regroup(dups)  # with the find, so that a curator's first keep regroups one component only (issue 18)
    groupable = _groupable(dups)
    return dups, groupable, {kind: _group_decisions(before, ids) for kind, ids in groupable.items()}


_REGROUPED: dict[str, tuple] = {}  # workspace -> (the inputs, a weak reference to the groups regrouped last)


@st.cache_resource(max_entries=2, show_spinner="Choosing the representatives again after a decision…")
def _duplicates(root: str, inputs: tuple, kind: str, group_decisions: str, _first):
    """The groups under the decisions now: `_first`'s pairs and texts, the representatives chosen again. Regrouped from
    the groups regrouped last under the same inputs where they are still held, so that only the components of the
    records decided since are grouped again (issue 18), not those of every decision since the find."""
    ws = Workspace(root)
    inputs_then, latest = _REGROUPED.get(root, (None, None))
    start = latest() if latest is not None and inputs_then == inputs else None
    found = regroup_duplicates(start if start is not None else _first, records(ws)) or _find(ws)
    if found is not None:
        _REGROUPED[root] = (inputs, weakref.ref(found))
    return found


def _current_duplicates(ws: Workspace, kind: str = "groups") -> tuple | None:
    """(groups, key): the duplicate groups under the current inputs and decisions, and what identifies them. `kind`:
    "groups" when only the groups at the threshold in force are read (their columns), "sweep" for every use."""
    root, inputs = str(ws.root), dedup_stamp_but_decisions(ws)
    first = _first_duplicates(root, inputs)
    if first is None:
        return None
    dups, groupable, digests = first
    now = _group_decisions(_state(ws), groupable[kind])
    return (dups if now == digests[kind] else _duplicates(root, inputs, kind, now, dups)), (inputs, kind, now)


def cached_duplicates(ws: Workspace):
    """Duplicate groups of all records from the cached pairs (None when not computed); never computes pairs or signals.
    A decision on a record in no candidate pair keeps the groups found (at 1M records finding them takes minutes)."""
    found = _current_duplicates(ws, "sweep")
    return None if found is None else found[0]


CACHED = {"signals": cached_signals, "map": cached_map, "dedup": cached_duplicates}


@st.cache_resource(show_spinner="Joining the quality signals and map positions to the records…", max_entries=2)
def _joined(root: str, records_stamp: tuple, signals_stamp: tuple, map_stamp: tuple) -> tuple[pd.DataFrame, dict]:
    """The records plus the signal and map columns cached (those that are), joined once per stamp and shared by every
    rerun and every page; and where each stage's columns are ({stage: slice of columns})."""
    frame, _ = _base(root, records_stamp)
    ws, spans = Workspace(root), {}
    for stage, found in (("signals", _signals(root, signals_stamp)), ("map", _map(root, records_stamp, map_stamp))):
        before = len(frame.columns)
        frame = annotate(ws, frame, stages=(stage,), known={stage: found})
        spans[stage] = slice(before, len(frame.columns))
    return frame.reset_index(drop=True), spans


@st.cache_resource(show_spinner=False, max_entries=2)
def _group_columns(root: str, records_stamp: tuple, key: tuple, _dups) -> pd.DataFrame:
    """The duplicate groups' columns in the order of the records (`key` names the groups: same key, same groups)."""
    frame, _ = _base(root, records_stamp)
    table = _dups.table
    if len(table) == len(frame) and (table["record_id"].to_numpy(object) == frame["record_id"].to_numpy(object)).all():
        return table.drop(columns="record_id").set_axis(frame.index)
    return frame[["record_id"]].merge(table, on="record_id", how="left").drop(columns="record_id")


def annotated_records(ws: Workspace, stages=ANNOTATIONS) -> pd.DataFrame:
    """All records with their current decisions and every column of these stages already cached (quality and flags,
    map position and cluster, duplicate group), as `with_cached_columns(ws, records(ws))` gives them; never starts
    heavy work. The join is kept per stamp and the decisions laid over it, so a rerun after a decision stays cheap."""
    root, records_stamp = str(ws.root), stamp(ws, "records")
    frame, index = _base(root, records_stamp)
    decided = decision_columns(ws, index)
    if not len(frame):
        return records(ws)
    if decided is None:  # repeated record ids: the plain join
        return _joined_plainly(ws, records(ws), stages)
    joined, spans = _joined(root, records_stamp, stamp(ws, "signals"), stamp(ws, "map"))
    parts = [joined.iloc[:, :len(frame.columns)], decided, *(joined.iloc[:, spans[s]] for s in ("signals", "map") if s in stages)]
    found = _current_duplicates(ws) if "dedup" in stages else None
    if found is not None:
        columns = _group_columns(root, records_stamp, found[1], found[0])
        taken = {c for part in parts for c in part.columns}
        parts.append(columns[[c for c in columns.columns if c not in taken]])
    return pd.concat(parts, axis=1)


def _joined_plainly(ws: Workspace, frame: pd.DataFrame, stages) -> pd.DataFrame:
    return annotate(ws, frame, stages=stages, known={s: CACHED[s](ws) for s in stages if s in CACHED})


def with_cached_columns(ws: Workspace, frame: pd.DataFrame, stages=ANNOTATIONS) -> pd.DataFrame:
    """The records plus every column of these stages already cached (quality and flags, map position and cluster,
    duplicate group); never starts heavy work. Given `records(ws)` itself, the cached join (`annotated_records`)."""
    if not len(frame):
        return frame
    latest = _LATEST.get(str(ws.root))
    if latest is not None and latest() is frame:
        return annotated_records(ws, stages)
    return _joined_plainly(ws, frame, stages)


@st.cache_resource(max_entries=2, show_spinner=False)
def _redacted(root: str, records_stamp: tuple) -> pd.DataFrame:
    from curation.pii import redacted_records

    return redacted_records(_base(root, records_stamp)[0])


def redacted(ws: Workspace, part: pd.DataFrame) -> pd.DataFrame | None:
    """The records with personal data redacted (`curation.pii.redacted_records`), found once per records, for a `part`
    of `annotated_records(ws)` (its labels kept); None when `part`'s labels are not those (count its own meta then)."""
    table = _redacted(str(ws.root), stamp(ws, "records"))
    if not part.index.is_unique:
        return None
    shown = table[table.index.isin(part.index)]
    if "record_id" in part and len(shown) and not (part.loc[shown.index, "record_id"].to_numpy(object)
                                                   == shown["record_id"].to_numpy(object)).all():
        return None
    return table


@st.cache_resource(max_entries=4, show_spinner=False)
def _flag_codes(root: str, signals_stamp: tuple) -> list[str]:
    table = _signals(root, signals_stamp)
    return [] if table is None else sorted({code for flags in table["flags"] for code in flags})


def flag_codes(ws: Workspace) -> list[str]:
    """The reason codes some record is flagged with (none until the signals are computed); gathered once per signals."""
    return _flag_codes(str(ws.root), stamp(ws, "signals"))


@st.cache_resource(max_entries=8, show_spinner="Rendering and splitting…")
def _export_plan(root: str, all_stamps: tuple, options: str):
    from curation.export import Options, preview_plan

    return preview_plan(Workspace(root), Options(**json.loads(options)))


def cached_export_plan(ws: Workspace, opts) -> dict:
    """What an export with these options would write (splits, exclusions, token lengths; the rendered texts are let go),
    remembered until the data changes."""
    from dataclasses import asdict

    return _export_plan(str(ws.root), tuple(stamps(ws).items()), json.dumps(asdict(opts), sort_keys=True))


@st.cache_resource(max_entries=8, show_spinner=False)
def _export_preview(root: str, all_stamps: tuple, options: str, indices: tuple, _plan: dict) -> list:
    from curation.export import Options, preview_rows

    return preview_rows(_plan, Options(**json.loads(options)), list(indices))


def export_preview(ws: Workspace, opts, plan: dict, indices: list[int]) -> list[tuple[dict, str]]:
    """(row, rendered text) of the plan's records at `indices`: the few the Export page shows, rendered on demand."""
    from dataclasses import asdict

    return _export_preview(str(ws.root), tuple(stamps(ws).items()), json.dumps(asdict(opts), sort_keys=True), tuple(indices), plan)


@st.cache_resource(max_entries=4, show_spinner=False)
def _cluster_labels(root: str, records_stamp: tuple, map_stamp: tuple) -> list[tuple[int, str]]:
    atlas = _map(root, records_stamp, map_stamp)
    if atlas is None:
        return []
    labelled = atlas.points.dropna(subset=["cluster"]).drop_duplicates("cluster")
    return sorted(zip(labelled["cluster"], labelled["cluster_label"]), key=lambda t: str(t[1]))


def cluster_labels(ws: Workspace) -> list[tuple[int, str]]:
    """(cluster, label) of every cluster of the cached map, by label (none without a map); gathered once per map."""
    return _cluster_labels(str(ws.root), stamp(ws, "records"), stamp(ws, "map"))


@st.cache_resource(max_entries=4, show_spinner=False)
def _largest_groups(root: str, key: tuple, n: int, _dups) -> list[tuple[int, int]]:
    table = _dups.table
    sizes = table.dropna(subset=["dup_group"]).groupby("dup_group").size().sort_values(ascending=False).head(n)
    return list(sizes.items())


def largest_groups(ws: Workspace, n: int) -> list[tuple[int, int]]:
    """(group, size) of the n largest duplicate groups, largest first (none when not found); once per groups found."""
    found = _current_duplicates(ws)
    return [] if found is None else _largest_groups(str(ws.root), found[1], n, found[0])
