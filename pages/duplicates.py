"""Duplicates: the threshold sweep, pairs at the threshold's edge, groups side by side, keep one and reject the rest."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from curation import dedup
from curation.dedup import saved_groups
from curation.dedup.diff import word_diff
from curation.dedup.groups import LARGE_GROUP, largest_near_group
from curation.dedup.texts import __doc__ as BOILERPLATE_DOC
from curation.texts import TEXT_CHOICES
from ui import jobs, layout, review, show, state
from ui.data import cached_duplicates, records, shown_errors
from ui.decide import curator

COLOURS = {"delete": "#ffd6d6", "insert": "#d3f5d3", "replace": "#fff0b3"}


def settings_form(ws) -> dict:
    conf = dedup.dedup_settings(ws)
    with st.expander("Duplicate settings", expanded=False), st.form("dedup_settings"):
        a, b, c = st.columns(3)
        method = a.selectbox("Method", list(dedup.METHODS), index=list(dedup.METHODS).index(conf["method"]),
                             help="\n".join(f"{k}: {v.description}" for k, v in dedup.METHODS.items()))
        text = a.selectbox("Compare", list(TEXT_CHOICES), index=list(TEXT_CHOICES).index(conf["text"]),
                           help="\n".join(f"{k}: {v}" for k, v in TEXT_CHOICES.items()))
        rule = b.selectbox("Keep in each group", list(dedup.RULES), index=list(dedup.RULES).index(conf["rule"]),
                           help="\n".join(f"{k}: {v.description}" for k, v in dedup.RULES.items()))
        index = b.selectbox("Neighbour search", list(dedup.INDEXES), index=list(dedup.INDEXES).index(conf["index"]),
                            help="\n".join(f"{k}: {v.description}" for k, v in dedup.INDEXES.items()))
        grouping = c.selectbox("Grouping", list(dedup.GROUPINGS), index=list(dedup.GROUPINGS).index(conf["grouping"]),
                               help="\n".join(f"{k}: {v.description}" for k, v in dedup.GROUPINGS.items()))
        strip = c.toggle("Ignore boilerplate lines", value=bool(conf["strip"]), help=BOILERPLATE_DOC.strip())
        rescore = c.selectbox("Second stage", list(dedup.RESCORERS), index=list(dedup.RESCORERS).index(conf["rescore"]),
                              help="\n".join(f"{k}: {v.description}" for k, v in dedup.RESCORERS.items()))
        if st.form_submit_button("Save settings"):
            with shown_errors("save the duplicate settings"):
                dedup.save_settings(ws, method=method, text=text, rule=rule, index=index, strip=strip, grouping=grouping,
                                    rescore=rescore)
                st.rerun()
    return conf


def run_or_wait(ws, n: int) -> None:
    conf = dedup.dedup_settings(ws)
    key = f"dedup|{ws.root}|{sorted(conf.items())}"
    job = jobs.get(key)
    if job is not None and not job.finished:
        jobs.follow(key)
        return
    if job is not None and job.error:
        st.error(f"Finding duplicates failed: {show.plain(job.error)}")
    below = dedup.cached_from(ws)
    if below is not None:  # the groups exist, found from a higher floor: say so, never "no groups yet"
        t = float(conf["threshold"])
        st.warning(f"The threshold {t:.2f} is below the range computed: the cached pairs answer thresholds from {below:.2f} "
                   f"up. Recompute to find the pairs down to {t:.2f} (cached embeddings are reused), or go back to "
                   f"{below:.2f} to see the groups already found.", icon=":material/warning:")
        a, b = st.columns(2)
        if a.button(f"Recompute at {t:.2f}", type="primary", key="find_dups"):
            jobs.start(key, lambda j: saved_groups.find_and_save(ws, j.update))  # saved for the export
            st.rerun()
        if b.button(f"Back to {below:.2f}", key="dup_back"):
            with shown_errors("change the threshold"):
                dedup.save_settings(ws, threshold=below)
                st.rerun()
        return
    st.info(f"No duplicate groups yet for these {n:,} records with method **{conf['method']}** on the **{conf['text']}**. "
            "Exact copies take seconds; the embedding method embeds what is not cached yet (fast mode on the Map page's settings "
            "makes that about 100× quicker).")
    if st.button("Find duplicates", type="primary", key="find_dups"):
        jobs.start(key, lambda j: saved_groups.find_and_save(ws, j.update))  # saved for the export
        st.rerun()


WHY = {"exact": "exact copies", "same_values": "same template, same variable parts", "near": "near (similarity)"}


def sweep_chart(table: pd.DataFrame, threshold: float) -> go.Figure:
    """The records each threshold would reject, stacked by why: exact copies, one family's same variable parts, near."""
    fig = go.Figure()
    for column, name in WHY.items():
        fig.add_trace(go.Scatter(x=table["threshold"], y=table[column], mode="lines", name=name, stackgroup="why"))
    fig.add_trace(go.Scatter(x=table["threshold"], y=table["would_reject"], mode="markers", name="would be rejected",
                             marker=dict(color="#333", size=5)))
    fig.add_vline(x=threshold, line_dash="dash", line_color="#e45756")
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=20, b=10), xaxis_title="similarity threshold", yaxis_title="records",
                      legend=dict(orientation="h", y=1.1))
    return fig


def side_by_side(a: str, b: str, label_a: str, label_b: str) -> None:
    """Two texts with their word differences marked (every piece HTML-escaped: nothing in a record renders)."""
    left, right = [], []
    for tag, pa, pb in word_diff(a, b):
        if tag == "equal":
            left.append(html.escape(pa)), right.append(html.escape(pb))
            continue
        if pa:
            left.append(f"<span style='background:{COLOURS['delete' if tag == 'delete' else 'replace']}'>{html.escape(pa)}</span>")
        if pb:
            right.append(f"<span style='background:{COLOURS['insert' if tag == 'insert' else 'replace']}'>{html.escape(pb)}</span>")
    box = ("<div class='diff-text' style='white-space: pre-wrap; font-family: monospace; font-size: 0.82rem; background: #f6f6f9; "
           "padding: 0.5rem; border-radius: 0.4rem; max-height: 22rem; overflow: auto'>{}</div>")
    c1, c2 = st.columns(2)
    c1.caption(show.plain(label_a))
    c1.html(box.format("".join(left)[: show.MAX_SHOWN]))
    c2.caption(show.plain(label_b))
    c2.html(box.format("".join(right)[: show.MAX_SHOWN]))


def edge_examples(found) -> None:
    st.subheader("At the threshold's edge")
    st.caption("Pairs just above the threshold are joined as duplicates; pairs just below are not. If the ones above look "
               "different, raise the threshold; if the ones below look like copies, lower it.")
    examples = found.edge_examples()
    tabs = st.tabs([f"{name} ({len(t)})" for name, t in examples.items()])
    for tab, table in zip(tabs, examples.values()):
        with tab:
            if table.empty:
                st.caption("No pairs in this band.")
            for row in table.itertuples():
                st.markdown(f"**similarity {row.similarity:.3f}**")
                side_by_side(row.text_a, row.text_b, row.a, row.b)


def group_view(ws, found, group: int) -> None:
    members = found.members(group)
    rep = members[members["representative"] == True].iloc[0]  # noqa: E712
    others = members[members["representative"] != True]  # noqa: E712
    st.subheader(f"Group {group}: {len(members)} records")
    st.dataframe(pd.DataFrame({"keep": members["representative"].map({True: "representative", False: ""}),
                               "why": members["why"].map(lambda w: WHY.get(w, "")), "family": members["family"],
                               "record_id": members["record_id"], "dataset": members["dataset"], "source": members["source"],
                               "decision": members["decision"], "text": members["compared_text"].map(show.snippet)}),
                 hide_index=True, width="stretch", height=min(300, 40 + 35 * len(members)),
                 column_config={"keep": st.column_config.TextColumn("keep", width="medium")})  # "representative" was cut off
    choices = list(others["record_id"])
    other_id = st.selectbox("Compare the representative with", choices, **state.bound(f"{state.DUP_OTHER}.{group}", options=choices))
    other = others[others["record_id"] == other_id].iloc[0]
    side_by_side(rep["compared_text"], other["compared_text"], f"representative {rep['record_id']}", f"{other_id}")
    review.review_button(f"Review the group's {len(members)} records one by one", f"Duplicate group {group}",
                         list(members["record_id"]), key=f"review_group_{group}", reason=f"near_duplicate_of:{rep['record_id']}")
    a, b = st.columns(2)
    if a.button(f"Keep the representative, reject {len(others)}", type="primary", key=f"apply_{group}"):
        with shown_errors("reject the group's duplicates"):
            st.toast(f"{dedup.apply(ws, found, groups=[group], curator=curator()):,} record(s) rejected")
            st.rerun()
    if b.button("Undo this group", key=f"undo_{group}"):
        with shown_errors("undo the group"):
            st.toast(f"{dedup.undo(ws, found, groups=[group], curator=curator()):,} record(s) restored")
            st.rerun()


def main() -> None:
    ws = layout.page("Duplicates")
    base = records(ws)
    if base.empty:
        layout.no_records()
        return
    conf = settings_form(ws)
    found = cached_duplicates(ws)
    if found is None:
        run_or_wait(ws, len(base))
        return
    s = found.summary()
    info = f"index {s['index']}" + (f", recall {s['recall']:.3f} against exact search" if s.get("recall") not in (None, 1.0) else "")
    st.caption(f"{len(base):,} records · method {s['method']} on the {s['text']} · {info} · {s['grouping']} grouping · "
               f"representative: {dedup.RULES[s['rule']].description}")
    st.caption(f"Compared: {s['in_force']}")
    if s["method"] == "embedding" and s.get("model") == "static" and s.get("rescore") == "none":
        st.warning("Fast mode's static vectors put different problems on one theme close together (measured on GSM8K: "
                   "different word problems about wages or pages of a book grouped at 0.89). Read the edge pairs before "
                   "applying, or choose the surface second stage in the settings.", icon=":material/warning:")
    if s["method"] != "exact":
        threshold = st.slider("Threshold", 0.5, 1.0, float(conf["threshold"]), 0.01, key="dup_threshold",
                              help="Two records are duplicates when their similarity reaches this value.")
        if abs(threshold - float(conf["threshold"])) > 1e-9:
            with shown_errors("change the threshold"):
                dedup.save_settings(ws, threshold=threshold)
                st.rerun()
    m = st.columns(5)
    m[0].metric("Exact groups", f"{s['exact_groups']:,}")
    m[1].metric("Near groups", f"{s['near_groups']:,}")
    m[2].metric("Records in groups", f"{s['records_in_groups']:,}")
    m[3].metric("Would be rejected", f"{s['would_reject']:,}")
    m[4].metric("Across datasets", f"{s['cross_dataset_groups']:,}")
    st.caption(f"Why {s['would_reject']:,} would be rejected: **{s['reject_exact']:,}** exact copies · **{s['reject_same_values']:,}** "
               f"of one template or conversation with the same variable parts · "
               f"**{s['reject_near']:,}** near (similarity ≥ "
               f"{float(conf['threshold']):.2f}). Not proposed: **{s['family_pairs_set_aside']:,}** similar pairs of template or "
               f"conversation siblings ({s['families']:,} families) whose variable parts differ, and **{s['template_repeats']:,}** "
               f"records that repeat an example under another template (prompting one example several ways is deliberate in "
               f"mixtures such as T0: kept). Largest group "
               f"{s['largest_group']:,} records; {s['pair_recall']:.0%} of the pairs at the threshold share a group.")
    if found.boilerplate:
        with st.expander(f"{len(found.boilerplate)} boilerplate lines ignored when comparing"):
            st.caption(BOILERPLATE_DOC.strip())
            st.dataframe(pd.DataFrame({"line": list(found.boilerplate), "records": list(found.boilerplate.values())}),
                         hide_index=True, width="stretch")
    if s["method"] != "exact":
        table = found.sweep()
        st.subheader("Threshold sweep")
        st.plotly_chart(sweep_chart(table, float(conf["threshold"])), width="stretch", key="sweep_chart")
        st.caption("Each threshold's proposed rejections, stacked by why. Exact copies do not depend on the threshold; "
                   "template siblings with different variable parts are never counted.")
        with st.expander("Sweep table"):
            st.dataframe(table, hide_index=True, width="stretch")
        edge_examples(found)
    groups = found.groups()
    st.subheader(f"Groups ({len(groups):,}), largest first")
    if groups.empty:
        st.info("No duplicates at this threshold.")
        return
    if st.toggle("Only groups across datasets", **state.bound(state.DUP_CROSS)):
        groups = groups[groups["cross_dataset"]]
    st.dataframe(groups, hide_index=True, width="stretch", height=300, key="dup_groups")
    big, big_size = largest_near_group(found.table)
    confirm = False
    if big_size > LARGE_GROUP:
        st.warning(f"Group {big} holds {big_size:,} records that are not all copies (more than {LARGE_GROUP}): a group that large "
                   "has usually formed around a template or a topic. Open it below before rejecting every group at once.")
        confirm = st.checkbox(f"I have looked at group {big}: reject every group's duplicates anyway", key="confirm_large")
    a, b = st.columns(2)
    if a.button(f"Apply to all groups (largest {s['largest_group']:,} records): reject {s['would_reject']:,}", key="apply_all",
                disabled=big_size > LARGE_GROUP and not confirm):
        with shown_errors("reject the duplicates"):
            st.toast(f"{dedup.apply(ws, found, confirm_large=confirm, curator=curator()):,} record(s) rejected")
            st.rerun()
    if b.button("Undo every duplicate rejection", key="undo_all"):
        with shown_errors("undo"):
            st.toast(f"{dedup.undo(ws, found, curator=curator()):,} record(s) restored")
            st.rerun()
    labels = {int(g.dup_group): f"group {int(g.dup_group)}: {g.size} records, {g.kind}" + (", across datasets" if g.cross_dataset else "")
              for g in groups.itertuples()}
    if not labels:
        st.info("No group spans several datasets.")
        return
    group = st.selectbox("Open a group", list(labels), format_func=labels.get,
                         **state.bound(state.DUP_GROUP, options=list(labels), labels=list(labels.values())))
    group_view(ws, found, group)

layout.run(main)
