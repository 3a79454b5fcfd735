"""The Records page's review filters (issue 17): reason, duplicate group, selection, edit state and curator.

Each sets a shared filter key (`ui.state`), applied by the library's `curation.query.Filter` wherever the shared filter
is (Records, Quality, Map); they are cleared with the rest of the filter.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import state

SELECTIONS = ["any", "selected", "margin"]
EDITED = ["any", "edited", "not edited"]


def _reason_codes(frame: pd.DataFrame) -> list[str]:
    """The reasons in force, by code: `near_duplicate_of:<id>` counts as near_duplicate_of, `cluster:<label>` as cluster."""
    reasons = frame["reason"].dropna().astype(str)
    return sorted(set(reasons.str.split(":").str[0]))


def _curator_names(ws) -> list[str]:
    try:
        from curation import curators
    except ImportError:
        return []
    return [c["curator"] for c in curators.curators(ws) if c["current"]]


def more_filters(ws, frame: pd.DataFrame) -> None:
    active = sum(bool(v) and v != "any" for v in (state.get(state.REASONS), state.get(state.DUP_GROUP_FILTER),
                                                    state.get(state.SELECTION_FILTER), state.get(state.EDITED_FILTER),
                                                    state.get(state.CURATOR_FILTER)))
    label = "More filters: reason, curator, duplicate group, selection, edited" + (f" ({active} set)" if active else "")
    with st.expander(label, expanded=bool(active)):
        a, b, c = st.columns(3)
        codes = _reason_codes(frame)
        state.set(state.REASONS, [r for r in state.get(state.REASONS) if r in codes])  # never a filter nobody can see
        a.multiselect("Reason", codes, placeholder="Any reason" if codes else "no decisions yet", disabled=not codes,
                      help="The reason of the decision in force, by code (near_duplicate_of covers every duplicate's)",
                      **state.bound(state.REASONS, options=codes))
        names = ["any", *_curator_names(ws)]
        if state.get(state.CURATOR_FILTER) not in names:
            state.set(state.CURATOR_FILTER, "any")
        b.selectbox("Decided by", names, help="Records whose decision in force this curator made",
                    **state.bound(state.CURATOR_FILTER, options=names))
        groups = ["any"]
        if "dup_group" in frame:
            groups += sorted(int(g) for g in frame["dup_group"].dropna().unique())
        if state.get(state.DUP_GROUP_FILTER) not in groups:
            state.set(state.DUP_GROUP_FILTER, "any")
        c.selectbox("Duplicate group", groups, disabled=len(groups) == 1,
                    help="One duplicate group (the Duplicates page numbers them; none until duplicates are found)",
                    **state.bound(state.DUP_GROUP_FILTER, options=groups))
        d, e = st.columns(2)
        d.radio("Selection", SELECTIONS, horizontal=True, help="selected: chosen by the latest selection applied; margin: "
                "next in line past its budget", **state.bound(state.SELECTION_FILTER, options=SELECTIONS))
        e.radio("Edited", EDITED, horizontal=True, help="Records whose text was edited (or never edited)",
                **state.bound(state.EDITED_FILTER, options=EDITED))
