"""The workspace and its records as the pages see them, cached between reruns.

Every loader wraps a library function (`curation.annotated`) in a Streamlit cache keyed on the freshness stamps of
the stages it reads, so a result is reused exactly until its inputs or cache files change.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from curation import CurationError
from curation.annotated import ANNOTATIONS, annotate, find_duplicates, find_map, find_signals, stamp, stamps
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


def records(ws: Workspace) -> pd.DataFrame:
    """All records with their current decisions."""
    return annotate(ws, _records(str(ws.root), stamp(ws, "records")), stages=("decisions",))


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


@st.cache_resource(max_entries=4, show_spinner=False)
def _duplicates(root: str, dedup_stamp: tuple):
    ws = Workspace(root)
    return find_duplicates(ws, records(ws), known={"signals": cached_signals(ws)})


def cached_duplicates(ws: Workspace):
    """Duplicate groups of all records from the cached pairs (None when not computed); never computes pairs or signals."""
    return _duplicates(str(ws.root), stamp(ws, "dedup"))


CACHED = {"signals": cached_signals, "map": cached_map, "dedup": cached_duplicates}


def with_cached_columns(ws: Workspace, frame: pd.DataFrame, stages=ANNOTATIONS) -> pd.DataFrame:
    """The records plus every column of these stages already cached (quality and flags, map position and cluster,
    duplicate group); never starts heavy work."""
    if not len(frame):
        return frame
    return annotate(ws, frame, stages=stages, known={s: CACHED[s](ws) for s in stages if s in CACHED})


@st.cache_resource(max_entries=8, show_spinner="Rendering and splitting…")
def _export_plan(root: str, all_stamps: tuple, options: str):
    from curation.export import Options, prepare

    return prepare(Workspace(root), Options(**json.loads(options)))


def cached_export_plan(ws: Workspace, opts) -> dict:
    """What an export with these options would write (rendered rows, splits, exclusions), remembered until the data changes."""
    from dataclasses import asdict

    return _export_plan(str(ws.root), tuple(stamps(ws).items()), json.dumps(asdict(opts), sort_keys=True))
