"""Export: choose a template and options, preview rendered examples per split, write to a folder or download a zip."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from curation import decontaminate
from curation.errors import for_dashboard
from curation.export import FORMATS, OVER, SHAPES, STRATIFY, TEMPLATES, Options, export, zip_folder
from curation.export.policy import blocking_flags, set_blocking
from curation.export.splits import preview_sample
from curation.export.write import leakage_lines
from curation.signals import SIGNALS
from curation.signals.compute import tokenizer_name
from ui import layout, show, state
from ui.data import cached_export_plan, export_preview, records, shown_errors

HF_FOLDER = "a Hugging Face tokenizer folder"
CUSTOM = "custom (Jinja)"
EXAMPLE = ("{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}{{ eos_token if m.role == 'assistant' else '' }}\n"
           "{% endfor %}")


def template_choice() -> tuple[str, str | None]:
    a, b = st.columns([3, 2])  # the choices read "name: description": a third of the page cut them off
    choices = [*TEMPLATES, HF_FOLDER, CUSTOM]
    choice = a.selectbox("Template", choices, **state.bound(state.EXPORT_TEMPLATE, options=choices),
                         format_func=lambda n: f"{n}: {TEMPLATES[n].description}" if n in TEMPLATES else n)
    if choice == HF_FOLDER:
        folder = b.text_input("Tokenizer folder on the server (with tokenizer_config.json)", **state.bound(state.EXPORT_HF_FOLDER))
        return folder.strip() or "", None
    if choice == CUSTOM:
        source = b.text_area("Jinja chat template (sees messages, bos_token, eos_token; runs in a sandbox)",
                             **state.bound(state.EXPORT_CUSTOM, default=EXAMPLE), height=140)
        return "custom", source
    return choice, None


def options(ws) -> Options | None:
    name, source = template_choice()
    if not name:
        st.info("Name a tokenizer folder to use its chat template.")
        return None
    a, b, c, d = st.columns(4)
    shape = a.selectbox("Shape", list(SHAPES), **state.bound(state.EXPORT_SHAPE, options=SHAPES),
                        help="\n".join(f"{k}: {v.description}" for k, v in SHAPES.items()))
    fmt = b.selectbox("File format", list(FORMATS), **state.bound(state.EXPORT_FORMAT, options=FORMATS),
                      help="\n".join(f"{k}: {v.description}" for k, v in FORMATS.items()))
    split = c.text_input("Splits", **state.bound(state.EXPORT_SPLIT),
                         help="named ratios, e.g. train=0.9,validation=0.05,test=0.05")
    seed = d.number_input("Seed", min_value=0, step=1, **state.bound(state.EXPORT_SEED))
    e, f, g, h = st.columns(4)
    stratify = e.selectbox("Stratify by", list(STRATIFY), **state.bound(state.EXPORT_STRATIFY, options=STRATIFY),
                            help="\n".join(f"{k}: {v.description}" for k, v in STRATIFY.items()))
    max_tokens = f.number_input("Max tokens (0: no limit)", min_value=0, step=256, **state.bound(state.EXPORT_MAX_TOKENS))
    tokenizer = f.text_input("Tokenizer", **state.bound(state.EXPORT_TOKENIZER, default=tokenizer_name(ws)),
                             help="llama-3 (bundled), or a folder / file with tokenizer.json: lengths of the rendered text")
    over = g.selectbox("Longer records", list(OVER), **state.bound(state.EXPORT_OVER, options=OVER),
                       help="\n".join(f"{k}: {v}" for k, v in OVER.items()))
    kept_only = h.toggle("Kept records only", **state.bound(state.EXPORT_KEPT_ONLY), help="Default: every record not rejected.")
    similarity = h.toggle("Check test/train similarity", **state.bound(state.EXPORT_SIMILARITY),
                          help="Reports the most similar test/train pair in the manifest. It embeds the records not embedded yet "
                               "with the map's model while you wait: on a big set, build the map first or use fast mode.")
    strip = g.toggle("Strip closing end markers", **state.bound(state.EXPORT_STRIP_MARKERS),
                     help="Answers lose the end-of-text markers that close them (<|endoftext|>, </s>…): a convention of the "
                          "source format; the template adds its own. The manifest counts the answers changed.")
    return Options(template=name, template_source=source, shape=shape, format=fmt, split=split, seed=int(seed), stratify=stratify,
                   max_tokens=int(max_tokens) or None, over=over, kept_only=kept_only, similarity=similarity,
                   tokenizer=tokenizer.strip() or None, end_markers="strip" if strip else "keep")


def policy(ws, opts: Options) -> Options:
    """What training must not see: protected evaluation sets and blocking flags (workspace settings, kept at once)."""
    from dataclasses import replace

    st.subheader("What training must not see")
    a, b = st.columns(2)
    datasets, protected = ws.datasets(), decontaminate.protected_datasets(ws)
    chosen = a.multiselect("Protected evaluation sets", datasets, default=[d for d in protected if d in datasets],
                           key="export_protected",
                           help="Benchmark prompts or your own test split: never exported, never rejected, kept as their "
                                "duplicate group's representative; training records that overlap one (13-word overlap or "
                                "similar prompts) are left out unless you keep them.")
    codes = [s.reason for s in SIGNALS.values()]
    blocking = b.multiselect("Blocking flags", codes, default=[c for c in blocking_flags(ws) if c in codes], key="export_blocking",
                             help="Records carrying any of these flags are left out of every export (a workspace setting).")
    with shown_errors("save the export policy"):
        if set(chosen) != set(protected):
            decontaminate.protect(ws, sorted(set(protected) - set(chosen)), protected=False)
            decontaminate.protect(ws, chosen)
            from ui.data import _export_plan

            _export_plan.clear()  # the plan's key holds the data's stamps, not this setting
        if set(blocking) != set(blocking_flags(ws)):
            set_blocking(ws, blocking)
    c, d = st.columns(2)
    keep_contaminated = c.toggle("Export contaminated records", value=False, key="export_keep_contaminated",
                                 help="Default: training records that match a protected item are left out (and warned about).")
    keep_blocked = d.toggle("Export records of blocking flags", value=False, key="export_keep_blocked")
    return replace(opts, blocking=tuple(blocking), keep_blocked=keep_blocked, contaminated="keep" if keep_contaminated else "drop")


def contamination(ws, opts: Options) -> None:
    """The matches behind the 'contaminated' count, with their spans, on demand."""
    if not decontaminate.protected_datasets(ws):
        return
    with st.expander("Contaminated records: what they match"):
        if st.button("Show the matches", key="export_show_matches"):
            with shown_errors("check for contamination"), st.spinner("Comparing with the protected sets…"):
                found = decontaminate.find(ws, embedding=opts.similarity)
                matches = found["matches"]
                st.caption(f"{len(matches):,} training records match {found['summary']['items_matched']:,} evaluation items.")
                st.dataframe(matches[["record_id", "protected_id", "match", "similarity", "found"]], hide_index=True)
                frame = records(ws).set_index("record_id")
                from curation.signals.evidence import loads, spans_in
                from curation.texts import record_texts

                for row in matches.head(3).to_dict("records"):
                    found_spans = loads(row["evidence"])
                    field = found_spans[0].field or "prompt"
                    text = record_texts(frame.loc[[row["record_id"]]], field)[0]
                    item = record_texts(frame.loc[[row["protected_id"]]], "prompt")[0]
                    show.highlighted(f"{row['record_id']} ({field})", text, spans=spans_in(found_spans, field))
                    show.highlighted(f"matches {row['protected_id']} (protected prompt)", item,
                                     spans=spans_in(loads(row["protected_evidence"]), "prompt"))


def preview(ws, opts: Options, plan: dict) -> None:
    for warning in plan.get("policy", {}).get("warnings", []):
        st.warning(show.plain(show.sentence(for_dashboard(warning))))
    st.subheader("Split sizes")
    cols = st.columns(len(plan["by_split"]) + 1)
    for col, (name, idx) in zip(cols, plan["by_split"].items()):
        col.metric(show.plain(name), f"{len(idx):,}")
    cols[-1].metric("excluded", f"{sum(plan['excluded'].values()):,}")
    if plan["excluded"]:
        st.dataframe(pd.DataFrame({"reason": list(plan["excluded"]), "records": list(plan["excluded"].values())}), hide_index=True)
    if plan["grouping"]["note"]:
        st.warning(show.plain(show.sentence(plan["grouping"]["note"])))
    else:
        g = plan["grouping"]
        st.caption(f"{g['groups']:,} duplicate groups ({g['method']} at {g['threshold']}) each stay whole in one split.")
    st.subheader("Preview")
    template = plan["template"]
    seed = int(state.get(state.EXPORT_PREVIEW_SEED))
    note, again = st.columns([4, 1], vertical_alignment="center")
    note.caption(f"Three records of each split drawn at random (sample {seed + 1}), rendered as they will be written.")
    again.button("Another sample", key="export_reseed", icon=":material/shuffle:",
                 on_click=lambda: state.set(state.EXPORT_PREVIEW_SEED, seed + 1))
    tabs = st.tabs([show.plain(name) for name in plan["by_split"]])
    for tab, idx in zip(tabs, plan["by_split"].values()):
        with tab:
            if not idx:
                st.caption("This split is empty.")
            shown = preview_sample(idx, 3, seed)
            for i, (row, text) in zip(shown, export_preview(ws, opts, plan, shown) if shown else []):
                show.highlighted(f"{row['record_id']} · {int(plan['lengths'][i]):,} tokens", text, list(template.special))


def write(ws, opts: Options) -> None:
    default = str(ws.root / "exports" / "latest")
    target = st.text_input("Write to this folder on the server", **state.bound(state.EXPORT_OUT, default=default),
                           help="A new or empty folder, or an earlier export holding only the files export wrote (it is replaced).")
    if st.button("Export", type="primary", key="export_run"):
        with shown_errors("export"), st.spinner("Rendering, splitting and writing…"):
            state.set(state.LAST_EXPORT, export(ws, target, opts))
    result = state.get(state.LAST_EXPORT)
    if result:
        st.success(f"Wrote {sum(result['splits'].values()):,} records to {show.plain(result['out'])}: "
                   + ", ".join(f"{show.plain(k)} {v:,}" for k, v in result["splits"].items()))
        files = ", ".join(show.plain(Path(f).name) for f in result["files"])
        st.caption(f"Files: {files} · manifest: {show.plain(result['manifest'])}")
        for line in leakage_lines(result.get("leakage")):
            st.caption(show.plain(line))
        if Path(result["out"]).is_dir():
            st.download_button("Download (zip)", data=zip_folder(result["out"]), file_name=f"{Path(result['out']).name}.zip",
                               mime="application/zip", key="export_download")


def main() -> None:
    ws = layout.page("Export")
    if records(ws).empty:
        layout.no_records()
        return
    opts = options(ws)
    if opts is None:
        return
    opts = policy(ws, opts)
    contamination(ws, opts)
    plan = None
    with shown_errors("prepare the export"):
        plan = cached_export_plan(ws, opts)
    if plan is None:
        return
    with shown_errors("render the preview"):
        preview(ws, opts, plan)
    write(ws, opts)


layout.run(main)
