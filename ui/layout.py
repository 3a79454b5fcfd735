"""What every page does first: state defaults, the shared sidebar, the title.

Pages call this themselves (rather than relying on app.py alone) so a page
also renders correctly when Streamlit runs it directly.
"""

from __future__ import annotations

import streamlit as st

from curation.workspace import Workspace
from ui import sidebar, state
from ui.data import workspace


def page(title: str) -> Workspace:
    state.init()
    sidebar.render()
    st.title(title)
    return workspace()
