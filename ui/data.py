"""The workspace and its records as the pages see them, cached between reruns."""

from __future__ import annotations

from contextlib import contextmanager

import pandas as pd
import streamlit as st

from curation import CurationError
from curation.query import Filter
from curation.store import read_records, with_decisions
from curation.workspace import Workspace, default_root
from ui import state


def workspace() -> Workspace:
    root = st.session_state.get(state.WORKSPACE) or str(default_root())
    return Workspace(root)


@st.cache_resource(show_spinner="Loading records…", max_entries=4)
def _records(root: str, fingerprint: tuple) -> pd.DataFrame:
    """Records of a workspace, re-read only when a new part was written (shared, read-only)."""
    return read_records(Workspace(root))


def records(ws: Workspace) -> pd.DataFrame:
    """All records with their current decisions."""
    return with_decisions(ws, _records(str(ws.root), ws.fingerprint()))


def current_filter() -> Filter:
    ss = st.session_state
    return Filter(tuple(ss[state.DATASETS]), tuple(ss[state.SOURCES]), tuple(ss[state.DECISIONS]), ss[state.SEARCH],
                  tuple(ss[state.FLAGS]))


@contextmanager
def shown_errors(doing: str):
    """Turn a library error into an on-page message with its cause, never a traceback."""
    try:
        yield
    except CurationError as exc:
        st.error(f"Could not {doing}: {exc}")
    except OSError as exc:
        st.error(f"Could not {doing}: {exc.strerror or exc} ({getattr(exc, 'filename', '') or ''})")


def with_cached_columns(ws: Workspace, frame: pd.DataFrame) -> pd.DataFrame:
    """Add quality, flags and cluster where they are already cached; never starts heavy work."""
    from curation.signals.compute import annotate, pending, signal_table, thresholds

    if len(frame) and not pending(ws):
        frame = frame.merge(annotate(signal_table(ws)[0], thresholds(ws)).drop(columns=["text_hash"]), on="record_id", how="left")
    mapped = cached_map(ws, frame) if len(frame) else None
    if mapped is not None:
        frame = frame.merge(mapped.points[["record_id", "cluster", "cluster_label"]], on="record_id", how="left")
    return frame


@st.cache_resource(max_entries=4, show_spinner=False)
def _cached_map(root: str, fingerprint: tuple, conf: str):
    from curation.atlas import cached_atlas

    ws = Workspace(root)
    return cached_atlas(ws, _records(root, fingerprint))


def cached_map(ws: Workspace, frame: pd.DataFrame):
    """The cached map of all records (None when there is none), remembered per records and settings."""
    import json

    from curation.atlas import map_settings

    found = _cached_map(str(ws.root), ws.fingerprint(), json.dumps(map_settings(ws), sort_keys=True))
    if found is None:
        _cached_map.clear()  # never remember a miss: the map may be built a moment later
    return found
