"""The Load page's "Transcripts" section (issue 16): files or a server path → the speakers with their guessed role
(editable) → the record shape with its effect on counts and lengths → Load.

Thin: `curation.transcripts.inspect` reads and previews, `curation.ingest.ingest` loads; their errors become
st.error through `shown_errors`, never a traceback.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import streamlit as st

from curation.ingest import dataset_name, ingest
from curation.transcripts import READERS, ROLES, SHAPES, inspect, make_options
from ui import show, state
from ui.data import shown_errors
from ui.pii import redact_toggle

PREFIX = f"{state.LOAD_OPTIONS}.transcripts"  # shared keys: .from .path .name .gap .turns .shape
INSPECTED = f"{PREFIX}.inspected"  # the last reading: {"path", "opts", …inspect()}
FROM = ("Path on the server", "Upload files")
MAX_SPEAKERS = 20  # speakers whose role the section offers to change (most words first); the CLI takes any


def save_uploads(ws, uploads) -> Path:
    """The uploaded files in one folder of the workspace's uploads, named by their content (the same files, the same folder)."""
    digest = hashlib.blake2b(digest_size=6)
    for f in sorted(uploads, key=lambda u: u.name):
        digest.update(Path(f.name).name.encode() + b"\0" + f.getvalue() + b"\0")
    folder = ws.uploads_dir / f"transcripts-{digest.hexdigest()}"
    folder.mkdir(parents=True, exist_ok=True)
    for f in uploads:
        (folder / Path(f.name).name).write_bytes(f.getvalue())
    return folder


def transcript_section(ws) -> None:
    st.caption("Call and meeting transcripts — " + ", ".join(f"{r.suffix} ({show.plain(r.description.split(' (')[0])})"
                                                           for r in READERS.values())
               + " — become conversations, then training records (source: external).")
    where = st.radio("Transcripts from", FROM, horizontal=True, **state.bound(f"{PREFIX}.from", options=FROM))
    path, default_name = None, "transcripts"
    if where == FROM[1]:
        uploads = st.file_uploader("Transcript files", type=[r.suffix.lstrip(".") for r in READERS.values()],
                                   accept_multiple_files=True, key="w.load.transcripts.files")
        if uploads:
            path = save_uploads(ws, uploads)
    else:
        typed = st.text_input("File or folder", placeholder="/data/calls/", **state.bound(f"{PREFIX}.path", default="")).strip()
        if typed:
            path, default_name = typed, dataset_name(typed)
    a, b, c = st.columns(3)
    gap = a.number_input("New conversation after a silence of (s)", min_value=0.0, step=10.0,
                         **state.bound(f"{PREFIX}.gap", default=120.0))
    turns = b.number_input("Turns per conversation, about at most", min_value=2, step=1, **state.bound(f"{PREFIX}.turns", default=40))
    name = c.text_input("Dataset name", placeholder=default_name, **state.bound(f"{PREFIX}.name", default=""))
    base = {"split_gap": float(gap), "max_turns": int(turns)}
    if st.button("Read the transcripts", disabled=path is None, key="w.load.transcripts.read"):
        state.set(INSPECTED, None)
        with shown_errors("read the transcripts"):
            state.set(INSPECTED, {"path": str(path), "opts": {**base, "roles": {}}, **inspect(path, make_options(**base), skip=ws.root)})
    shown = state.get(INSPECTED)
    if not shown or path is None or shown["path"] != str(path):
        return
    roles = speaker_roles(shown)
    opts = {**base, "roles": roles}
    if shown["opts"] != opts:  # a role or a split changed: the preview follows
        with shown_errors("read the transcripts"):
            shown = {"path": str(path), "opts": opts, **inspect(path, make_options(**opts), skip=ws.root)}
            state.set(INSPECTED, shown)
    shape = shape_choice(shown)
    redact = redact_toggle("w.load.transcripts.redact", "external")
    target = name.strip() or default_name
    if target in ws.datasets():  # loading the same calls again in another shape or with other roles adds them again
        st.caption(f"The dataset {show.plain(target)} exists: records already in it are skipped, but the same calls in "
                   "another shape or with other roles are added beside them. Name a new dataset to keep them apart.")
    if st.button("Load the transcripts", type="primary", key="w.load.transcripts.load"):
        state.set(state.LAST_INGEST, None)  # an earlier load's success never stands under this load's error
        with shown_errors("load the transcripts"):
            result = ingest(ws, path, name=target, fmt="transcript", transcript={**opts, "shape": shape},
                            redact=redact)
            state.set(state.LAST_INGEST, {**result, "workspace": str(ws.root)})
            st.rerun()  # the sidebar's counts include the new records


def speaker_roles(shown: dict) -> dict:
    """The speakers with their guessed role and why, each role changeable; the roles the curator changed."""
    files = shown["files"]
    st.write(f"{len(files):,} file(s), {shown['conversations']:,} conversation(s), {len(shown['speakers']):,} speaker(s).")
    if shown["problems"]:
        st.warning(f"{show.counted(len(shown['problems']), 'problem')}: these cues or lines will not load; the rest will.")
        st.dataframe(pd.DataFrame(shown["problems"]).drop(columns=["raw"], errors="ignore").astype(str), hide_index=True,
                     width="stretch")
    for warning in shown["warnings"]:
        st.warning(show.plain(warning))
    chosen = {}
    speakers = shown["speakers"][:MAX_SPEAKERS]
    if speakers:
        st.caption("Speakers (most words first): who is the assistant? Change a role where the guess is wrong.")
    for start in range(0, len(speakers), 3):  # three speakers a row
        for box, s in zip(st.columns(3), speakers[start:start + 3]):
            role = box.selectbox(show.plain(s["speaker"]), ROLES, index=ROLES.index(s["guess"]),
                                 key=f"w.load.transcripts.role.{s['speaker']}")
            box.caption(f"guess: {s['guess']} — {show.plain(s['why'])}; {s['turns']:,} turns, {s['words']:,} words, "
                        f"{s['files']:,} file(s)")
            if role != s["guess"]:
                chosen[s["speaker"]] = role
    if len(shown["speakers"]) > MAX_SPEAKERS:
        st.caption(f"{len(shown['speakers']) - MAX_SPEAKERS:,} more speakers keep their guessed role "
                   "(set any with `ingest --speaker-role NAME=ROLE`).")
    return chosen


def shape_choice(shown: dict) -> str:
    """The record shape, with each shape's counts and lengths side by side."""
    preview = shown["preview"]
    rows = [{"shape": name, "records": p["records"], "messages (median)": p["messages"]["median"],
             "words (median)": p["words"]["median"], "words (max)": p["words"]["max"],
             "prompt words (median)": p["prompt_words"]["median"], "output words (median)": p["output_words"]["median"],
             "words in all": p["total_words"]} for name, p in preview.items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    unanswered = shown["conversations"] - preview["conversation"]["records"]
    if unanswered > 0:  # said before loading, not only after
        st.warning(f"{unanswered:,} conversation(s) have no assistant turn answering a user and will make no record: "
                   "check the speakers' roles above (who is the assistant?).")
    names = list(SHAPES)
    labels = [f"{n}: {preview[n]['records']:,} records" for n in names]
    # labels=: the counts change with a role or a split; without it the browser shows no shape chosen after a change
    shape = st.radio("Records", names, horizontal=True, format_func=dict(zip(names, labels)).get,
                     **state.bound(f"{PREFIX}.shape", options=names, labels=labels))
    st.caption(show.plain(SHAPES[shape].description))
    return shape
