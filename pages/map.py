"""The diversity map: every record in 2-D, clusters with labels, diversity, selection and search."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from curation.atlas import AUTOMATIC, build, map_settings, nearest, place, placeable, save_settings
from curation.clusters import METHODS, effective
from curation.diversity import __doc__ as DIVERSITY_DOC
from curation.diversity import agreement
from curation.embed import EMBEDDERS, estimate_seconds, modes_note, pending
from curation.errors import for_dashboard
from curation.signals import SIGNALS
from curation.texts import TEXT_CHOICES, record_texts
from ui import act, jobs, layout, map_canvas, show, state
from ui.data import cached_map, current_filter, records, shown_errors, with_cached_columns
from ui.map_labels import label_annotations

GREY = "#d0d0d8"


def settings_form(ws, n: int) -> None:
    """The settings in force; k and the smallest cluster show their automatic value for these n records when empty."""
    conf = map_settings(ws)
    auto_k, auto_size = effective("kmeans", n, None, None)["k"], effective("hdbscan", n, None, None)["min_size"]
    with st.expander("Map settings", expanded=False), st.form("map_settings"):
        a, b, c, d = st.columns(4)
        models = list(EMBEDDERS) + ([conf["model"]] if conf["model"] not in EMBEDDERS else [])
        model = a.selectbox("Model", models, index=models.index(conf["model"]),
                            help="\n".join(f"{k}: {v.description}" for k, v in EMBEDDERS.items()))
        custom = a.text_input("…or a model folder / hub id", value="")
        text = b.selectbox("Embed", list(TEXT_CHOICES), index=list(TEXT_CHOICES).index(conf["text"]), format_func=lambda t: t,
                           help="\n".join(f"{k}: {v}" for k, v in TEXT_CHOICES.items()))
        method = c.selectbox("Clustering", list(METHODS), index=list(METHODS).index(conf["method"]),
                             help="\n".join(f"{k}: {for_dashboard(v.description)}" for k, v in METHODS.items()))
        k = d.number_input("k (k-means)", min_value=2, max_value=500, value=conf["k"], placeholder=f"automatic: {auto_k}",
                           help=f"Empty: automatic, √(records / 2) up to 60 — {auto_k} for these {n:,} records.")
        min_size = d.number_input("Smallest cluster (HDBSCAN)", min_value=2, value=conf["min_size"], placeholder=f"automatic: {auto_size}",
                                  help=f"Empty: automatic, √records / 2 — {auto_size} for these {n:,} records.")
        if st.form_submit_button("Save settings"):
            with shown_errors("save the map settings"):
                # Empty fields save as automatic; saving what the form shows changes nothing (the same cached map).
                save_settings(ws, model=custom.strip() or model, text=text, method=method,
                              k=AUTOMATIC if k is None else int(k), min_size=AUTOMATIC if min_size is None else int(min_size))
                st.rerun()


def offer_placing(ws, frame, conf) -> bool:
    """Records added since the map was built: offer to place them on it (embedding only them); True when offered."""
    key = f"place|{ws.root}|{conf}|{len(frame)}"
    job = jobs.get(key)
    if job is not None and not job.finished:
        jobs.follow(key)
        return True
    if job is not None and job.error:
        st.error(f"Placing the new records failed: {show.plain(job.error)}")
    added = placeable(ws, frame)
    if not added:
        return False
    st.info(f"{added:,} records were added since the map was built. Place them on it: only they are embedded, each goes "
            "where its nearest mapped records are, marked “placed, not fitted” until the map is rebuilt.")
    if st.button(f"Place {added:,} new records on the map", type="primary", key="place_map"):
        jobs.start(key, lambda j: place(ws, frame, progress=j.update))
        st.rerun()
    return True


def run_or_wait(ws, frame) -> None:
    """Start (or follow) the background job that embeds and maps the records."""
    conf = map_settings(ws)
    key = f"{ws.root}|{conf}"
    job = jobs.get(key)
    if (job is None or job.finished) and offer_placing(ws, frame, conf):
        return
    if job is None or job.finished and job.error is None:
        if job is not None and job.cancelled:
            st.info(f"The map build stopped: {show.plain(job.cancelled)}. Building again starts from there.")
        todo = pending(ws, record_texts(frame, conf["text"]), model=conf["model"], text=conf["text"])
        seconds, how = estimate_seconds(ws, conf["model"], todo)
        st.info(f"No map yet for these {len(frame):,} records with model **{show.plain(conf['model'])}**. {todo:,} texts need embedding "
                f"(about {jobs.duration(seconds)}; {how}), then the projection (the first map also spends ~30 s compiling UMAP).")
        st.caption(modes_note(ws))
        a, b = st.columns(2)
        if a.button("Build the map", type="primary", key="build_map"):
            jobs.start(key, lambda j: build(ws, frame, progress=j.update))
            st.rerun()
        if conf["model"] != "static" and b.button("Fast mode: build with the static model", key="build_fast"):
            save_settings(ws, model="static")
            jobs.start(f"{ws.root}|{map_settings(ws)}", lambda j: build(ws, frame, progress=j.update))
            st.rerun()
        return
    if job.error:
        st.error(f"Building the map failed: {show.plain(job.error)}")
        if st.button("Try again", key="retry_map"):
            jobs.start(key, lambda j: build(ws, frame, progress=j.update))
            st.rerun()
        return
    actions = () if conf["model"] == "static" else (("Switch to fast mode", lambda: switch_to_fast(ws, frame, key)),)
    jobs.follow(key, actions)


def switch_to_fast(ws, frame: pd.DataFrame, running: str) -> None:
    """Cancel the running build (its vectors so far stay cached) and build again with the static model."""
    jobs.cancel(running)
    save_settings(ws, model="static")
    jobs.start(f"{ws.root}|{map_settings(ws)}", lambda j: build(ws, frame, progress=j.update))


def color_options(frame: pd.DataFrame) -> list[str]:
    options = ["cluster", "cluster confidence", "source", "dataset", "decision"]
    if "quality" in frame:
        options += ["quality", "output length"] + [f"flag: {s.reason}" for s in SIGNALS.values()]
    return options


PALETTE = [
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac",
    "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
]
LEGEND_UP_TO = 20  # more categories than this: one trace, colours by array (fast with 55k points)


def escaped_snippets(series: pd.Series, width: int) -> np.ndarray:
    """Start of each text, HTML-escaped for Plotly's hover labels (vectorised: 55k rows in milliseconds)."""
    text = series.fillna("").astype(str).str.slice(0, width).str.replace("\n", " ", regex=False)
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.str.replace(raw, entity, regex=False)
    return text.to_numpy(str)


def figure(frame: pd.DataFrame, color: str, highlight: set | None, found: pd.DataFrame | None,
           centres: pd.DataFrame | None = None) -> go.Figure:
    """A WebGL scatter. Everything is passed as numpy arrays and points carry their row number
    (not their id): Plotly validates Python lists element by element, far too slow for 55k points."""
    fig = go.Figure()
    # Rounded coordinates and shorter hovers on big maps keep the figure's JSON small (it is most of the page's load time).
    x, y = np.round(frame["x"].to_numpy(np.float64), 3), np.round(frame["y"].to_numpy(np.float64), 3)
    rows = np.arange(len(frame))
    width = 70 if len(frame) <= 20_000 else 45
    hover = escaped_snippets(frame["instruction"], width)
    if color in ("quality", "output length", "cluster confidence"):
        column = {"quality": "quality", "output length": "output_tokens", "cluster confidence": "cluster_confidence"}[color]
        values = frame[column].to_numpy(np.float32)
        fig.add_trace(go.Scattergl(x=x, y=y, mode="markers", customdata=rows, hovertext=hover, hoverinfo="text",
                                   marker=dict(size=5, color=values, colorscale="Viridis", showscale=True, colorbar=dict(title=color))))
    else:
        if color.startswith("flag: "):
            name = next(n for n, s in SIGNALS.items() if s.reason == color[6:])
            key = frame[f"flag__{name}"].map({True: "flagged", False: "not flagged"}).astype(str)
        else:
            key = frame["cluster_label" if color == "cluster" else color].astype(str)
        values = sorted(key.unique(), key=lambda v: (v == "noise", v))
        colors = {v: GREY if v == "noise" else PALETTE[i % len(PALETTE)] for i, v in enumerate(values)}
        keys = key.to_numpy(str)
        if len(values) > LEGEND_UP_TO:
            # Numeric codes on a stepwise colour scale: colour strings are validated one by one (seconds for 55k).
            codes = key.map({v: i for i, v in enumerate(values)}).to_numpy(np.int32)
            k = len(values)
            scale = [pair for i, v in enumerate(values) for pair in ([i / k, colors[v]], [(i + 1) / k, colors[v]])]
            # big maps: payload first
            labelled = np.char.add(np.char.add(escaped_snippets(key, 200), ": "), hover) if len(frame) <= 20_000 else hover
            fig.add_trace(go.Scattergl(x=x, y=y, mode="markers", customdata=rows, hovertext=labelled,
                                       hoverinfo="text", showlegend=False,
                                       marker=dict(size=4, color=codes, colorscale=scale, cmin=-0.5, cmax=k - 0.5, opacity=0.8)))
        else:
            for value in values:
                part = keys == value
                fig.add_trace(go.Scattergl(x=x[part], y=y[part], mode="markers", name=html.escape(str(value)[:40]), customdata=rows[part],
                                           hovertext=hover[part], hoverinfo="text", marker=dict(size=5, color=colors[value], opacity=0.85)))
        if highlight is not None:  # fade everything outside the chosen clusters
            faded = ~frame["cluster"].isin(highlight).to_numpy()
            fig.add_trace(go.Scattergl(x=x[faded], y=y[faded], mode="markers", hoverinfo="skip", showlegend=False,
                                       marker=dict(size=5, color="white", opacity=0.75)))
    for column, name, symbol in (("assigned", "low confidence (assigned)", "circle-open"),
                                 ("placed", "placed, not fitted", "diamond-open")):
        marked = frame[column].fillna(False).to_numpy(bool) if column in frame else np.zeros(len(frame), dtype=bool)
        if marked.any():
            fig.add_trace(go.Scattergl(x=x[marked], y=y[marked], mode="markers", name=name, hoverinfo="skip",
                                       marker=dict(size=8, symbol=symbol, color="#333", line=dict(width=1))))
    if found is not None and len(found):
        fig.add_trace(go.Scattergl(x=found["x"].to_numpy(np.float32), y=found["y"].to_numpy(np.float32), mode="markers",
                                   name="search results", customdata=found.index.to_numpy(),
                                   hovertext=escaped_snippets(found["instruction"], 70),
                                   hoverinfo="text", marker=dict(size=14, symbol="star", color="black", line=dict(width=1, color="white"))))
    view = (view_range(x), view_range(y))
    # the legend under the plot: at the top right it covered Plotly's toolbar (new-user pass)
    fig.update_layout(height=620, margin=dict(l=0, r=0, t=10, b=0), dragmode="lasso",
                      legend=dict(itemsizing="constant", orientation="h", x=0, y=0, yanchor="top"),
                      xaxis=dict(visible=False, range=view[0]), yaxis=dict(visible=False, range=view[1]),
                      annotations=label_annotations(centres, view) if centres is not None else [])
    return fig


def view_range(values: np.ndarray) -> list[float] | None:
    """The axis range that shows all but the farthest 0.5% on each side (a few far outliers squeezed a big map into a
    corner); None (Plotly's own) on small maps. Double-clicking the map shows every point."""
    if len(values) < 500:
        return None
    low, high = np.percentile(values, [0.5, 99.5])
    pad = (high - low) * 0.05
    return [float(low - pad), float(high + pad)]


def selected_rows(event, frame: pd.DataFrame) -> list[str]:
    """Record ids of the points selected on the map (points carry their row number)."""
    points = event.selection.points if event and event.selection else []
    rows = {int(p["customdata"]) for p in points if p.get("customdata") is not None}
    return list(frame["record_id"].iloc[sorted(r for r in rows if 0 <= r < len(frame))])


def selection_actions(ws, ids: list[str], label: str, key: str) -> None:
    """Keep / reject these records (with an Undo for exactly that action right after it), or review them one by one."""
    what = f"a lasso of {len(ids):,}" if key == "lasso" else label
    act.action_bar(ws, ids, label=label, what=what, key=key, queue=f"Map: {what}")


def main() -> None:
    ws = layout.page("Map")
    base = records(ws)
    if base.empty:
        layout.no_records()
        return
    settings_form(ws, len(base))
    atlas = cached_map(ws)
    if atlas is None:
        run_or_wait(ws, base)
        return
    frame = with_cached_columns(ws, base, stages=("map", "signals"))  # quality only when computed: the map never waits for it
    frame = current_filter().apply(frame).reset_index(drop=True)
    layout.filter_note(len(frame), len(base))
    used = ", ".join(f"{k.replace('_', ' ')} {v}" + (" (automatic)" if atlas.settings.get(k) is None else "")
                     for k, v in atlas.settings.get("effective", {}).items())
    st.caption(f"{len(frame):,} records · {atlas.clusters} clusters · {atlas.noise:,} unclustered · "
               f"{atlas.assigned:,} in their cluster with low confidence (○ on the map) · "
               f"model {show.plain(atlas.settings['model'])}, "
               f"text {atlas.settings['text']}, {atlas.settings['method']}" + (f" ({used})" if used else ""))
    if atlas.placed:
        a, b = st.columns([4, 1])
        a.warning(f"{atlas.placed:,} records are placed, not fitted (◇ on the map): they were added after the map was built and "
                  "took the place and cluster of their nearest mapped records. Rebuild the map to fit them.")
        if b.button("Rebuild the map", key="rebuild_map"):
            conf = map_settings(ws)
            jobs.start(f"{ws.root}|{conf}", lambda j: build(ws, base, progress=j.update))
            st.rerun()
        job = jobs.get(f"{ws.root}|{map_settings(ws)}")
        if job is not None and not job.finished:
            jobs.follow(f"{ws.root}|{map_settings(ws)}")
    table = atlas.table(frame)
    left, right = st.columns([3, 2])
    with right:
        st.subheader("Clusters")
        picked = st.dataframe(table, hide_index=True, height=300, key="cluster_table", on_select="rerun", selection_mode="multi-row",
                              column_config={"share": st.column_config.NumberColumn(format="percent")})
        chosen = {int(table.iloc[i]["cluster"]) for i in picked.selection.rows} if picked.selection.rows else None
        over = [f"**{show.plain(atlas.labels.get(c, c))}** ({kind}-represented)" for c, kind in atlas.representation.items()]
        st.caption("Over/under-represented: " + (", ".join(over) if over else "none (every cluster within ¼× to 2× an even share)"))
        query = st.text_input("Semantic search", placeholder="find records about…", **state.bound(state.MAP_SEARCH))
    found = None
    if query.strip():
        with shown_errors("search"):
            found = nearest(ws, frame, query.strip(), 10)
    with left:
        colors = color_options(frame)
        color = st.selectbox("Colour by", colors, **state.bound(state.MAP_COLOR, options=colors))
        st.caption(map_canvas.why(len(frame)))
        if map_canvas.use_fast_view(len(frame)):  # issue 18: big maps travel as binary arrays to a canvas
            selected = map_canvas.fast_map(frame, color, found, atlas.centres(frame))
        else:
            event = st.plotly_chart(figure(frame, color, chosen, found, atlas.centres(frame)), width="stretch", key="map_chart",
                                    on_select="rerun",
                                    selection_mode=("lasso", "box", "points"))
            selected = selected_rows(event, frame)
    if found is not None:
        st.subheader(f"Nearest to “{show.plain(query.strip())}”")
        st.dataframe(pd.DataFrame({"similarity": found["similarity"], "record_id": found["record_id"],
                                   "cluster": found["cluster_label"], "instruction": found["instruction"].map(show.snippet)}),
                     hide_index=True, width="stretch", **act.opening_table(f"Search: {query.strip()}", list(found["record_id"])))
        hits = list(found["record_id"])
        st.caption("Tick a hit to open it: the Review page shows the record, with the other hits as its queue.")
        act.follow_open()
        act.action_bar(ws, hits, label="manual", what=f"search “{query.strip()}”", key="hits", queue=f"Search: {query.strip()}",
                       slot=f"{state.MAP_LAST}.search")
        if st.button("Generate more like this", key="map_generate_topic", icon=":material/auto_awesome:",
                     help="The Generate page, with this search's nearest records as the seeds: an LLM writes more about it."):
            from ui.generate import aim_at_topic

            aim_at_topic(query.strip())
            st.switch_page("pages/generate.py")
    if selected:
        sel = frame[frame["record_id"].isin(selected)]
        st.subheader(f"{len(sel):,} selected on the map")
        view = sel[["record_id", "cluster_label", "decision", "instruction"]].assign(instruction=sel["instruction"].map(show.snippet))
        st.dataframe(view, hide_index=True, width="stretch", height=min(300, 40 + 35 * len(sel)))
        labels = sel["cluster_label"].value_counts()
        selection_actions(ws, list(sel["record_id"]), f"cluster:{labels.index[0]}" if len(labels) == 1 else "manual", "lasso")
    elif chosen:
        ids = list(frame.loc[frame["cluster"].isin(chosen), "record_id"])
        st.subheader(f"{len(ids):,} records in the chosen cluster(s)")
        st.write("Representative records (nearest the cluster's centre; every word of a label occurs in them):")
        by_id = dict(zip(frame["record_id"], record_texts(frame, atlas.settings["text"])))
        for c in sorted(chosen)[:3]:
            st.markdown(f"**{show.plain(atlas.labels.get(c, c))}**")
            for rid in atlas.representatives.get(c, [])[:5]:
                st.text(f"{rid}: {show.snippet(by_id.get(rid, ''), 200)}")
        first = atlas.labels.get(min(chosen), "manual")
        selection_actions(ws, ids, f"cluster:{first}", "cluster")
        if len(chosen) == 1 and st.button("Generate more in this cluster", key="map_generate_cluster",
                                          icon=":material/auto_awesome:", help="The Generate page, with its records as the seeds."):
            from ui.generate import aim_at_cluster

            aim_at_cluster(min(chosen))
            st.switch_page("pages/generate.py")
    else:
        act.undo_last(ws, key="map")
    st.subheader("Diversity")
    per = ["by_dataset", "by_source"]
    by = st.radio("Per", per, horizontal=True, format_func=lambda s: s.replace("by_", ""), **state.bound(state.MAP_DIVERSITY, options=per))
    st.dataframe(pd.DataFrame(atlas.diversity[by]).T, width="stretch")
    for note in agreement(atlas.diversity[by]):
        st.caption(show.plain(note))
    with st.expander("What these numbers mean"):
        st.text(DIVERSITY_DOC.strip())


layout.run(main)
