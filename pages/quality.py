"""Quality: length distributions, every signal with its threshold, flagged records with evidence."""

from __future__ import annotations

import html

import pandas as pd
import plotly.express as px
import streamlit as st

from curation.signals import SIGNALS, evidence, measured
from curation.signals.compute import set_thresholds
from curation.signals.measured import MEASURED_ON, REJECT_LABELS, REJECT_PRECISION
from curation.signals.quality import __doc__ as QUALITY_DOC
from curation.signals.report import LENGTH_FIELDS, UNITS, count_at, flag_counts, length_summary, overlaps
from ui import layout, show, state
from ui.charts import OVERLAP_NOTE, binned_histogram, overlap_figure
from ui.data import annotated_records, current_filter, records, shown_errors
from ui.decide import decision_bar
from ui.score import score_tab
from ui.signals import precision_text, review_button, signals


def lengths_tab(frame: pd.DataFrame) -> None:
    a, b, c, d, e = st.columns(5)
    field = a.selectbox("Field", LENGTH_FIELDS, **state.bound(state.QUALITY_FIELD, options=LENGTH_FIELDS))
    unit = b.selectbox("Unit", UNITS, **state.bound(state.QUALITY_UNIT, options=UNITS))
    groups = ["none", "dataset", "source"]
    by = c.selectbox("Split by", groups, **state.bound(state.QUALITY_BY, options=groups))
    short = d.number_input("Short: under", min_value=0, **state.bound(state.QUALITY_SHORT))
    long = e.number_input("Long: over", min_value=1, **state.bound(state.QUALITY_LONG))
    column = f"{field}_{unit}"
    group = None if by == "none" else by
    if group:  # Plotly reads tags in legend names: dataset names are shown as text
        frame = frame.assign(**{group: frame[group].astype(str).map(html.escape)})
    log = st.toggle("Log scale", **state.bound(state.QUALITY_LOG))
    fig = binned_histogram(frame, column, group, nbins=60, log=log)
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), xaxis_title=f"{field} length ({unit})", yaxis_title="records")
    st.plotly_chart(fig, width="stretch")
    summary = length_summary(frame, field, unit, group, short, long)
    st.dataframe(summary, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(c, format="percent") for c in summary.columns if c.startswith("share")})
    st.caption(f"Lengths in {unit}; tokens come from the workspace's tokenizer. A dataset of only short responses teaches a model "
               "to answer briefly: compare the shares across datasets and sources.")


def signal_overview(frame: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for name, s in SIGNALS.items():
        rows.append({"signal": name, "reason code": s.reason, "flagged": int(frame[f"flag__{name}"].sum()),
                     "action": s.action, "measured precision": precision_text(s),
                     "threshold": "" if s.threshold is None else str(frame.attrs["limits"].get(name)), "unit": s.unit,
                     "description": s.description})
    return pd.DataFrame(rows)


def same(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def threshold_control(ws, frame: pd.DataFrame, name: str, limits: dict) -> None:
    s = SIGNALS[name]
    if s.direction == "flag":
        st.caption("This signal flags every match; it has no threshold.")
        return
    current = limits[name]
    applied = state.get(state.QUALITY_APPLIED)
    if applied and applied["signal"] == name and same(applied["new"], current):  # not changed since (e.g. by the CLI)
        after = int(frame[f"flag__{name}"].sum())
        st.success(f"Threshold of {name} applied: {show.plain(applied['old'])} → {show.plain(applied['new'])} {s.unit}; "
                   f"{applied['before']:,} → {after:,} records flagged here ({after - applied['before']:+,}).",
                   icon=":material/check:")
    a, b = st.columns([1, 2])
    tried = f"{state.QUALITY_THRESHOLD}.{name}"  # a threshold tried here survives other pages until it is applied
    if s.direction == "differs":
        value = a.text_input(f"Expected ({s.unit})", **state.bound(tried, default=str(current)))
    else:
        value = a.number_input(f"Threshold ({s.unit})", step=0.05 if float(current) < 2 else 1.0,
                               **state.bound(tried, default=float(current)))
    would = count_at(frame, name, value)
    b.metric("Would flag at this threshold", f"{would:,}", delta=would - int(frame[f"flag__{name}"].sum()), delta_color="off")
    if value != current and b.button("Apply threshold", key=f"apply_{name}"):
        with shown_errors("set the threshold"):
            before = int(frame[f"flag__{name}"].sum())
            set_thresholds(ws, {name: value})
            state.set(state.QUALITY_APPLIED, {"signal": name, "old": current, "new": value, "before": before})
            state.forget(tried)
            st.rerun()


def flagged_tab(ws, frame: pd.DataFrame, limits: dict) -> None:
    overview = signal_overview(frame)
    st.dataframe(overview, hide_index=True, width="stretch", column_config={"description": st.column_config.TextColumn(width="large")})
    st.caption("Action: **reject** where a flag is true by definition (an empty output) or its measured precision is at "
               f"least {REJECT_PRECISION} on {REJECT_LABELS} or "
               f"more labelled records, **review** below that, **fix** for cleaning flags. Measured {MEASURED_ON}.")
    names = list(SIGNALS)
    labels = {n: f"{n} — {int(frame[f'flag__{n}'].sum()):,} flagged · {SIGNALS[n].action} ({precision_text(SIGNALS[n])})"
              for n in names}
    name = st.selectbox("Signal", names, format_func=labels.__getitem__,
                        **state.bound(state.QUALITY_SIGNAL, options=names, labels=list(labels.values())))
    s = SIGNALS[name]
    st.write(s.description)
    st.caption(show.plain(measured.describe(s)).capitalize())
    threshold_control(ws, frame, name, limits)
    only_undecided = st.toggle("Only undecided records", **state.bound(state.QUALITY_UNDECIDED))
    flagged = frame[frame[f"flag__{name}"]]
    if only_undecided:
        flagged = flagged[flagged["decision"] == "undecided"]
    if flagged.empty:
        st.success("No record carries this flag here.")
        return
    view = pd.DataFrame({
        "record_id": flagged["record_id"], "dataset": flagged["dataset"], "decision": flagged["decision"],
        "evidence": flagged[f"evidence__{name}"], "quality": flagged["quality"],
        "instruction": flagged["instruction"].map(show.snippet), "output": flagged["output"].map(show.snippet),
    })
    bar = st.column_config.ProgressColumn("quality", min_value=0.0, max_value=1.0, format="%.2f")
    st.dataframe(view, hide_index=True, width="stretch", height=min(320, 40 + 35 * len(view)), column_config={"quality": bar})
    flag_actions(ws, list(flagged["record_id"]), s)
    ids = list(flagged["record_id"][:200])
    by_id = flagged.set_index("record_id")["instruction"]
    rid = st.selectbox("Inspect", ids, format_func=lambda i: f"{i} — {show.snippet(by_id.at[i], 70)}",
                       **state.bound(state.QUALITY_RECORD, options=ids))
    rec = flagged.set_index("record_id").loc[rid]
    found = evidence.loads(rec[f"found__{name}"])
    st.caption(f"Evidence: {show.plain(rec[f'evidence__{name}'])} · all flags: {show.plain(', '.join(rec['flags']) or 'none')} · "
               f"quality {rec['quality']:.2f}")
    for field in ("system", "instruction", "input", "output"):
        if rec[field] or field in s.fields:
            show.highlighted(field.capitalize(), rec[field], spans=evidence.spans_in(found, field))


def flag_actions(ws, ids: list[str], s) -> None:
    """What the flag's measured precision allows: a bulk reject (`reject`), a review queue (`review`), or its fix (`fix`)."""
    if s.action == "reject":
        decision_bar(ws, ids, reason_key=f"reason_{s.name}", default_reason=s.reason, primary="reject",
                     buttons=[(f"Reject all {len(ids):,}", "reject", f"reject_{s.name}"), ("Undo for these", "undo", f"undo_{s.name}")])
        return
    if s.action == "fix":
        done = "Export does this by itself (on by default)." if s.auto_fix else "Open them to fix them."
        st.info(f"A cleaning flag: {show.plain(s.fix)}. {done} No bulk reject: these records are repaired, not discarded.",
                icon=":material/build:")
    else:
        why = (f"its measured precision is below {REJECT_PRECISION} on {REJECT_LABELS}+ labelled records" if measured.measured(s.reason)
               else "its precision is not measured (no labelled record carries it)")
        st.info(f"No bulk reject: {why}, so a reject-all could discard good records. Review them one by one.", icon=":material/rule:")
    review_button(s.reason, list(ids), key=f"review_{s.name}")


def overlap_tab(frame: pd.DataFrame) -> None:
    flag_frame = frame[[f"flag__{n}" for n in SIGNALS]].rename(columns=lambda c: c.removeprefix("flag__"))
    left, right = st.columns(2)
    counts = flag_frame.sum().rename(index=lambda n: SIGNALS[n].reason).sort_values()
    fig = px.bar(counts, orientation="h", labels={"value": "records", "index": "reason"})
    fig.update_layout(height=420, showlegend=False, margin=dict(l=10, r=10, t=30, b=10), title="Flags by reason code")
    left.plotly_chart(fig, width="stretch")
    right.plotly_chart(overlap_figure(overlaps(flag_frame)), width="stretch")
    right.caption(OVERLAP_NOTE)
    per_record = flag_counts(flag_frame)
    st.write("Records by number of flags: " + ", ".join(f"**{show.counted(int(k), 'flag')}**: {int(v):,}" for k, v in per_record.items()))
    fig = binned_histogram(frame, "quality", nbins=20, log=True)  # most records sit at 1.0: the rest shows on a log scale
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=10), title="Flags-only quality (the gate of the Score tab)")
    st.plotly_chart(fig, width="stretch")
    with st.expander("How the flags-only quality is computed"):
        st.text(QUALITY_DOC.strip())
        st.dataframe(pd.DataFrame([{"signal": n, "severity": s.severity} for n, s in SIGNALS.items()]), hide_index=True)


def main() -> None:
    ws = layout.page("Quality")
    base = records(ws)
    if base.empty:
        layout.no_records()
        return
    with shown_errors("compute the quality signals"):
        table, limits = signals(ws)
        joined = annotated_records(ws, stages=("signals",))  # the join is cached per stamp (issue 18)
        frame = current_filter().apply(joined if "flags" in joined else base.merge(table, on="record_id", how="left"))
        frame.attrs["limits"] = limits
        layout.filter_note(len(frame), len(base))
        st.caption(f"{len(frame):,} records · {int((frame['flags'].str.len() > 0).sum()):,} carry at least one flag")
        lengths, flagged, scored, overlap = st.tabs(["Lengths", "Signals", "Score", "Overlaps"], key="quality_tab")
        with lengths:
            lengths_tab(frame)
        with flagged:
            flagged_tab(ws, frame, limits)
        with scored:
            score_tab(ws, frame)
        with overlap:
            overlap_tab(frame)


layout.run(main)
