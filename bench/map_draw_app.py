"""The page bench/map_draw.py times: a synthetic map (MAP_DRAW_DATA, a Parquet file) drawn by the fast canvas view or
by the Map page's Plotly figure (MAP_DRAW_VIEW = fast | plotly). Run with `streamlit run bench/map_draw_app.py`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import streamlit as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ui.map_canvas import fast_map  # noqa: E402


@st.cache_resource
def points(path: str) -> pd.DataFrame:
    return pd.read_parquet(path)


@st.cache_resource
def plotly_figure_function():
    """pages/map.py's own `figure` (the page file runs its main at import; take its definitions only)."""
    source = (ROOT / "pages" / "map.py").read_text().replace("layout.run(main)", "")
    space: dict = {"__name__": "map_page_for_bench"}
    exec(compile(source, str(ROOT / "pages" / "map.py"), "exec"), space)
    return space["figure"]


frame = points(os.environ["MAP_DRAW_DATA"])
if os.environ.get("MAP_DRAW_VIEW", "fast") == "plotly":
    st.plotly_chart(plotly_figure_function()(frame, "cluster", None, None), key="map_chart", on_select="rerun",
                    selection_mode=("lasso", "box", "points"))
else:
    ids = fast_map(frame, "cluster")
    st.write(f"{len(ids):,} selected")
