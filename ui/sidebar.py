"""The shared sidebar: workspace, dataset filter, decision counts per dataset."""

from __future__ import annotations

import streamlit as st

from curation.decisions import counts, default_curator
from curation.store import dataset_sizes
from curation.workspace import default_root
from ui import state
from ui.data import workspace
from ui.show import plain


def render() -> None:
    with st.sidebar:
        st.text_input("Workspace", help="Directory holding all project state",
                      **state.bound(state.WORKSPACE, default=str(default_root())))
        st.text_input("Curator", placeholder=f"default: {default_curator()}", **state.bound(state.CURATOR),
                      help="Your name: every decision and edit you make here records it (default: $CURATION_CURATOR, "
                           "else the user name)")
        ws = workspace()
        per_dataset = counts(ws, dataset_sizes(ws))
        names = list(per_dataset)
        state.set(state.DATASETS, [d for d in state.get(state.DATASETS) if d in names])  # never a filter nobody can see
        st.multiselect("Datasets", names, placeholder="All datasets", **state.bound(state.DATASETS, options=names))
        if not per_dataset:
            st.caption("No data yet.")
        for name, c in per_dataset.items():
            st.markdown(f"**{plain(name)}**  \n{c['keep']:,} kept · {c['reject']:,} rejected · {c['undecided']:,} undecided")
