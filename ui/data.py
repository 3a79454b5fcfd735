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
    return Filter(tuple(ss[state.DATASETS]), tuple(ss[state.SOURCES]), tuple(ss[state.DECISIONS]), ss[state.SEARCH])


@contextmanager
def shown_errors(doing: str):
    """Turn a library error into an on-page message with its cause, never a traceback."""
    try:
        yield
    except CurationError as exc:
        st.error(f"Could not {doing}: {exc}")
    except OSError as exc:
        st.error(f"Could not {doing}: {exc.strerror or exc} ({getattr(exc, 'filename', '') or ''})")
