"""The cluster labels written on the Map page's plot."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

LABELS_UP_TO = 15  # cluster labels written on the map: the largest clusters' (60 labels pile up unreadably)


LABEL_GAP = (0.18, 0.05)  # a label is left out when its centre is this close (share of the view, x and y) to a larger one's


def label_annotations(centres: pd.DataFrame, view: tuple[list[float] | None, list[float] | None] = (None, None)) -> list[dict]:
    """The cluster labels, written on the map at each cluster's centre: the largest LABELS_UP_TO clusters, largest first,
    leaving out a label that would sit on a larger cluster's (new-user pass: labels piled up into an unreadable heap).
    `view`: the x and y ranges shown (None: the centres' own)."""
    top = centres.head(LABELS_UP_TO)
    xy = top[["x", "y"]].to_numpy(np.float64)
    spans = [max((r[1] - r[0]) if r else float(np.ptp(xy[:, k])) if len(xy) else 0.0, 1e-9) for k, r in enumerate(view)]
    kept: list[int] = []
    for i in range(len(top)):
        if all(abs(xy[i, 0] - xy[j, 0]) > LABEL_GAP[0] * spans[0] or abs(xy[i, 1] - xy[j, 1]) > LABEL_GAP[1] * spans[1] for j in kept):
            kept.append(i)
    return [dict(x=float(c.x), y=float(c.y), text=html.escape(str(c.label)[:36]), showarrow=False,
                 font=dict(size=11, color="#222"), bgcolor="rgba(255,255,255,0.7)", borderpad=2)
            for c in top.iloc[kept].itertuples()]
