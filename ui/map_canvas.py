"""The Map page's fast view (issue 18): points travel to the browser as binary arrays and are drawn on a canvas.

Plotly sends every point as JSON (about 5 s for 55k points); this view sends float32/uint16 arrays and UTF-8
hover texts in one component message (`curation.atlas_points.pack`) and draws them with a small script in
`ui/map_canvas/` (no library, no network). Pan, zoom, hover (the record's text, as text), lasso and box selection;
the selection comes back as record ids for the page's usual keep / reject actions.

Why not Apple's embedding-atlas component: its Streamlit build loads DuckDB-WASM from cdn.jsdelivr.net at run
time, which an offline machine cannot reach (see bench/RESULTS.md, "Map drawing").
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from curation.atlas_points import fingerprint, hover_texts, pack, selection, text_width
from curation.signals import SIGNALS

# Maps with at least this many points use the fast view; smaller ones keep Plotly (its legend toggles, fading of
# unchosen clusters, ○/◇ marks). Measured (bench/map_draw.py, bench/RESULTS.md "Map drawing", a loaded 2-core
# machine): Plotly 5.6 s at 20k and 4.5–10.6 s at 55k; the canvas 0.9 s at 20k, 1.2–2.0 s at 55k, 6.5 s at 1M.
FAST_VIEW_FROM = 20_000

_component = components.declare_component("map_canvas", path=str(Path(__file__).parent / "map_canvas"))

CONTINUOUS = {"quality": "quality", "output length": "output_tokens", "cluster confidence": "cluster_confidence"}


def use_fast_view(n: int) -> bool:
    return n >= FAST_VIEW_FROM


def why(n: int) -> str:
    """One line for the page: which view draws the map and why."""
    if use_fast_view(n):
        return (f"Fast view: {n:,} points (≥ {FAST_VIEW_FROM:,}) travel as binary arrays and are drawn on a canvas. "
                "Drag to pan, wheel to zoom, hover for the text; Lasso or Box selects records for the actions below.")
    return (f"Plotly view: {n:,} points (below {FAST_VIEW_FROM:,}: Plotly's legend and marks; bigger maps use the "
            "faster canvas view). Drag a lasso to select; double-click shows every point.")


def colour_column(frame: pd.DataFrame, color: str) -> tuple[pd.Series, bool]:
    """The column a 'Colour by' choice colours by, and whether it is continuous (the same choices as the Plotly view)."""
    if color in CONTINUOUS:
        return frame[CONTINUOUS[color]], True
    if color.startswith("flag: "):
        name = next(n for n, s in SIGNALS.items() if s.reason == color[6:])
        return frame[f"flag__{name}"].map({True: "flagged", False: "not flagged"}).astype(str), False
    return frame["cluster_label" if color == "cluster" else color].astype(str), False


def fast_map(frame: pd.DataFrame, color: str, found: pd.DataFrame | None = None, centres: pd.DataFrame | None = None,
             *, key: str = "map_canvas", labels_up_to: int = 15, height: int = 620) -> list[str]:
    """Draw the map; the record ids selected on it (lasso or box), [] when none."""
    values, continuous = colour_column(frame, color)
    found_rows = [int(r) for r in found.index] if found is not None and len(found) else []
    width = text_width(len(frame))
    hover = _hover_texts(fingerprint(frame["instruction"]), width, frame["instruction"])
    packed = pack(frame, values, continuous=continuous, labels=None if centres is None else centres.head(labels_up_to),
                  found_rows=found_rows, height=height, hover=hover)
    value = _component(**served(packed, key), key=key, default=None)
    return selection(value, frame, packed.stamp)


@st.cache_resource(max_entries=2, show_spinner=False)
def _hover_texts(key: str, width: int, _texts: pd.Series) -> tuple[bytes, bytes]:
    """The hover texts, cached by the text column's content key: the slowest part of packing a big map (~0.6 s for 1M)."""
    return hover_texts(_texts, width)


def served(packed, key: str) -> dict:
    """The component's args: the binary parts as two files Streamlit serves over HTTP (its media files, as st.image's
    pictures), the page's message carrying only their URLs. The browser draws once the points file (x, y, colours:
    ~10 bytes a point) is in and fetches the hover texts after. Measured: 1M points inside the message took ~12 s to
    reach the canvas. Without a running server (AppTest) the bytes go inline."""
    from streamlit import runtime

    if not runtime.exists():
        return packed.args
    manager = runtime.get_instance().media_file_mgr
    rest = {k: v for k, v in packed.args.items() if not isinstance(v, bytes)}
    for part, names in (("points", ("x", "y", "codes")), ("texts", ("texts", "offsets"))):
        blob, layout = packed.blob(names)
        rest[f"{part}_url"] = manager.add(blob, "application/octet-stream", f"map_canvas|{key}|{part}")
        rest[f"{part}_layout"] = layout
    return rest
