"""Act where you look: keep or reject a set of records seen on a page (a cluster, a lasso, search hits), with an Undo
for exactly that action right after it, and a way to review the set one by one.

The Undo undoes the latest decision of the records the action changed (`curation.decisions.undo`), nothing else: records
already in that state before the action are left as they were.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from curation import decisions
from ui import review, show, state
from ui.data import shown_errors
from ui.decide import curator


def _changed(ws, ids: list[str], action: str, reason: str) -> list[str]:
    """The records this decision will change (the others already hold it: decide leaves them alone)."""
    states = decisions.live_states(ws, ids)
    before = dict(zip(states["record_id"], zip(states["decision"], states["reason"])))
    return [rid for rid in dict.fromkeys(ids) if before.get(rid) != (action, reason)]


def decide_undoably(ws, ids: list[str], action: str, reason: str, what: str, slot: str = state.MAP_LAST) -> int:
    changed = _changed(ws, ids, action, reason)
    n = decisions.decide(ws, ids, action, reason, curator=curator())
    state.set(slot, {"what": f"{action} {len(changed):,} record(s) ({what}, reason {reason})", "ids": changed})
    return n


def action_bar(ws, ids: list[str], *, label: str, what: str, key: str, queue: str, slot: str = state.MAP_LAST) -> None:
    """A reason, Keep N / Reject N (undoable), and Review these N (a queue named `queue`), then the Undo of the last action."""
    digest = hashlib.sha1("\n".join([label, *ids]).encode()).hexdigest()[:12]
    a, b, c, d = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    reason = a.text_input("Reason", value=label, key=f"{key}_reason.{digest}")
    for column, action in ((b, "keep"), (c, "reject")):
        if column.button(f"{action.capitalize()} {len(ids):,}", key=f"{key}_{action}", width="stretch"):
            with shown_errors(f"{action} {len(ids):,} record(s)"):
                n = decide_undoably(ws, ids, action, (reason or "").strip() or "manual", what, slot)
                st.toast(f"{action}: {n:,} record(s) changed")
                st.rerun()
    review.review_button(f"Review {len(ids):,} one by one", queue, ids, key=f"{key}_review", reason=(reason or "").strip() or label,
                         container=d)
    undo_last(ws, key=key, slot=slot)


def undo_last(ws, *, key: str, slot: str = state.MAP_LAST) -> None:
    """The Undo of the last action taken here: exactly the records it changed."""
    last = state.get(slot)
    if not last:
        return
    a, b = st.columns([4, 1], vertical_alignment="center")
    a.caption(f"Last action here: {show.plain(last['what'])}.")
    if b.button("Undo it", key=f"{key}_undo_last", disabled=not last["ids"],
                help="Gives back to these records the decision they had before this action (and nothing else)"):
        with shown_errors("undo the last action"):
            n = decisions.undo(ws, last["ids"], curator=curator())
            state.forget(slot)
            st.toast(f"undone: {n:,} record(s) back to their decision before")
            st.rerun()


OPENING = "w.open_table"  # + ".<name digest>.<version>": a table whose ticked row opens that record on the Review page
OPEN_NOW = "ui.act.open_now"  # set by the table's callback: switch to the Review page on this run


def _open_row(name: str, ids: list[str], widget: str, version_key: str) -> None:
    rows = st.session_state[widget].selection.rows
    if rows:
        review.open_queue(name, ids, reason="manual", pos=rows[0])
        st.session_state[version_key] = st.session_state.get(version_key, 0) + 1  # back here: a fresh table, nothing ticked
        st.session_state[OPEN_NOW] = True


def opening_table(name: str, ids: list[str]) -> dict:
    """Keyword arguments for st.dataframe: ticking row i opens ids[i] on the Review page, the other rows as its queue.
    Call `follow_open()` after drawing it (st.switch_page cannot run inside a callback)."""
    digest = hashlib.sha1(name.encode()).hexdigest()[:12]
    version_key = f"ui.act.version.{digest}"
    widget = f"{OPENING}.{digest}.{st.session_state.get(version_key, 0)}"
    return {"key": widget, "on_select": lambda: _open_row(name, ids, widget, version_key), "selection_mode": "single-row"}


def follow_open() -> None:
    if st.session_state.pop(OPEN_NOW, False):
        st.switch_page(review.PAGE)
