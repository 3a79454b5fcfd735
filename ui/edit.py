"""Edit instead of reject: a record's fields edited in place, its version history and revert, and bulk fixes.

Thin: every change goes through `curation.edits` (versioned: the original stays, each version says who changed what),
with the curator named in the sidebar. Record text is edited in plain text areas and shown as text.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import pandas as pd
import streamlit as st

from curation import edits
from curation.records import loads
from ui import show
from ui.data import shown_errors
from ui.decide import curator

TUPLE_FIELDS = ("system", "instruction", "input", "output")


def _digest(*parts) -> str:
    return hashlib.sha1("\n".join(map(str, parts)).encode()).hexdigest()[:12]


def _time(value) -> str:
    try:
        return datetime.fromtimestamp(float(value)).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return str(value)


def history(ws, rid: str, *, key: str) -> None:
    """The record's versions (who changed which fields, when, why) with a button that reverts the latest edit."""
    st.markdown("**Edit history**")
    with shown_errors("read the edit history"):
        if rid not in edits.versions(ws):  # never edited: no need to read its stored text (every part, issue 18)
            st.caption("Not edited: this is the text as loaded.")
            return
        versions = edits.edit_history(ws, rid)
        if len(versions) <= 1:  # version 0 only: the original
            st.caption("Not edited: this is the text as loaded.")
            return
        table = pd.DataFrame({
            "version": [v["version"] for v in versions],
            "changed": [", ".join(v["fields"]) or "(as loaded)" for v in versions],
            "now reads": [" · ".join(show.snippet(c["after"] or "", 80) for c in v["changes"].values()) for v in versions],
            "curator": [v["curator"] or "" for v in versions],
            "reason": [v["reason"] or "" for v in versions],
            "time": [_time(v["ts"]) if v["ts"] else "" for v in versions],
        })
        st.dataframe(table, hide_index=True, width="stretch")
        if st.button("Revert the latest edit", key=f"revert.{key}", help="Back to the version before it; the history keeps both"):
            with shown_errors(f"revert the edit of {rid}"):
                edits.revert_edit(ws, rid, curator=curator())
                st.toast(f"{rid}: latest edit reverted")
                st.rerun()


def editor(ws, rec: pd.Series, *, key: str) -> None:
    """Text areas for the record's fields (every message of a conversation); Save writes a new version."""
    rid = rec["record_id"]
    messages = loads(rec["messages"]) or []
    with st.expander("Edit this record", expanded=False):
        # Keyed by the record and its current text: after a save or revert the areas start from the new text.
        stamp = _digest(rid, *(rec.get(f) for f in TUPLE_FIELDS), rec["messages"])
        with st.form(f"edit.{key}.{stamp}"):
            changes = {}
            if messages:
                new = []
                for i, m in enumerate(messages):
                    text = st.text_area(f"{i + 1}. {m.get('role', '?')}", value=m.get("content") or "", key=f"edit.{stamp}.m{i}")
                    new.append({**m, "content": text})
                if new != messages:
                    changes["messages"] = new
            else:
                for field in TUPLE_FIELDS:
                    old = rec.get(field) or ""
                    text = st.text_area(field.capitalize(), value=old, key=f"edit.{stamp}.{field}",
                                        height=68 if field in ("system", "input") else 140)
                    if text != old:
                        changes[field] = text
            reason = st.text_input("Why (optional)", value="manual", key=f"edit.{stamp}.reason")
            if st.form_submit_button("Save the edit", type="primary"):
                if not changes:
                    st.info("Nothing changed: edit a field first.")
                else:
                    with shown_errors(f"edit {rid}"):
                        edits.edit(ws, rid, changes, curator=curator(), reason=reason.strip() or "manual")
                        st.toast(f"{rid}: saved ({', '.join(changes)})")
                        st.rerun()
        st.caption("Saving keeps the original: the history lists every version and Revert goes back one. Signals and "
                   "embeddings are recomputed for the new text, and export uses it.")


def bulk_fix_panel(ws, ids: list[str] | None, *, key: str) -> None:
    """Choose a fix, see how many records it changes and a sample (a dry run), then apply it: one versioned edit each."""
    names = list(edits.FIXES)
    a, b = st.columns([2, 3])
    name = a.selectbox("Fix", names, key=f"fix.{key}", help="\n".join(f"{n}: {edits.FIXES[n].description}" for n in names))
    fix = edits.FIXES[name]
    b.caption(show.plain(fix.description))
    value = None
    if getattr(fix, "needs_value", False):
        value = st.text_input("Fill each placeholder with", key=f"fix.{key}.value", placeholder="e.g. Alex")
    scope = list(ids) if ids is not None else None
    target = f"the {len(scope):,} records here" if scope is not None else "every record"
    preview_key = f"fix.{key}.preview.{_digest(name, value, *(scope or []))}"
    if st.button(f"Preview on {target}", key=f"fix.{key}.dry"):
        with shown_errors(f"preview {name}"):
            st.session_state[preview_key] = edits.bulk_fix(ws, name, ids=scope, value=value, curator=curator(), dry_run=True)
    preview = st.session_state.get(preview_key)
    if preview is None:
        st.caption("Preview first: it shows how many records the fix changes and a sample, and changes nothing.")
        return
    st.markdown(f"**{preview['changed']:,}** of {preview['matched']:,} matching records would change.")
    if preview.get("sample"):
        st.dataframe(pd.DataFrame(preview["sample"]).map(lambda v: show.snippet(v, 200) if isinstance(v, str) else v),
                     hide_index=True, width="stretch")
    if st.button(f"Apply {name} to {preview['changed']:,} records", key=f"fix.{key}.apply", type="primary",
                 disabled=not preview["changed"]):
        with shown_errors(f"apply {name}"):
            done = edits.bulk_fix(ws, name, ids=scope, value=value, curator=curator())
            st.session_state.pop(preview_key, None)
            st.toast(f"{name}: {done['changed']:,} record(s) edited")
            st.rerun()
