"""The Select page's parts: the request (budget, strategy, caps and floors), planning every strategy in the background,
and the trade-off they show (coverage against budget, quality, mix, the margin) before one is applied."""

from __future__ import annotations

import html
import json

import pandas as pd
import plotly.express as px
import streamlit as st

from curation import select, select_view
from curation.annotated import stamp
from ui import jobs, review, show, state
from ui.charts import binned_histogram
from ui.data import shown_errors
from ui.decide import curator

# Shared page options (no widget owns them: they survive navigation).
MODE = "shared.select.mode"
N = "shared.select.n"
SHARE = "shared.select.share"
STRATEGY = "shared.select.strategy"
THRESHOLD = "shared.select.threshold"
CAPS = "shared.select.caps"
FLOORS = "shared.select.floors"
MODES = ["records", "share"]


def request() -> dict:
    """The curator's request, from the page's widgets."""
    a, b, c = st.columns([1, 1, 2])
    mode = a.radio("Budget as", MODES, horizontal=True, **state.bound(MODE, default="records", options=MODES))
    if mode == "records":
        budget = int(b.number_input("Records to choose", min_value=1, step=100, **state.bound(N, default=1000)))
    else:
        budget = float(b.number_input("Share of the pool", min_value=0.001, max_value=1.0, step=0.05, format="%.3f",
                                      **state.bound(SHARE, default=0.1)))
    names = list(select.STRATEGIES)
    strategy = c.radio("Strategy to apply", names, horizontal=True, **state.bound(STRATEGY, default="quality", options=names),
                       help="; ".join(f"{s.name}: {s.description}" for s in select.STRATEGIES.values()))
    d, e, f = st.columns(3)
    threshold = d.number_input("Quality: too close at similarity", min_value=0.0, max_value=1.0, step=0.01, value=None,
                               placeholder="the model's default", **state.bound(THRESHOLD),
                               help="A record joins only if its similarity to every chosen record is below this (quality strategy).")
    caps = e.text_input("Caps", placeholder="dataset:t0=200, cluster:*=5%", **state.bound(CAPS, default=""),
                        help="At most AMOUNT chosen per group: BY:GROUP=AMOUNT, BY one of dataset, source, cluster, language; "
                             "GROUP * for each group; AMOUNT a count or a share of the budget.")
    floors = f.text_input("Floors", placeholder="dataset:gsm8k=100", **state.bound(FLOORS, default=""),
                          help="At least AMOUNT chosen per group (same form).")
    return {"budget": budget, "strategy": strategy, "threshold": threshold, "caps": caps, "floors": floors}


def limits(req: dict) -> list[select.Limit]:
    out = []
    for kind in ("cap", "floor"):
        out += [select.parse_limit(t.strip(), kind) for t in req[kind + "s"].split(",") if t.strip()]
    return out


def job_key(ws, req: dict) -> str:
    plan_of = {k: v for k, v in req.items() if k != "strategy"}  # every strategy is planned: switching needs no new job
    return f"select|{ws.root}|{json.dumps(plan_of, sort_keys=True)}"


def work(ws, req: dict, lims: list[select.Limit]):
    """The background job: the pool (signals and embeddings computed where missing) and every strategy's plan."""

    def run(job):
        before = stamp(ws, "decisions")
        pool = select.load_pool(ws, progress=job.update)
        plans = {}
        for name in select.STRATEGIES:
            job.update(len(plans), len(select.STRATEGIES), f"planning {name}")
            plans[name] = select.plan(pool, req["budget"], name, limits=lims, threshold=req["threshold"])
        rows = select_view.eval_rows(pool)
        job.update(len(plans), len(plans), "measuring coverage")
        curves = pd.concat([select_view.curve(p, rows=rows) for p in plans.values()], ignore_index=True)
        return {"pool": pool, "plans": plans, "compare": select_view.compare(pool, list(plans.values()), rows=rows),
                "curves": curves, "decisions": before}

    return run


def plan_or_wait(ws, req: dict):
    """The finished plans for this request, or None (the button to plan them, or the running job's progress)."""
    key = job_key(ws, req)
    job = jobs.get(key)
    if job is not None and not job.finished:
        jobs.follow(key)
        return None
    if job is not None and job.error:
        st.error(f"Planning failed: {show.plain(job.error)}")
    elif job is not None and job.cancelled:
        st.info(f"Stopped: {show.plain(job.cancelled)}.")
    elif job is not None and job.result is not None:
        if job.result["decisions"] == stamp(ws, "decisions"):
            return job.result
        if state.get(state.SELECT_APPLIED) == stamp(ws, "decisions"):  # nothing changed since this page applied it
            st.info("This plan is applied (“Undo the last selection” above takes it back). Plan again to select from "
                    "the records as they stand now.")
        else:
            st.info("Decisions changed since this plan was made: plan again to see the selection as it stands.")
    with shown_errors("read the caps and floors"):
        lims = limits(req)
        st.caption("Every strategy is planned at this budget, so they can be compared; the pool's signals and embeddings "
                   "are computed first where missing (in the background: other pages stay usable).")
        if st.button("Plan the selection", type="primary", key="select_plan"):
            forget_plans(ws)
            jobs.start(key, work(ws, req, lims))
            st.rerun()
    return None


def forget_plans(ws) -> None:
    """Drop this workspace's finished plans: each holds the pool's vectors (n × d floats), one is enough."""
    registry = jobs._registry()
    for key in [k for k, job in registry.items() if k.startswith(f"select|{ws.root}|") and job.finished]:
        registry.pop(key, None)


def escaped(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame.assign(**{column: frame[column].astype(str).map(html.escape)})  # Plotly reads tags in names


def tradeoff(result: dict, strategy: str) -> None:
    """Coverage against budget for every strategy, and their summary side by side."""
    pool, table = result["pool"], result["compare"]
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "coverage": st.column_config.NumberColumn(format="%.3f"), "mean quality": st.column_config.NumberColumn(format="%.3f"),
        "clusters": st.column_config.NumberColumn("clusters represented", format="percent"),
        "seconds": st.column_config.NumberColumn(format="%.1f")})
    st.caption("Coverage: the mean similarity of every candidate record to its nearest chosen record (1: each has a copy in "
               f"the set), on {min(select_view.EVAL, int(pool.eligible.sum())):,} records. Mean quality: the score in force. "
               f"{show.plain(pool.info['score'])}")
    curves = result["curves"]
    ys = ["coverage", "clusters"] if "clusters" in curves else ["coverage"]
    cols = st.columns(len(ys))
    for col, y in zip(cols, ys):
        fig = px.line(curves, x="budget", y=y, color="strategy", markers=True)
        fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10),
                          title="Coverage against budget" if y == "coverage" else "Share of clusters represented")
        col.plotly_chart(fig, width="stretch", key=f"select_curve_{y}")
    for note in pool.info.get("notes", {}).values():
        st.caption(show.plain(note).capitalize())


def inspect(sel: select.Selection) -> None:
    """The chosen set of one strategy: its quality beside the pool's, its mix, and the margin."""
    info = sel.info
    st.subheader(f"{sel.strategy}: {info['chosen']:,} chosen")
    notes = []
    if info["relaxed"]:
        notes.append(f"{info['relaxed']:,} joined although close to a chosen record (too few records far enough apart)")
    notes += [f"floor not met: {show.plain(s['by'])} {show.plain(s['group'])} has {s['got']:,} of {s['floor']:,}"
              for s in info["floors_short"]]
    notes += [f"the kept records already exceed the cap of {show.plain(c['by'])} {show.plain(c['group'])} ({c['kept']:,} > {c['cap']:,})"
              for c in info["caps_exceeded_by_kept"]]
    if info["short"]:
        notes.append(f"{info['short']:,} short of the budget: the caps leave too few candidates")
    for note in notes:
        st.warning(note)
    frame = sel.pool.frame
    left, right = st.columns(2)
    with left:
        st.dataframe(select_view.quality(sel), hide_index=True, width="stretch")
        scores = pd.concat([frame.loc[sel.pool.eligible, ["score"]].assign(set="pool"),
                            frame.iloc[sel.chosen][["score"]].assign(set="chosen")])
        fig = binned_histogram(scores, "score", "set", nbins=40, percent=True, opacity=0.7)
        fig.update_layout(height=280, margin=dict(l=10, r=10, t=30, b=10), title="Quality of the chosen set and of the pool")
        st.plotly_chart(fig, width="stretch", key="select_quality")
    with right:
        groups = sel.pool.groups()
        by = st.radio("Mix by", groups, horizontal=True, key="select_mix_by")
        mix = select_view.mix(sel, by)
        long = mix.head(15).melt(id_vars=[by], value_vars=["pool share", "chosen share"], var_name="set", value_name="share")
        fig = px.bar(escaped(long, by), x="share", y=by, color="set", barmode="group", orientation="h")
        fig.update_layout(height=280, margin=dict(l=10, r=10, t=30, b=10), xaxis_tickformat=".0%")
        st.plotly_chart(fig, width="stretch", key="select_mix")
        st.dataframe(mix, hide_index=True, width="stretch", height=200, column_config={
            "pool share": st.column_config.NumberColumn(format="percent"),
            "chosen share": st.column_config.NumberColumn(format="percent")})
    st.markdown("**At the margin**: the last records chosen, and the first left out (what a larger budget would take next), "
                "each with the chosen record nearest to it.")
    margin = select_view.margin(sel)
    review.review_button(f"Review the margin's {len(margin):,} records one by one", f"Select margin: {sel.strategy}",
                         list(margin["record_id"]), key="review_margin", reason=f"selected:{sel.strategy}")
    st.dataframe(margin.assign(instruction=margin["instruction"].map(show.snippet)), hide_index=True, width="stretch",
                 key="select_margin", column_config={"score": st.column_config.NumberColumn(format="%.3f"),
                                                     "similarity": st.column_config.NumberColumn(format="%.3f")})


def apply_bar(ws, sel: select.Selection) -> None:
    info = sel.info
    st.markdown(f"Applying keeps **{info['to_keep']:,}** undecided records (reason `selected:{sel.strategy}`) and rejects "
                f"**{info['to_reject']:,}** (reason `{select.NOT_SELECTED}`); the {info['kept']:,} records kept by a curator stay "
                f"in, the {info['rejected']:,} rejected stay out, protected evaluation records are left alone. One action: "
                "“Undo the last selection” brings every decision back.")
    confirmed = True
    if info["to_reject"] > info["to_keep"]:  # most of the pool leaves: the curator says so first
        confirmed = st.checkbox(f"Reject the {info['to_reject']:,} records left out ({info['to_reject'] / max(info['candidates'], 1):.0%} "
                                "of the candidates)", key="select_confirm")
    if st.button(f"Apply: keep {info['to_keep']:,}, reject {info['to_reject']:,}", type="primary", key="select_apply",
                 disabled=not confirmed, help=None if confirmed else "Most of the pool would be rejected: tick “Reject the "
                 f"{info['to_reject']:,} records left out” above to apply."):
        with shown_errors("apply the selection"):
            out = select.apply(ws, sel, curator=curator())
            state.set(state.SELECT_APPLIED, stamp(ws, "decisions"))
            st.toast(f"Selection applied: {out['kept']:,} kept, {out['rejected']:,} rejected")
            st.rerun()


def undo_bar(ws) -> None:
    last = select.last(ws)
    if not last:
        return
    a, b = st.columns([4, 1], vertical_alignment="center")
    a.caption(f"Last selection applied: {show.plain(last['strategy'])}, {last['chosen']:,} chosen of a budget of "
              f"{last['budget']:,} ({last['to_keep']:,} kept, {last['to_reject']:,} rejected by it).")
    if b.button("Undo the last selection", key="select_undo"):
        with shown_errors("undo the selection"):
            changed = select.undo_last(ws, curator=curator())
            st.toast(f"Selection undone: {changed:,} record(s) back to their decision before")
            st.rerun()
