"""The workspace and its records as the pages see them, cached between reruns."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from curation import CurationError
from curation.query import Filter
from curation.store import read_records, with_decisions
from curation.workspace import Workspace, default_root
from ui import state
from ui.show import plain


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
    """The shared filter (Records' widgets and the sidebar set it; Records, Quality and Map apply it)."""
    return Filter(tuple(state.get(state.DATASETS)), tuple(state.get(state.SOURCES)), tuple(state.get(state.DECISIONS)),
                  state.get(state.SEARCH), tuple(state.get(state.FLAGS)))


@contextmanager
def shown_errors(doing: str):
    """Turn a library error into an on-page message with its cause, never a traceback."""
    try:
        yield
    except CurationError as exc:
        st.error(f"Could not {plain(doing)}: {plain(exc)}")
    except OSError as exc:
        st.error(f"Could not {plain(doing)}: {plain(exc.strerror or exc)} ({plain(getattr(exc, 'filename', '') or '')})")


def folder_signature(path) -> tuple:
    """Changes whenever a file is written into the folder: part of cache keys for derived results."""
    from pathlib import Path

    folder = Path(path)
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())) if folder.is_dir() else ()


@st.cache_resource(max_entries=4, show_spinner=False)
def _annotated_signals(root: str, fingerprint: tuple, signals_dir: tuple, settings_json: str) -> pd.DataFrame | None:
    from curation.signals.compute import annotated_signals, pending

    ws = Workspace(root)
    return None if pending(ws) else annotated_signals(ws)


def cached_signals(ws: Workspace) -> pd.DataFrame | None:
    """Flags, quality and lengths of every record if they are all computed already (None otherwise); never computes."""
    signature = folder_signature(ws.root / "signals")
    if not signature:  # nothing computed yet: answer without importing or reading anything
        return None
    from curation import settings

    config = json.dumps([settings.get(ws, "thresholds", {}), settings.get(ws, "tokenizer")], sort_keys=True, default=str)
    return _annotated_signals(str(ws.root), ws.fingerprint(), signature, config)


@st.cache_resource(max_entries=4, show_spinner=False)
def _cached_map(root: str, fingerprint: tuple, maps_dir: tuple, conf: str):
    from curation.atlas import cached_atlas

    return cached_atlas(Workspace(root), _records(root, fingerprint))


def cached_map(ws: Workspace):
    """The cached map of all records (None when there is none); misses are remembered until a map is written."""
    signature = folder_signature(ws.root / "maps")
    if not signature:  # no map was ever built: no need to hash every record's text
        return None
    from curation.atlas import map_settings

    return _cached_map(str(ws.root), ws.fingerprint(), signature, json.dumps(map_settings(ws), sort_keys=True))


def with_cached_columns(ws: Workspace, frame: pd.DataFrame) -> pd.DataFrame:
    """Add quality, flags, cluster and duplicate group where they are already cached; never starts heavy work."""
    if not len(frame):
        return frame
    annotated = cached_signals(ws)
    if annotated is not None:
        frame = frame.merge(annotated, on="record_id", how="left")
    mapped = cached_map(ws)
    if mapped is not None:
        frame = frame.merge(mapped.points[["record_id", "cluster", "cluster_label"]], on="record_id", how="left")
    found = cached_duplicates(ws)
    if found is not None:
        frame = frame.merge(found.table[["record_id", "dup_group"]], on="record_id", how="left")
    return frame


def decisions_signature(ws: Workspace) -> tuple:
    """Changes whenever a decision is made or undone: part of cache keys for results that depend on decisions."""
    return tuple(ws.query("SELECT count(*), max(seq) FROM log")[0])


@st.cache_resource(max_entries=4, show_spinner=False)
def _cached_duplicates(root: str, fingerprint: tuple, dedup_dir: tuple, conf: str, decided: tuple, quality: bool):
    from curation.dedup import find

    ws = Workspace(root)
    frame = with_decisions(ws, _records(root, fingerprint))
    if quality:
        frame = frame.merge(cached_signals(ws)[["record_id", "quality"]], on="record_id", how="left")
    return find(ws, frame, compute=False)


def cached_duplicates(ws: Workspace):
    """Duplicate groups of all records from the cached pairs (None when not computed); never computes pairs or signals."""
    signature = folder_signature(ws.root / "dedup")
    from curation.dedup import dedup_settings

    conf = dedup_settings(ws)
    if not signature and conf["method"] != "exact":
        return None
    needs_quality = conf["rule"] == "quality"
    if needs_quality and cached_signals(ws) is None:
        return None
    decided = decisions_signature(ws)
    return _cached_duplicates(str(ws.root), ws.fingerprint(), signature, json.dumps(conf, sort_keys=True), decided, needs_quality)


@st.cache_resource(max_entries=8, show_spinner="Rendering and splitting…")
def _export_plan(root: str, fingerprint: tuple, decided: tuple, dedup_dir: tuple, maps_dir: tuple, options: str):
    from curation.export import Options, prepare

    return prepare(Workspace(root), Options(**json.loads(options)))


def cached_export_plan(ws: Workspace, opts) -> dict:
    """What an export with these options would write (rendered rows, splits, exclusions), remembered until the data changes."""
    from dataclasses import asdict

    decided = decisions_signature(ws)
    return _export_plan(str(ws.root), ws.fingerprint(), decided, folder_signature(ws.root / "dedup"), folder_signature(ws.root / "maps"),
                        json.dumps(asdict(opts), sort_keys=True))
