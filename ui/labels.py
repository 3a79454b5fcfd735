"""Dropdown labels that change with the data (a count, a decision) shown fresh in the browser.

Streamlit sends a selectbox's label to the browser only when it sets the widget's value; when only the label of the
chosen option changes (its count after a decision, its decision after a click), the browser keeps showing the old
one. Setting the widget again to its own value, before it is drawn, makes Streamlit send the label as it is now.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import streamlit as st


def relabelled(widget: str, labels: Sequence[str]) -> bool:
    """Whether the labels of the widget keyed `widget` changed since the run before (kept under a key no widget owns)."""
    digest = hashlib.sha1("\n".join(map(str, labels)).encode()).hexdigest()
    kept = f"labels.{widget}"
    changed = st.session_state.get(kept) not in (None, digest)
    st.session_state[kept] = digest
    return changed


def fresh_labels(widget: str, labels: Sequence[str]) -> None:
    """Call before drawing the selectbox keyed `widget` with these option labels: when they changed, it is set again to
    its value, so the browser shows the chosen option's label as it is now."""
    if relabelled(widget, labels) and widget in st.session_state:
        st.session_state[widget] = st.session_state[widget]
