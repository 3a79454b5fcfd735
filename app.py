"""Instruction-data curation dashboard: `streamlit run app.py`."""

from __future__ import annotations

import streamlit as st

from ui.layout import configure
from ui.nav import PAGES


def main() -> None:
    configure()
    page = st.navigation([st.Page(path, title=title, icon=icon, default=i == 0) for i, (path, title, icon) in enumerate(PAGES)],
                         position="hidden")
    page.run()  # each page guards itself (ui.layout.run): no traceback reaches the curator


main()
