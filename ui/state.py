"""Every session-state key the dashboard uses, with its default, in one place.

Two kinds of keys:

- shared keys (`shared.…`): the canonical value of everything that outlives one page — the workspace, the
  filter, the selected record, each page's options, the last results. No widget owns them, so Streamlit never
  deletes them (it deletes the key of every widget a run does not draw, e.g. after a page switch).
- widget keys (`w.<page>.…`): owned by one widget of one page. A widget showing a shared value is drawn
  with `**bound(key)`: its own key is set from the shared value before it is drawn (when it differs), and its
  on_change copies the value back. The page is part of the key, so the sidebar's widgets of two pages are two
  widgets: one left on the page before never passes for the one drawn now.

    st.text_input("Search text", **state.bound(state.SEARCH))
    state.get(state.SEARCH)  # what every page applies

Defaults that depend on the workspace or on a registry are given where the widget is drawn (`default=`,
`options=`); every other default is here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

CURRENT_PAGE = "shared.page"  # set by ui.layout.page: the page being drawn, part of every bound widget's key

# Shared: the workspace and the filter that Records, Quality and Map apply.
WORKSPACE = "shared.workspace"
DATASETS = "shared.filter.datasets"
SOURCES = "shared.filter.sources"
DECISIONS = "shared.filter.decisions"
SEARCH = "shared.filter.search"
FLAGS = "shared.filter.flags"
# Issue 17: the review filters (curation.query.Filter), set in the Records page's “More filters”.
REASONS = "shared.filter.reasons"  # reason prefixes, e.g. near_duplicate_of
DUP_GROUP_FILTER = "shared.filter.dup_group"  # any / a group number
SELECTION_FILTER = "shared.filter.selection"  # any / selected / margin
EDITED_FILTER = "shared.filter.edited"  # any / edited / not edited
CURATOR_FILTER = "shared.filter.curator"  # any / a curator's name
FILTER = (DATASETS, SOURCES, DECISIONS, SEARCH, FLAGS, REASONS, DUP_GROUP_FILTER, SELECTION_FILTER, EDITED_FILTER, CURATOR_FILTER)

# Shared: the Records page (its pager and the selected record, by id).
PAGE = "shared.records.page"
PAGE_SIZE = "shared.records.page_size"
RECORD = "shared.records.record"
TABLE_VERSION = "shared.records.table_version"  # bumped when the record is chosen elsewhere than in the table

# Shared: each page's options.
QUALITY_FIELD = "shared.quality.field"
QUALITY_UNIT = "shared.quality.unit"
QUALITY_BY = "shared.quality.by"
QUALITY_SHORT = "shared.quality.short"
QUALITY_LONG = "shared.quality.long"
QUALITY_LOG = "shared.quality.log"
QUALITY_SIGNAL = "shared.quality.signal"
QUALITY_THRESHOLD = "shared.quality.threshold"  # + ".<signal>": a threshold tried, not applied yet
QUALITY_UNDECIDED = "shared.quality.undecided"
QUALITY_RECORD = "shared.quality.record"
QUALITY_SAMPLE = "shared.quality.sample"  # records to score with a model ranker
QUALITY_ORDER = "shared.quality.order"  # the Score tab's list: worst or best first
QUALITY_APPLIED = "shared.quality.applied"  # the last threshold applied: signal, old and new value, flagged before

MAP_SEARCH = "shared.map.search"
MAP_COLOR = "shared.map.color"
MAP_DIVERSITY = "shared.map.diversity"

# The Generate page's seeds: the Map page sets them too ("Generate more like this", "Generate more in this cluster").
GENERATE_SEEDS = "shared.generate.seeds"  # one of ui.generate's seed choices
GENERATE_TOPIC = "shared.generate.topic"  # the text whose nearest records are the seeds
GENERATE_CLUSTER = "shared.generate.cluster"  # the map cluster whose records are the seeds

DUP_CROSS = "shared.duplicates.cross"
DUP_GROUP = "shared.duplicates.group"
DUP_OTHER = "shared.duplicates.other"  # + ".<group>"

EXPORT_TEMPLATE = "shared.export.template"
EXPORT_HF_FOLDER = "shared.export.hf_folder"
EXPORT_CUSTOM = "shared.export.custom"
EXPORT_SHAPE = "shared.export.shape"
EXPORT_FORMAT = "shared.export.format"
EXPORT_SPLIT = "shared.export.split"
EXPORT_SEED = "shared.export.seed"
EXPORT_STRATIFY = "shared.export.stratify"
EXPORT_MAX_TOKENS = "shared.export.max_tokens"
EXPORT_TOKENIZER = "shared.export.tokenizer"
EXPORT_OVER = "shared.export.over"
EXPORT_KEPT_ONLY = "shared.export.kept_only"
EXPORT_SIMILARITY = "shared.export.similarity"
EXPORT_STRIP_MARKERS = "shared.export.strip_markers"
EXPORT_OUT = "shared.export.out"
EXPORT_PREVIEW_SEED = "shared.export.preview_seed"  # the preview's random sample; "Another sample" draws the next

# Shared: who decides and edits (issue 17), the review queues and the Map's last action (for its Undo).
CURATOR = "shared.curator"  # "" : the library's default ($CURATION_CURATOR, else the user name)
REVIEW_QUEUES = "shared.review.queues"  # name -> {"ids", "pos", "reason", "skipped", "source"}; replaced, never mutated
REVIEW_QUEUE = "shared.review.current"  # the name of the queue shown
MAP_LAST = "shared.map.last_action"  # {"what", "ids"}: the records the Map's last action changed

LOAD_PATH = "shared.load.path"
LOAD_OPTIONS = "shared.load"  # + ".<upload|path>.<name|source|format>"

# Shared: results shown until replaced.
LAST_INGEST = "shared.load.last_ingest"
PENDING_MAPPING = "shared.load.pending_mapping"
LAST_EXPORT = "shared.export.last"
SELECT_APPLIED = "shared.select.applied"  # the decisions stamp right after Select applied a plan

# Widget keys that belong to no shared value: each starts again from its default.
RECORDS_TABLE = "w.records.table"  # + ".<digest of the rows shown and TABLE_VERSION>"
REASON = "w.records.reason"  # decision_bar adds a digest of the records it decides for
BULK_REASON = "w.records.bulk_reason"
CLEAR_FILTER = "w.clear_filter"  # the button of ui.layout.filter_note

DEFAULTS: dict[str, Any] = {
    WORKSPACE: None,  # None: the CURATION_WORKSPACE / default root
    DATASETS: [],
    SOURCES: [],
    DECISIONS: [],
    SEARCH: "",
    FLAGS: [],
    REASONS: [],
    DUP_GROUP_FILTER: "any",
    SELECTION_FILTER: "any",
    EDITED_FILTER: "any",
    CURATOR_FILTER: "any",
    PAGE: 1,
    PAGE_SIZE: 50,
    RECORD: None,
    TABLE_VERSION: 0,
    QUALITY_FIELD: "output",
    QUALITY_BY: "none",
    QUALITY_SHORT: 20,
    QUALITY_LONG: 500,
    QUALITY_LOG: False,
    QUALITY_UNDECIDED: False,
    QUALITY_SAMPLE: 50,
    QUALITY_ORDER: "worst first",
    MAP_SEARCH: "",
    MAP_DIVERSITY: "by_dataset",
    DUP_CROSS: False,
    EXPORT_HF_FOLDER: "",
    EXPORT_SPLIT: "train=0.9,test=0.1",
    EXPORT_SEED: 0,
    EXPORT_MAX_TOKENS: 0,
    EXPORT_KEPT_ONLY: False,
    EXPORT_SIMILARITY: True,
    EXPORT_STRIP_MARKERS: True,
    EXPORT_PREVIEW_SEED: 0,
    CURATOR: "",
    LOAD_PATH: "",
    LAST_INGEST: None,
    PENDING_MAPPING: None,
    LAST_EXPORT: None,
    SELECT_APPLIED: None,
}


def init() -> None:
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)


def get(key: str, default: Any = None) -> Any:
    """The shared value of `key`: what was set, else its default here, else `default`."""
    value = st.session_state.get(key)
    if value is None:
        value = DEFAULTS.get(key)
    return default if value is None else value


def set(key: str, value: Any) -> None:
    st.session_state[key] = value


def forget(key: str) -> None:
    """Back to the default (e.g. a tried threshold once it is applied)."""
    st.session_state.pop(key, None)


def clear_filter() -> None:
    for key in FILTER:
        st.session_state[key] = DEFAULTS[key]
    st.session_state[PAGE] = 1


def on_page(name: str) -> None:
    st.session_state[CURRENT_PAGE] = name


def widget_key(key: str, page: str | None = None) -> str:
    """The key of the widget that shows the shared `key` on `page` (default: the page being drawn)."""
    return f"w.{page or st.session_state.get(CURRENT_PAGE) or 'app'}.{key.removeprefix('shared.')}"


_UNSET = object()


def _copy_back(widget: str, key: str, then: Callable[[], None] | None) -> None:
    st.session_state[key] = st.session_state[widget]
    if then is not None:
        then()


def bound(key: str, *, default: Any = None, options: Sequence | None = None, then: Callable[[], None] | None = None,
          labels: Sequence[str] | None = None) -> dict:
    """Keyword arguments that bind a widget to the shared `key` (draw it once a run, without value=/index=).

    The widget shows the shared value (pruned to `options` for a multiselect; the first option for a selectbox
    when the value is not one of them, without forgetting it); a change is copied back, then `then` runs.

    `labels`: the option labels shown, where they hold counts ("refusal — 12 flagged"). Streamlit sends a selectbox's
    label to the browser only when its value changes, so after an action the browser would keep showing the old count;
    when the labels change, the widget is set again from the shared value, which sends the label as it is now.
    """
    widget = widget_key(key)
    relabelled = False
    if labels is not None:
        digest = hashlib.sha1("\n".join(map(str, labels)).encode()).hexdigest()
        relabelled = st.session_state.get(f"labels.{widget}") not in (None, digest)
        st.session_state[f"labels.{widget}"] = digest  # no widget owns this key: it outlives the runs
    value = get(key, default)
    if options is not None:
        options = list(options)
        if isinstance(value, (list, tuple)):
            value = [v for v in value if v in options]
        elif value not in options:
            value = options[0] if options else None
    if value is not None and (relabelled or st.session_state.get(widget, _UNSET) != value):  # (re)drawn from the shared value
        st.session_state[widget] = value
    return {"key": widget, "on_change": _copy_back, "args": (widget, key, then)}
