"""Select: the best N records for quality and coverage, with the trade-off of each strategy seen before one is applied."""

from __future__ import annotations

import streamlit as st

from ui import layout
from ui import select as selection
from ui.data import records


def main() -> None:
    ws = layout.page("Select")
    base = records(ws)
    if base.empty:
        layout.no_records()
        return
    st.caption(f"{len(base):,} records. Choose a budget; records kept by a curator are always in, rejected ones never. "
               "The selection applies to every record (the shared filter does not narrow it).")
    selection.undo_bar(ws)
    req = selection.request()
    result = selection.plan_or_wait(ws, req)
    if result is None:
        return
    selection.tradeoff(result, req["strategy"])
    sel = result["plans"][req["strategy"]]
    selection.inspect(sel)
    selection.apply_bar(ws, sel)


layout.run(main)
