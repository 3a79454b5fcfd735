"""Instruction-data curation dashboard: `streamlit run app.py`."""

from __future__ import annotations

import streamlit as st

from ui.layout import configure
from ui.nav import PAGES


def main() -> None:
    configure()
    page = st.navigation([st.Page(path, title=title, icon=icon, default=i == 0) for i, (path, title, icon) in enumerate(PAGES)],
                         position="hidden")
    try:
        page.run()
    except Exception as exc:  # last resort: a message, never a traceback
        st.error(f"Something went wrong on this page: {type(exc).__name__}: {exc}")
        st.caption("Reload the page to try again. Your decisions are saved as you make them.")


main()
