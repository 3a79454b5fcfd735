"""The Quality page's Score tab: which ranker makes up the score, running a model scorer in the background (a sample
first), the score's distribution per dataset and source, and sorting and selecting records by it."""

from __future__ import annotations

import html

import pandas as pd
import plotly.express as px
import streamlit as st

from curation.errors import CurationError, for_dashboard
from curation.scorers import SCORERS, distribution
from curation.scorers.ranked import DESCRIPTIONS, LENGTH, RANKERS, ScoreSettings, quality_score
from ui import jobs, show, state
from ui.data import shown_errors
from ui.decide import decision_bar
from ui.labels import fresh_labels

# The options a curator sets on the page, per scorer (the rest keep their defaults; the CLI sets them all).
FIELDS = {
    "reward": {"model": "Reward model (local folder or hub id)"},
    "judge": {"endpoint": "Endpoint (OpenAI-compatible base URL)", "model": "Model (blank: the endpoint's first)",
              "api_key_env": "API key from the environment variable", "price_per_1k": "Price per 1,000 tokens (for the estimate)",
              "concurrency": "Concurrent requests"},
    "ifd": {"model": "Causal LM (blank: the bundled SmolLM2-135M-Instruct)"},
    "learned": {},
}


def ranker_form(ws, conf: ScoreSettings) -> None:
    """Choose the ranker and its options; saving keeps them in the workspace."""
    ranker = st.selectbox("Rank acceptable records by", RANKERS, index=RANKERS.index(conf.ranker), key="score_ranker",
                          format_func=lambda r: f"{r} — {DESCRIPTIONS[r]}")
    kept = conf.options.get(ranker, {})
    given = {}
    for name, label in FIELDS.get(ranker, {}).items():
        default = kept.get(name, SCORERS[ranker].options.get(name))
        if isinstance(default, float) or name == "price_per_1k":
            given[name] = st.number_input(label, min_value=0.0, value=float(default or 0.0), step=0.001, format="%.4f",
                                          key=f"score_opt_{ranker}_{name}")
        elif isinstance(default, int):
            given[name] = int(st.number_input(label, min_value=1, value=int(default), key=f"score_opt_{ranker}_{name}"))
        else:
            given[name] = st.text_input(label, value=str(default or ""), key=f"score_opt_{ranker}_{name}").strip() or None
    if ranker != conf.ranker or any(given[k] != kept.get(k, SCORERS[ranker].options.get(k)) for k in given):
        if st.button("Use this ranker", type="primary", key="score_use"):
            with shown_errors("keep the ranker"):
                ScoreSettings.save(ws, ranker=ranker, options={ranker: {k: v for k, v in given.items() if v is not None}})
                st.rerun()
        st.caption(f"Not in force yet: the score below still ranks by **{show.plain(conf.ranker)}**.")


def run_scorer(ws, frame: pd.DataFrame, conf: ScoreSettings) -> None:
    """Estimate, then score a sample (or every record) with the model ranker in force, as a background job."""
    scorer = SCORERS[conf.ranker]
    key = f"score|{ws.root}|{conf.ranker}"
    job = jobs.get(key)
    if job is not None and not job.finished:
        jobs.follow(key)
        return
    if job is not None:
        finished_note(job)
        if isinstance(job.result, dict) and job.result.get("uncertain"):
            uncertain_queue(ws, frame, job.result["uncertain"])
    a, b = st.columns([1, 2])
    wanted = int(a.number_input("Records to score (a seeded sample of the records shown)", min_value=1,
                                **state.bound(state.QUALITY_SAMPLE)))
    sample = min(wanted, len(frame))
    estimate = None
    if conf.ranker != "judge" or conf.of().get("model"):
        with shown_errors(f"estimate the {conf.ranker} run"):
            estimate = scorer.estimate(ws, frame, sample=sample, **conf.of())
    elif b.button("Estimate", key="score_estimate"):  # the judge names its model by asking the endpoint
        with shown_errors("estimate the judge run"):
            estimate = scorer.estimate(ws, frame, sample=sample, **conf.of())
    if estimate:
        cost = (f" · about {estimate['input_tokens'] + estimate['output_tokens']:,} tokens, ${estimate['cost']:.2f} "
                f"at ${estimate['price_per_1k']:g} per 1,000" if "cost" in estimate else "")
        b.caption(f"{estimate['records']:,} records: {estimate['cached']:,} scored already, "
                  f"{estimate['to_compute']:,} to compute{cost}.")
    if a.button(f"Score {sample:,} records with {conf.ranker}", type="primary", key="score_run"):
        options = conf.of()

        def work(job):
            return scorer.score(ws, frame, job.update, sample=sample, seed=0, cancel=job.requested, **options).attrs["info"]

        jobs.start(key, work)
        st.rerun()


def finished_note(job) -> None:
    if job.cancelled:
        st.info(f"Stopped: {show.plain(job.cancelled)}.")
    elif job.error:
        st.error(f"Scoring failed: {show.plain(job.error)}")
    elif isinstance(job.result, dict):
        info = job.result
        auc = f" · cross-validated AUC {info['auc']:.2f}" if info.get("auc") is not None else ""
        st.success(f"Scored {info['scored']:,} of {info['records']:,} records ({info['computed']:,} computed, "
                   f"{info['cached']:,} from the cache, {info['failed']:,} failed) in {info['seconds']:.0f} s{auc}.")


def uncertain_queue(ws, frame: pd.DataFrame, ids: list[str]) -> None:
    """"Ask me about the most uncertain": the undecided records the learned model is least sure of, one by one."""
    by_id = frame.set_index("record_id")
    ids = [i for i in ids if i in by_id.index]
    if not ids:
        return
    st.markdown(f"**Decide these next** — the {len(ids)} records the learned model is least sure of; each decision "
                "teaches it most. Run it again afterwards.")
    labels = {i: f"{i} — {by_id.at[i, 'decision']} — {show.snippet(by_id.at[i, 'instruction'], 70)}" for i in ids}
    fresh_labels("score_uncertain", list(labels.values()))  # a decision changes the label of the record shown
    rid = st.selectbox("Uncertain record", ids, key="score_uncertain", format_func=labels.__getitem__)
    rec = by_id.loc[rid]
    for field in ("instruction", "input", "output"):
        if rec[field]:
            show.text(field.capitalize(), rec[field])
    decision_bar(ws, [rid], reason_key="uncertain_reason", default_reason="manual", buttons=[
        ("Keep", "keep", "uncertain_keep"), ("Reject", "reject", "uncertain_reject"), ("Undo", "undo", "uncertain_undo")])


def distribution_view(frame: pd.DataFrame) -> None:
    groups = ["dataset", "source"]
    by = st.radio("Distribution by", groups, horizontal=True, key="score_by")
    shown = frame.assign(**{by: frame[by].astype(str).map(html.escape)})  # Plotly reads tags in names
    fig = px.box(shown, x="score", y=by, points="outliers", orientation="h")
    fig.update_layout(height=120 + 40 * shown[by].nunique(), margin=dict(l=10, r=10, t=30, b=10), xaxis_range=[0, 1.02])
    st.plotly_chart(fig, width="stretch")
    rows = []
    for name, part in frame.groupby(by, sort=True):
        d = distribution(part["score"])
        rows.append({by: name, "records": len(part), "broken": int(part["broken"].sum()),
                     "ranked by the ranker": int(part["ranked_by"].notna().sum()),
                     **{k: d.get(k) for k in ("mean", "p10", "p50", "p90")}})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def select_view(ws, frame: pd.DataFrame) -> None:
    a, b = st.columns([1, 2])
    orders = ["worst first", "best first"]
    order = a.radio("Sort", orders, horizontal=True, **state.bound(state.QUALITY_ORDER, options=orders))
    low, high = b.slider("Select records scoring from … to …", 0.0, 1.0, (0.0, 1.0), step=0.01, key="score_range")
    chosen = frame[(frame["score"] >= low) & (frame["score"] <= high)]
    chosen = chosen.sort_values(["score", "record_id"], ascending=[order == orders[0], True], kind="stable")
    st.caption(f"{len(chosen):,} records selected · {int(chosen['broken'].sum()):,} of them under the flags gate")
    ranked = "ranked by: answer words" if frame.attrs["info"]["ranker"] == LENGTH else f"ranked by: {frame.attrs['info']['ranker']}"
    view = pd.DataFrame({"record_id": chosen["record_id"], "score": chosen["score"], ranked: chosen["ranked_by"],
                         "flags": chosen["flags"].map(", ".join), "decision": chosen["decision"], "dataset": chosen["dataset"],
                         "instruction": chosen["instruction"].map(show.snippet), "output": chosen["output"].map(show.snippet)})
    bar = st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.3f")
    st.dataframe(view.head(500), hide_index=True, width="stretch", height=min(420, 40 + 35 * min(len(view), 500)),
                 column_config={"score": bar}, key="score_table")
    if len(view) > 500:
        st.caption(f"The first 500 of {len(view):,} are shown; the buttons act on all {len(view):,}.")
    if chosen.empty:
        return
    inspect(chosen.head(200))
    ids = list(chosen["record_id"])
    if len(ids) > max(len(frame) // 2, 1) and not st.checkbox(
            f"Decide for all {len(ids):,} selected ({len(ids) / len(frame):.0%} of the records shown)", key="score_confirm",
            help="A keep or reject here overwrites earlier decisions of every selected record (duplicates, flags…)."):
        st.caption("Narrow the score range, or tick the box, to keep or reject the selection.")
        return
    decision_bar(ws, ids, reason_key="score_reason", default_reason="score", primary="keep",
                 buttons=[(f"Keep these {len(ids):,}", "keep", "score_keep"), (f"Reject these {len(ids):,}", "reject", "score_reject"),
                          ("Undo for these", "undo", "score_undo")],
                 help="The score ranks; it does not judge alone: read the lowest before rejecting them.")


def inspect(chosen: pd.DataFrame) -> None:
    """One record of the selection in full, the first in the order chosen unless the curator picks another."""
    by_id = chosen.set_index("record_id")
    ids = list(by_id.index)
    rid = st.selectbox("Inspect", ids, key=f"score_inspect.{hash(tuple(ids))}",
                       format_func=lambda i: f"{i} — {by_id.at[i, 'score']:.3f} — {show.snippet(by_id.at[i, 'instruction'], 70)}")
    rec = by_id.loc[rid]
    ranked = f"{rec['ranked_by']:g}" if pd.notna(rec["ranked_by"]) else "not scored yet (median rank)"
    st.caption(f"Score {rec['score']:.3f} · ranked by {ranked} · flags: {show.plain(', '.join(rec['flags']) or 'none')}"
               + (" · under the flags gate" if rec["broken"] else ""))
    for field in ("system", "instruction", "input", "output"):
        if rec[field]:
            show.text(field.capitalize(), rec[field])


def score_tab(ws, frame: pd.DataFrame) -> None:
    conf = ScoreSettings.load(ws)
    ranker_form(ws, conf)
    try:
        scored = quality_score(ws, frame, conf)
    except CurationError as exc:
        st.error(f"Could not compute the score: {show.plain(for_dashboard(exc))}")
        return
    info = scored.attrs["info"]
    st.info(info["describe"], icon=":material/functions:")  # our words; the ranker is a registry name
    if conf.ranker != LENGTH:
        st.caption(f"{info['ranked']:,} of {info['records']:,} records shown are scored by **{show.plain(conf.ranker)}**; "
                   "the others get the median rank until they are scored.")
        run_scorer(ws, frame, conf)
    distribution_view(scored)
    select_view(ws, scored)
