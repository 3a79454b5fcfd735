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
