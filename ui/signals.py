"""Signals for the pages: computed with visible progress, then read from the cache; a flag's measured precision and
its review queue (the Records page, filtered to the flag)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from curation.signals.compute import pending, signal_table, thresholds
from curation.signals.measured import measured
from curation.workspace import Workspace
from ui import state
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


def precision_text(signal) -> str:
    """The flag's measured precision and on how many labelled records, e.g. "0.88 on 43" ("not measured" without)."""
    m = measured(signal.reason)
    return f"{m[0]:.2f} on {m[1]}" if m else "not measured"


def _open_queue(reason: str, ids: list[str]) -> None:
    state.set(state.FLAGS, [reason])  # the Records page shows the same records
    state.set(state.PAGE, 1)
    from ui import review

    review.open_queue(f"Flag {reason}", ids, reason=reason)


def review_button(reason: str, ids: list[str], *, key: str) -> None:
    """"Review these records": the flag's records open as a queue on the Review page (one key each for keep, reject,
    skip, next), and the shared filter becomes this flag."""
    if st.button(f"Review these {len(ids):,} records", key=key, type="primary", on_click=_open_queue, args=(reason, list(ids)),
                 help="Opens them as a review queue (one key each for keep, reject, skip, next); the Records page's "
                      "filter becomes this flag too"):
        from ui import review

        st.switch_page(review.PAGE)
