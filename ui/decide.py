"""One decision bar for every page: a reason and keep / reject / undo buttons for a set of records."""

from __future__ import annotations

import hashlib

import streamlit as st

from curation import decisions
from ui import state
from ui.data import record_datasets, shown_errors  # the ids checked against the kept records (issue 18)


def curator() -> str | None:
    """The curator named in the sidebar (None: the library's default, $CURATION_CURATOR or the user name)."""
    return (state.get(state.CURATOR) or "").strip() or None


def decision_bar(ws, ids: list[str], *, reason_key: str, buttons: list[tuple[str, str, str]], default_reason: str = "manual",
                 primary: str | None = None, help: str | None = None) -> None:
    """`buttons`: (label, action, widget key) with action keep, reject or undo. One transaction per click.

    The reason starts from `default_reason` for each set of records: its widget is keyed by them, so a reason
    typed for one record (or selection) never carries over to the next.
    """
    columns = st.columns([2] + [1] * len(buttons))
    digest = hashlib.sha1("\n".join([default_reason, *ids]).encode()).hexdigest()[:12]
    reason = columns[0].text_input("Reason", value=default_reason, key=f"{reason_key}.{digest}", help=help)
    for column, (label, action, key) in zip(columns[1:], buttons):
        if column.button(label, key=key, width="stretch", type="primary" if action == primary else "secondary"):
            with shown_errors(f"{action} {len(ids):,} record(s)"):
                if action == "undo":
                    changed = decisions.undo(ws, ids, curator=curator(), index=record_datasets(ws, ids))
                else:
                    changed = decisions.decide(ws, ids, action, reason, curator=curator(), index=record_datasets(ws, ids))
                st.toast(f"{action}: {changed:,} record(s) changed")
                st.rerun()
