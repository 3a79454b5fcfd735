"""Instruction-data curation dashboard: `streamlit run app.py`."""

from __future__ import annotations

import streamlit as st

PAGES = [
    st.Page("pages/records.py", title="Records", icon=":material/table_rows:", default=True),
    st.Page("pages/load.py", title="Load data", icon=":material/upload_file:"),
]


def main() -> None:
    st.set_page_config(page_title="Instruction data curation", page_icon=":material/filter_alt:", layout="wide")
    page = st.navigation(PAGES)
    try:
        page.run()
    except Exception as exc:  # last resort: a message, never a traceback
        st.error(f"Something went wrong on this page: {type(exc).__name__}: {exc}")
        st.caption("Reload the page to try again. Your decisions are saved as you make them.")


main()
