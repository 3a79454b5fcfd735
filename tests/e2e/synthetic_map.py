"""Synthetic maps for the fast map view's browser test and bench/map_draw.py (issue 18): n points in Gaussian
clusters with labels and short texts, and a workspace whose map is such a one (no embedding, no UMAP)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

WORDS = ("write summarize explain translate list describe compare classify the a poem story code function data "
         "history science recipe email review question answer python list table essay letter").split()


def synthetic(n: int, seed: int = 0, clusters: int = 40) -> pd.DataFrame:
    """n points in `clusters` Gaussian blobs, each with a label, and a short instruction text per point."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(-10, 10, size=(clusters, 2))
    which = rng.integers(0, clusters, n)
    xy = centre[which] + rng.normal(0, 0.8, size=(n, 2))
    words = np.array(WORDS)
    picks = words[rng.integers(0, len(words), size=(n, 9))]
    texts = pd.Series([" ".join(w) for w in picks]) + " #" + pd.Series(np.arange(n)).astype(str)
    labels = np.array([f"{WORDS[i % len(WORDS)]} {WORDS[(i * 7 + 3) % len(WORDS)]}" for i in range(clusters)])
    return pd.DataFrame({"record_id": [f"r{i}" for i in range(n)], "x": xy[:, 0].astype(np.float32),
                         "y": xy[:, 1].astype(np.float32), "cluster": which, "cluster_label": labels[which],
                         "instruction": texts})


def synthetic_workspace(root: Path, n: int, seed: int = 0) -> None:
    """A workspace of n records whose map is synthetic (Gaussian clusters), written where and how the map stage
    writes it (curation.atlas.save under curation.atlas.map_key): the real Map page shows it without UMAP."""
    import json

    from curation.atlas import Atlas, map_key, map_settings, save
    from curation.ingest import ingest
    from curation.store import load_records
    from curation.texts import record_texts
    from curation.workspace import Workspace

    points = synthetic(n, seed)
    root.mkdir(parents=True, exist_ok=True)
    source = root.parent / f"{root.name}-records.jsonl"
    with source.open("w") as f:
        for i, text in enumerate(points["instruction"]):
            f.write(json.dumps({"instruction": f"<b>{text}</b>", "input": "", "output": f"answer {i}"}) + "\n")
    ws = Workspace(root)
    ingest(ws, source, name="synthetic")
    frame = load_records(ws)
    conf = map_settings(ws)
    labels = {int(c): str(label) for c, label in points.groupby("cluster")["cluster_label"].first().items()}
    table = pd.DataFrame({"record_id": frame["record_id"].astype(str).to_numpy(), "x": points["x"], "y": points["y"],
                          "cluster": points["cluster"], "cluster_label": points["cluster_label"],
                          "cluster_confidence": np.float32(0.9), "assigned": False, "placed": False})
    atlas = Atlas(table, labels, {c: [] for c in labels}, {"by_dataset": {}, "by_source": {}}, {},
                  {**conf, "effective": {}}, 0.0, {})
    save(ws, map_key(ws, record_texts(frame, conf["text"]), conf), atlas)
