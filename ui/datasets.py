"""The workspace's datasets: remove one (after a confirmation that says what goes), and restore a recent removal.

Thin: `curation.remove` moves a dataset's records, caches, decisions and edits to the trash and brings them back.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from curation import remove
from curation.store import dataset_sizes
from ui import show
from ui.data import shown_errors
from ui.decide import curator

PENDING = "w.datasets.pending"  # the dataset whose removal waits for the curator's confirmation


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def confirm(ws, name: str) -> None:
    plan = remove.plan_removal(ws, name)
    st.warning(f"Remove **{show.plain(name)}**? This takes out its **{plan['records']:,} records**, "
               f"**{plan['decisions']:,} decisions** ({plan['log_entries']:,} entries of their history), "
               f"**{plan['edits']:,} edits** of {plan['edited_records']:,} records and {len(plan['files']):,} file(s) the tool "
               f"wrote for it. Nothing is deleted: it can be restored exactly for {plan['window_days']:g} days.",
               icon=":material/delete:")
    force = False
    if plan["protected"]:
        force = st.checkbox(f"{show.plain(name)} is a protected evaluation set: without it, training records that copy its "
                            "items are no longer flagged or left out of exports. Remove it anyway.", key="remove_force")
    a, b = st.columns(2)
    if a.button(f"Yes, remove {show.plain(name)}", key="remove_confirm", type="primary", disabled=plan["protected"] and not force):
        with shown_errors(f"remove {name}"):
            out = remove.remove_dataset(ws, name, curator=curator(), force=force)
            st.session_state.pop(PENDING, None)
            st.toast(f"Removed {name}: {out['records']:,} records (restorable)")
            st.rerun()
    if b.button("Cancel", key="remove_cancel"):
        st.session_state.pop(PENDING, None)
        st.rerun()


def removed(ws) -> None:
    gone = remove.removed_datasets(ws)
    if not gone:
        return
    st.markdown("**Recently removed** (restorable until the date shown)")
    for entry in gone:
        a, b = st.columns([4, 1], vertical_alignment="center")
        a.markdown(f"**{show.plain(entry['dataset'])}** — {entry.get('records', 0):,} records, {entry.get('decisions', 0):,} "
                   f"decisions, {entry.get('edits', 0):,} edits · removed {_when(entry['removed_at'])} by "
                   f"{show.plain(entry['curator'] or '?')} · until {_when(entry['restorable_until'])}")
        if b.button("Restore", key=f"restore.{entry['id']}"):
            with shown_errors(f"restore {entry['dataset']}"):
                out = remove.restore_dataset(ws, entry["id"])
                st.toast(f"Restored {out['dataset']}: {out.get('records', 0):,} records")
                st.rerun()


def render(ws) -> None:
    """The Datasets section: each dataset with its size and a Remove button, the confirmation, the recent removals."""
    st.subheader("Datasets")
    sizes = dataset_sizes(ws)
    if not sizes:
        st.caption("No datasets in this workspace yet.")
    else:
        a, b = st.columns([3, 1], vertical_alignment="bottom")
        names = list(sizes)
        name = a.selectbox("Dataset", names, format_func=lambda n: f"{n} ({sizes[n]:,} records)", key="w.datasets.choice")
        if b.button("Remove…", key="remove_dataset"):
            st.session_state[PENDING] = name
        pending = st.session_state.get(PENDING)
        if pending in sizes:
            with shown_errors(f"plan the removal of {pending}"):
                confirm(ws, pending)
    with shown_errors("list the removed datasets"):
        removed(ws)
