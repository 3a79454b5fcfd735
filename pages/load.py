"""Load data: upload a file, name a path on the server, or load the demo dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from curation.demo import load_demo
from curation.errors import UnknownFormat, for_dashboard
from curation.formats import FORMATS
from curation.ingest import ingest
from curation.records import SOURCES
from ui import datasets, jobs, layout, pii, show, state
from ui.data import shown_errors
from ui.sql_load import sql_section
from ui.transcripts_load import transcript_section

AUTO = "auto-detect"
FIELDS = ("instruction", "input", "output", "system")


def save_upload(ws, upload) -> Path:
    """Keep a copy of the uploaded file in the workspace; the same file lands on the same name."""
    ws.uploads_dir.mkdir(parents=True, exist_ok=True)
    data = upload.getvalue()
    target = ws.uploads_dir / Path(upload.name).name
    stem, suffix, n = target.stem, target.suffix, 1
    while target.exists() and target.read_bytes() != data:
        target = ws.uploads_dir / f"{stem}-{n}{suffix}"
        n += 1
    target.write_bytes(data)
    return target


def options(prefix: str, default_name: str | None = None) -> dict:
    """Name, source and format of a load; kept across pages (an upload's name starts from each file's name)."""
    a, b, c = st.columns(3)
    shared = f"{state.LOAD_OPTIONS}.{prefix}"
    if default_name is None:
        name = a.text_input("Dataset name", **state.bound(f"{shared}.name", default=""))
    else:  # an upload is not kept across pages: neither is the name given to it
        name = a.text_input("Dataset name", value=default_name, key=f"{state.widget_key(shared)}.name.{default_name}")
    sources = ["from the data", *SOURCES]
    source = b.selectbox("Source", sources, **state.bound(f"{shared}.source", options=sources))
    formats = [AUTO, *FORMATS]
    fmt = c.selectbox("Format", formats, **state.bound(f"{shared}.format", options=formats))
    protected = st.toggle("An evaluation set (protected)", value=False, key=f"load_protected_{prefix}",
                          help="Benchmark prompts or your own test split: never rejected or exported; training records that "
                               "overlap it are flagged and left out of exports.")
    chosen = None if source == "from the data" else source
    redact = pii.redact_toggle(f"load_redact_{prefix}", chosen)  # issue 16: on by default for external sources
    return {"name": name or None, "source": chosen, "fmt": None if fmt == AUTO else fmt, "protected": protected,
            "redact": redact}


def run_ingest(ws, path: Path | str, opts: dict, mapping: dict | None = None) -> None:
    state.set(state.PENDING_MAPPING, None)
    state.set(state.LAST_INGEST, None)  # an earlier load's success never stands under this load's error
    opts = dict(opts)
    protected = opts.pop("protected", False)
    with shown_errors(f"load {Path(str(path)).name}"):
        try:
            result = ingest(ws, path, mapping=mapping, progress=jobs.progress_bar(), **opts)
            if protected and result["added"] + result["skipped"]:
                from curation.decontaminate import protect

                result["protected"] = bool(protect(ws, [result["dataset"]])["protected"])
            state.set(state.LAST_INGEST, {**result, "workspace": str(ws.root)})
        except UnknownFormat as exc:
            state.set(state.PENDING_MAPPING, {"path": str(path), "opts": {**opts, "protected": protected}, "columns": exc.columns})
            raise
        st.rerun()  # the sidebar's counts include the new records


def mapping_form(ws) -> None:
    pending = state.get(state.PENDING_MAPPING)
    if not pending:
        return
    st.subheader("Map the columns")
    st.write(f"{show.plain(Path(pending['path']).name)} is not a format we recognise. Say which column holds each field.")
    with st.form("mapping"):
        choice = {f: st.selectbox(f, ["(none)", *pending["columns"]], key=f"map_{f}") for f in FIELDS}
        if st.form_submit_button("Load with this mapping", type="primary"):
            mapping = {f: c for f, c in choice.items() if c != "(none)"}
            opts = {**pending["opts"], "fmt": None}
            run_ingest(ws, pending["path"], opts, mapping)


def last_result(ws) -> None:
    result = state.get(state.LAST_INGEST)
    if not result or (result["workspace"] != str(ws.root) if "workspace" in result else result["dataset"] not in ws.datasets()):
        return  # a load into another workspace (the sidebar switched it) is not this one's news
    added, skipped = result["added"], result["skipped"]
    kinds = str(result["format"]).split("+")
    fmt = (f"{', '.join(k.removeprefix('transcript-') for k in kinds)} transcripts"  # issue 16: not transcript-vtt+transcript-srt…
           if all(k.startswith("transcript-") for k in kinds) else result["format"])
    message = (f"**{show.plain(result['dataset'])}**: {added:,} records added, {skipped:,} already present "
               f"(format {show.plain(fmt)}).")
    if result.get("protected"):
        message += " Protected: an evaluation set, never rejected or exported."
    if result.get("query") and skipped:  # issue 16: a database loaded again
        keys = result.get("key")
        message += (f" Rows already loaded (by key {show.plain(', '.join(keys))}) were skipped: loading again adds only "
                    "new rows, and does not update a row changed since." if keys else " Rows already loaded (the same "
                    "content) were skipped: loading again adds only new rows.")
    (st.success if added or skipped else st.error)(message)
    pii.load_summary(result)  # issue 16: personal data redacted, per kind
    for warning in result.get("warnings", []):
        st.warning(show.plain(for_dashboard(warning)))
    if result["errors"]:
        st.warning(f"{show.counted(len(result['errors']), 'problem')}: these rows were not loaded and are kept in "
                   f"{show.plain(result['rejects_file'])}.")
        st.dataframe(pd.DataFrame(result["errors"]), hide_index=True, width="stretch")
    if added or skipped:
        st.page_link("pages/records.py", label="Browse the records", icon=":material/table_rows:")


def main() -> None:
    ws = layout.page("Load data")
    upload_tab, path_tab, demo_tab = st.tabs(["Upload a file", "Path on the server", "Demo dataset"])
    with upload_tab:
        upload = st.file_uploader("JSON, JSONL, CSV, TSV or Parquet", type=["json", "jsonl", "csv", "tsv", "parquet", "txt"])
        opts = options("upload", Path(upload.name).stem if upload else "")
        if st.button("Load the file", disabled=upload is None, type="primary", key="load_upload"):
            run_ingest(ws, save_upload(ws, upload), opts)
    with path_tab:
        path = st.text_input("File, folder, or Hugging Face dataset id", placeholder="/data/train.jsonl", **state.bound(state.LOAD_PATH))
        opts = options("path")
        if st.button("Load", disabled=not path.strip(), type="primary", key="load_path_button"):
            run_ingest(ws, path.strip(), opts)
    with demo_tab:
        st.write("A few hundred records we wrote, over ten topics, with planted problems for the other pages to find.")
        if st.button("Load the demo dataset", key="load_demo_tab"):
            state.set(state.LAST_INGEST, None)
            with shown_errors("load the demo dataset"):
                state.set(state.LAST_INGEST, {**load_demo(ws), "workspace": str(ws.root)})
                st.rerun()
    with st.expander("Database (SQL)", icon=":material/database:"):  # issue 16
        sql_section(ws)
    with st.expander("Transcripts (calls, meetings)", icon=":material/record_voice_over:"):  # issue 16
        transcript_section(ws)
    mapping_form(ws)
    last_result(ws)
    datasets.render(ws)  # issue 17: remove a dataset, restore a recent removal


layout.run(main)
