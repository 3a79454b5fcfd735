"""Personal data on the pages (issue 16): the load toggle, the counts after a load, a record's redactions.

Thin: the detection and the counting are curation.pii's; placeholders and field names are shown as text.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from curation.pii import KINDS, redactions_per_source
from ui import show

HELP = ("Replace e-mail addresses, phone, card and account numbers (IBAN, sort codes), US SSNs, IP addresses and the "
        "person names an offline detector finds with placeholders such as [EMAIL_1] before the records are stored; the "
        "same value gets the same placeholder in the whole file. On by default for external sources (transcripts, "
        "databases): names are found from context and a first-name list, so some are missed (see the README).")


def redact_toggle(key: str, source: str | None) -> bool | None:
    """The "Redact personal data" toggle, on by default when the source is external (or read from the data).

    Returns what `ingest(redact=...)` takes: True, False, or None when the source comes from the data (then the
    records the data marks external are redacted)."""
    auto = source is None
    on = st.toggle("Redact personal data", value=auto or source == "external", key=f"{key}.{source or 'data'}", help=HELP)
    if not on:
        return False
    return None if auto else True


def load_summary(result: dict) -> None:
    """The counts per kind after a load (nothing when the load redacted nothing)."""
    counts = result.get("redactions") or {}
    if not counts or not result.get("added"):  # all already present: nothing was stored, so nothing "redacted before storing"
        return
    parts = ", ".join(f"{n:,} {kind}" for kind, n in sorted(counts.items(), key=lambda kv: KINDS.index(kv[0])
                                                             if kv[0] in KINDS else len(KINDS)))
    calls = (": a call's earlier turns repeat in each of its turn records, and speaker names in the provenance count too"
             if result.get("transcripts") else "")
    st.info(f"Personal data redacted before storing: {show.plain(parts)}. Each is a value replaced by a placeholder "
            f"such as [EMAIL_1], counted in every record and field it appears in{calls}. The Records page shows which "
            "fields of a record were redacted.", icon=":material/shield_person:")


def record_redactions(meta: dict | None) -> None:
    """Which fields of one record were redacted, and of which kinds (placeholders only: the values were never kept)."""
    entries = (meta or {}).get("redactions") if isinstance(meta, dict) else None
    if not isinstance(entries, list) or not entries:
        return
    rows = [e for e in entries if isinstance(e, dict)]
    kinds = sorted({str(e.get("kind")) for e in rows})
    with st.expander(f"Personal data redacted: {len(rows)} ({', '.join(kinds)})", icon=":material/shield_person:"):
        frame = pd.DataFrame([{"field": str(e.get("field", "")), "kind": str(e.get("kind", "")),
                               "placeholder": str(e.get("placeholder", ""))} for e in rows])
        st.dataframe(frame, hide_index=True, width="stretch")


def source_counts(frame: pd.DataFrame, ws=None) -> None:
    """Redactions counted per source file of the records shown (nothing when none had personal data redacted).

    `ws`: the workspace whose records (`ui.data.annotated_records`) `frame` is a part of, its labels kept: the redacted
    records are then found once per records (`ui.data.redacted`), not in every record's meta on each rerun (issue 18)."""
    from ui.data import redacted

    rows = redactions_per_source(frame, None if ws is None else redacted(ws, frame))
    if not rows:
        return
    records = sum(r["records"] for r in rows)
    with st.expander(f"Personal data redacted in {records:,} of these records", icon=":material/shield_person:"):
        st.caption("Per source file: records with any redaction, then how many values of each kind were replaced.")
        st.dataframe(pd.DataFrame(rows).fillna(0), hide_index=True, width="stretch")
