"""Review: step through a queue of records, one key each for keep, reject, skip, next and previous."""

from __future__ import annotations

import streamlit as st

from ui import layout
from ui import review as queue
from ui.data import annotated_records


def main() -> None:
    ws = layout.page("Review")
    frame = annotated_records(ws)  # the join is cached; the decisions are laid over it on each key (issue 18)
    if frame.empty:
        layout.no_records()
        return
    name = queue.choose_queue()
    with st.expander("Open a queue", expanded=name is None):
        queue.start_form(ws, frame)
    if name is None:
        st.info("No queue yet. Open one above, or from any page: “Review these” on the Records page (its filter), a "
                "cluster or a lasso on the Map, a duplicate group, the Select page's margin, or semantic-search hits.")
        queue.curators_panel(ws)
        return
    queue.queue_view(ws, frame, name)
    queue.curators_panel(ws)


layout.run(main)
