"""What every page does first: page config, state defaults, the sidebar, the title.

Pages call this themselves (rather than relying on app.py alone): on a fresh
server Streamlit runs the first requested page straight from `pages/`, and the
page must look the same either way. The menu is ours (Streamlit's automatic
one is hidden in .streamlit/config.toml).
"""

from __future__ import annotations

import streamlit as st

from curation.errors import CurationError, for_dashboard
from curation.workspace import DamagedWorkspace, Workspace
from ui import sidebar, state
from ui.data import current_filter, workspace
from ui.nav import PAGES
from ui.show import plain


def configure() -> None:
    st.set_page_config(page_title="Instruction data curation", page_icon=":material/filter_alt:", layout="wide")


def page(title: str) -> Workspace:
    configure()
    state.init()
    state.on_page(title.lower().replace(" ", "_"))
    with st.sidebar:
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
        st.divider()
    sidebar.render()
    st.title(title)
    return workspace()


def no_records() -> None:
    """The empty state of pages that need records."""
    st.info("No records yet: load data first.")
    st.page_link("pages/load.py", label="Load data", icon=":material/upload_file:")


def filter_note(shown: int, total: int) -> None:
    """On a page that applies the shared filter: say which filter and what it leaves, with a way to clear it."""
    f = current_filter()
    parts = [f"search “{plain(f.search.strip())}”"] if f.search.strip() else []
    for label, values in (("datasets", f.datasets), ("sources", f.sources), ("decisions", f.decisions), ("flags", f.flags)):
        if values:
            parts.append(f"{label} {', '.join(plain(v) for v in values)}")
    for label, value in (("reasons", ", ".join(f.reasons)), ("duplicate group", f.dup_group), ("selection", f.selection),
                         ("edited", {True: "yes", False: "no"}.get(f.edited)), ("decided by", f.curator)):
        if value not in (None, ""):
            parts.append(f"{label} {plain(value)}")
    if not parts:
        return
    note, clear = st.columns([5, 1], vertical_alignment="center")
    note.info(f"Filtered: {' · '.join(parts)} — {shown:,} of {total:,} records. The filter is set on the Records page "
              "and in the sidebar.", icon=":material/filter_alt:")
    clear.button("Clear the filter", key=state.CLEAR_FILTER, on_click=state.clear_filter)


def run(main) -> None:
    """Run a page; an error becomes a message with its cause, never a traceback.

    A library error (CurationError) is shown as its message, which says the fix; for a damaged workspace that is the
    doctor command to run (no promise that everything is saved: the damage may have cost something)."""
    try:
        main()
    except CurationError as exc:
        st.error(plain(for_dashboard(exc)))
        if isinstance(exc, DamagedWorkspace):
            st.caption("Run the doctor command shown above: it keeps what it can, moves what is damaged aside and says "
                       "what to re-ingest. Then reload the page.")
    except Exception as exc:
        st.error(f"Something went wrong on this page: {type(exc).__name__}: {plain(exc)}")
        st.caption("Reload the page to try again. Your decisions are saved as you make them.")
