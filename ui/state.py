"""Every session-state key the dashboard uses, with its default, in one place."""

from __future__ import annotations

import streamlit as st

WORKSPACE = "workspace_root"
DATASETS = "filter_datasets"
SOURCES = "filter_sources"
DECISIONS = "filter_decisions"
SEARCH = "filter_search"
FLAGS = "filter_flags"
PAGE = "records_page"
PAGE_SIZE = "records_page_size"
RECORD = "record_choice"
REASON = "decision_reason"
BULK_REASON = "bulk_reason"
LAST_INGEST = "last_ingest"
PENDING_MAPPING = "pending_mapping"
LAST_EXPORT = "last_export"

DEFAULTS = {
    DATASETS: [],
    SOURCES: [],
    DECISIONS: [],
    SEARCH: "",
    FLAGS: [],
    PAGE: 1,
    PAGE_SIZE: 50,
    RECORD: None,
    REASON: "manual",
    BULK_REASON: "manual",
    LAST_INGEST: None,
    PENDING_MAPPING: None,
    LAST_EXPORT: None,
}


def init() -> None:
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)
