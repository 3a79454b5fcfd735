"""Signals for the pages: computed with visible progress, then read from the cache."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from curation.signals.compute import pending, signal_table, thresholds
from curation.workspace import Workspace
from ui.data import cached_signals
from ui.show import plain


def signals(ws: Workspace) -> tuple[pd.DataFrame, dict]:
    """The annotated signal table (flags, quality, lengths) and the thresholds in force."""
    todo = pending(ws)
    # Always present, so the elements after it keep their place (and the tabs their state) once the work is done.
    box = st.container()
    if todo:
        with box, st.status(f"Computing quality signals for {todo:,} records…", expanded=True) as status:
            bar = st.progress(0.0)
            signal_table(ws, lambda done, total, what: bar.progress(min(done / max(total, 1), 1.0),
                                                                    text=f"{plain(what)}: {done:,}/{total:,}"))
            status.update(label="Quality signals computed", state="complete", expanded=False)
    return cached_signals(ws), thresholds(ws)  # memoised: reruns of the page do not re-annotate every record
