"""Browse records: filter, page through, inspect one, keep or reject with a reason."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime

import pandas as pd
import streamlit as st

from curation import decisions
from curation.decisions import STATES
from curation.demo import load_demo
from curation.query import page
from curation.records import SOURCES, loads
from ui import edit, layout, pii, review, show, state
from ui.data import annotated_records, current_filter, flag_codes, shown_errors
from ui.decide import decision_bar
from ui.filters import more_filters

TABLE_COLUMNS = ["record_id", "dataset", "source", "decision", "reason", "instruction", "output"]
EXTRA_COLUMNS = ["quality", "flags", "cluster_label", "dup_group"]  # shown when cached


def empty_state(ws) -> None:
    st.info("This workspace has no records yet.")
    st.write("Start with the demo dataset (a few hundred records with planted problems), or load your own data.")
    left, right = st.columns(2)
    if left.button("Load the demo dataset", type="primary", key="load_demo"):
        with shown_errors("load the demo dataset"):
            result = load_demo(ws)
            state.set(state.LAST_INGEST, result)
            st.rerun()
    right.page_link("pages/load.py", label="Load your own data", icon=":material/upload_file:")


def filters(ws, frame: pd.DataFrame) -> None:
    a, b, c, d = st.columns([1, 1, 1, 2])
    a.multiselect("Source", SOURCES, placeholder="Any source", **state.bound(state.SOURCES, options=SOURCES))
    b.multiselect("Decision", STATES, placeholder="Any decision", **state.bound(state.DECISIONS, options=STATES))
    codes = flag_codes(ws) if "flags" in frame else []  # gathered once per signals: not a pass over every record each run
    state.set(state.FLAGS, [code for code in state.get(state.FLAGS) if code in codes])  # never a filter nobody can see
    computed = "flags" in frame
    c.multiselect("Flag", codes, placeholder="Any flag" if codes else "no flags raised" if computed else "signals not computed yet",
                  disabled=not codes, **state.bound(state.FLAGS, options=codes),
                  help=None if computed else "Flags come from the quality signals: open the Quality page, which computes "
                  "them (or run `python -m curation signals`), then filter here.")
    d.text_input("Search text", placeholder="words in instruction, input, output or conversation", **state.bound(state.SEARCH))


def chosen_elsewhere() -> None:
    """The record was chosen outside the table: the next run draws a fresh table that ticks it."""
    state.set(state.TABLE_VERSION, state.get(state.TABLE_VERSION) + 1)


def table(shown: pd.DataFrame) -> None:
    """The page of records; its ticked row is always the shared record (state.RECORD), which is on this page.

    The table's key names the rows it shows and TABLE_VERSION: new rows (filter, page, decisions) or a record
    chosen elsewhere mean a fresh table, ticked from the shared record; a tick in the table sets the shared record.
    """
    view = shown[TABLE_COLUMNS + [c for c in EXTRA_COLUMNS if c in shown]].copy()
    if "flags" in view:
        view["flags"] = view["flags"].map(lambda f: ", ".join(f) if isinstance(f, (list, tuple)) else "")
    view["instruction"] = view["instruction"].map(show.snippet)
    view["output"] = view["output"].map(show.snippet)
    view["reason"] = view["reason"].fillna("")
    ids = list(shown["record_id"])
    config = {
        "record_id": st.column_config.TextColumn("record", width="small"),
        "instruction": st.column_config.TextColumn("instruction", width="large"),
        "output": st.column_config.TextColumn("output", width="large"),
        "quality": st.column_config.ProgressColumn("quality", min_value=0.0, max_value=1.0, format="%.2f", width="small"),
        "cluster_label": st.column_config.TextColumn("cluster"),
        "dup_group": st.column_config.NumberColumn("dup group", format="%d", width="small"),
    }
    version = state.get(state.TABLE_VERSION)
    digest = hashlib.sha1("\n".join([str(version), *ids]).encode()).hexdigest()[:12]
    key = f"{state.RECORDS_TABLE}.{digest}"
    fresh = key not in st.session_state
    event = st.dataframe(view, hide_index=True, width="stretch", key=key, on_select="rerun", selection_mode="single-row",
                         column_config=config, selection_default={"selection": {"rows": [ids.index(state.get(state.RECORD))]}})
    rows = event.selection.rows
    if rows:
        state.set(state.RECORD, ids[rows[0]])
    elif not fresh:  # the curator unticked the record shown below: tick it again
        chosen_elsewhere()
        st.rerun()


def pager(total: int) -> tuple[int, int]:
    a, b, c = st.columns([1, 1, 3])
    sizes = [25, 50, 100, 200]
    size = a.selectbox("Rows per page", sizes, **state.bound(state.PAGE_SIZE, options=sizes))
    pages = max(1, math.ceil(total / size))
    state.set(state.PAGE, min(max(1, int(state.get(state.PAGE))), pages))
    number = b.number_input(f"Page (of {pages})", min_value=1, max_value=pages, **state.bound(state.PAGE))
    return size, (number - 1) * size


def detail(ws, shown: pd.DataFrame) -> None:
    """The shared record (ticked in the table above), or another one of this page (`shown`) chosen here."""
    ids = list(shown["record_id"])
    labels = dict(zip(shown["record_id"], shown["instruction"].map(lambda s: show.snippet(s, 80))))
    rid = st.selectbox("Record", ids, format_func=lambda i: f"{i} — {labels.get(i, '')}",
                       **state.bound(state.RECORD, options=ids, then=chosen_elsewhere))
    rec = shown[shown["record_id"] == rid].iloc[0]
    st.markdown(f"**{show.plain(rec['dataset'])}** · {show.plain(rec['file'])}, {show.plain(rec['where'])} · "
                f"format {show.plain(rec['format'])} · source **{show.plain(rec['source'])}**")
    verdict = rec["decision"] if rec["decision"] == "undecided" else f"{rec['decision']} ({rec['reason']})"
    st.markdown(f"Decision: **{show.plain(verdict)}**")
    pii.record_redactions(loads(rec["meta"]))  # issue 16: which fields had personal data replaced, and of which kinds
    decide_buttons(ws, [rid], key="one")

    left, right = st.columns([3, 2])
    with left:
        messages = loads(rec["messages"])
        if messages:
            st.subheader("Conversation")
            for m in messages:
                show.text(m["role"] if "label" not in m else f"{m['role']} ({m['label']})", m["content"])
        else:
            if rec["system"]:
                show.text("System", rec["system"])
            show.text("Instruction", rec["instruction"])
            show.text("Input", rec["input"])
            show.text("Output", rec["output"])
    with right:
        st.subheader("Meta")
        st.json(loads(rec["meta"]) or {}, expanded=True)
        st.subheader("History")
        events = decisions.history(ws, rid)
        if events:
            hist = pd.DataFrame(events)
            hist["time"] = hist["ts"].map(lambda t: datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S"))
            st.dataframe(hist[["time", "action", "reason", "curator"]], hide_index=True, width="stretch")
        else:
            st.caption("No decisions yet.")
        edit.history(ws, rid, key="records")
    edit.editor(ws, rec, key="records")


def decide_buttons(ws, ids: list[str], key: str) -> None:
    suffix = "" if len(ids) == 1 else f" all {len(ids):,}"
    decision_bar(ws, ids, reason_key=state.REASON if key == "one" else state.BULK_REASON,
                 buttons=[(f"{a.capitalize()}{suffix}", a, f"{key}_{a}") for a in ("keep", "reject", "undo")],
                 help="A reason code: manual, off_topic, low_quality…")


def main() -> None:
    ws = layout.page("Records")
    frame = annotated_records(ws)  # the join is cached; the decisions are laid over it each run (issue 18)
    if frame.empty:
        empty_state(ws)
        return
    filters(ws, frame)
    more_filters(ws, frame)
    matching = current_filter().apply(frame)
    st.caption(f"{len(matching):,} of {len(frame):,} records match")
    if matching.empty:
        st.warning("No record matches these filters. Clear the search or widen the filters.")
        return
    size, offset = pager(len(matching))
    shown = page(matching, size, offset)
    if state.get(state.RECORD) not in set(shown["record_id"]):  # not on this page: the page's first record
        state.set(state.RECORD, shown["record_id"].iloc[0])
    table(shown)
    ids = list(matching["record_id"])  # once: the three actions below read it, none changes it
    review.review_button(f"Review these {len(matching):,} one by one", review.filter_name(current_filter()),
                         ids, key="review_matching", type="primary")
    with st.expander(f"Decide for all {len(matching):,} records matching the filter"):
        decide_buttons(ws, ids, key="bulk")
    with st.expander(f"Fix all {len(matching):,} records matching the filter (strip an end marker, fill a placeholder…)"):
        edit.bulk_fix_panel(ws, ids, key="records")
    pii.source_counts(matching, ws)  # issue 16: personal data redacted, counted per source file (found once, issue 18)
    st.divider()
    detail(ws, shown)


layout.run(main)
