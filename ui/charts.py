"""Figures the pages draw from library results (no computation beyond laying out what the library returned)."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

OVERLAP_NOTE = ("Each cell: records flagged by both the row's and the column's signal. The diagonal (a signal with itself) "
                "is left blank — each signal's own count is in its label — so the colours compare the pairs; blank "
                "cells: no record carries both. Signals that flag nothing here are left out.")


def overlap_figure(matrix: pd.DataFrame) -> go.Figure:
    """The heatmap of `curation.signals.report.overlaps`: pairs coloured on their own scale (the diagonal, often 100×
    any pair, would swamp it), counts written in the cells, each signal's total in its label."""
    totals = pd.Series([matrix.iat[i, i] for i in range(len(matrix))], index=matrix.index)
    keep = [c for c in matrix.index if totals[c] > 0]
    m = matrix.loc[keep, keep]
    labels = [f"{html.escape(str(c))} ({int(totals[c]):,})" for c in keep]  # Plotly reads tags in labels
    z = [[None if i == j else int(m.iat[i, j]) for j in range(len(keep))] for i in range(len(keep))]
    text = [["" if i == j or not m.iat[i, j] else f"{int(m.iat[i, j]):,}" for j in range(len(keep))] for i in range(len(keep))]
    pairs = [v for i, row in enumerate(z) for j, v in enumerate(row) if i != j]
    top = max(pairs, default=0) or 1
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, text=text, texttemplate="%{text}", textfont=dict(size=13), zmin=0, zmax=top,
        colorscale="Blues", xgap=1, ygap=1, colorbar=dict(title="both"), hoverongaps=False,
        hovertemplate="%{y} and %{x}: %{z:,} records flagged by both<extra></extra>"))
    fig.update_layout(title="Records flagged by both", font=dict(size=12), height=max(360, 120 + 34 * len(keep)),
                      margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white",
                      xaxis=dict(tickangle=-40, showgrid=False), yaxis=dict(autorange="reversed", showgrid=False))
    return fig


def binned_histogram(frame: pd.DataFrame, column: str, group: str | None = None, *, nbins: int = 60, log: bool = False,
                     percent: bool = False, opacity: float = 0.75) -> go.Figure:
    """A histogram of `column` (one overlaid trace per value of `group`), binned here: the browser receives a count per
    bin, not every value (issue 18: at 1M records `px.histogram` sent a million numbers per trace as JSON). Every trace
    shares the bins: `nbins` equal bins from the column's lowest to its highest value. `percent`: each trace's counts as
    a share of its own records."""
    import numpy as np

    values = pd.to_numeric(frame[column], errors="coerce")
    present = values.notna().to_numpy()
    lo, hi = (float(values.min()), float(values.max())) if present.any() else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, nbins + 1)
    labels = frame[group].astype(str) if group else pd.Series("", index=frame.index)
    fig = go.Figure()
    for name in pd.unique(labels[present]):
        mine = present & (labels == name).to_numpy()
        counts, _ = np.histogram(values.to_numpy()[mine], bins=edges)
        y = counts / max(int(mine.sum()), 1) * 100 if percent else counts
        fig.add_trace(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=y, width=float(edges[1] - edges[0]), name=str(name),
                             opacity=opacity, showlegend=group is not None))
    fig.update_layout(barmode="overlay", bargap=0, xaxis_title=column, yaxis_title="percent" if percent else "records")
    if log:  # a label at each power of ten only: Plotly's default shortens 20 and 50 to "2" and "5"
        fig.update_yaxes(type="log", dtick=1)
    return fig
