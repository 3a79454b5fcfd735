"""The pieces of `manifest.json`: hashes, versions, counts and the train/test similarity check."""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

PACKAGES = ("pandas", "pyarrow", "orjson", "jinja2", "datasets", "tiktoken", "faiss-cpu", "sentence-transformers", "streamlit")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_lines(lines) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(str(line).encode())
        h.update(b"\n")
    return h.hexdigest()


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def decisions_snapshot(ws) -> dict:
    """The hash of every current decision (record, decision, reason), with counts: enough to tell whether they changed."""
    rows = sorted(ws.query("SELECT record_id, decision, reason FROM state"))
    counts: dict[str, int] = {}
    for _, decision, _ in rows:
        counts[decision] = counts.get(decision, 0) + 1
    return {"sha256": sha256_lines("\x1f".join(map(str, r)) for r in rows), "counts": counts}


def breakdown(frame: pd.DataFrame, split: pd.Series) -> dict:
    """Per split: total and counts by source, dataset and cluster (when the map is there)."""
    out = {}
    for name, part in frame.groupby(split, sort=True):
        entry = {"total": len(part)}
        for column in ("source", "dataset", "cluster_label"):
            if column in part and part[column].notna().any():
                entry[f"by_{column.replace('_label', '')}"] = {str(k): int(v) for k, v in part[column].value_counts().sort_index().items()}
        if "cluster_label" in part and part["cluster_label"].notna().any():
            nested: dict[str, dict[str, int]] = {}
            for (source, cluster), n in part.groupby(["source", "cluster_label"]).size().items():
                nested.setdefault(str(source), {})[str(cluster)] = int(n)
            entry["by_source_cluster"] = nested
        out[str(name)] = entry
    return out


SIMILARITY_CELLS = 32 * 2**20  # similarities held at once (128 MB of float32)


EXACT_CELLS = 4_000_000_000  # train × other comparisons up to which the check is exact (~15 s of BLAS on 2 cores)
RECALL_SAMPLE = 500  # records of the other split whose nearest train record is also found exactly, to measure the index


def highest_similarity(train: np.ndarray, other: np.ndarray, exact_cells: int = EXACT_CELLS, seed: int = 0,
                       threads=None) -> dict:
    """The highest cosine similarity between a record of `other` and one of `train`: `max_similarity`'s exact answer
    while the two are small enough (`exact_cells` comparisons), else the nearest train record of each other record in a
    faiss IVF index of the train records (issue 18: at 1M records the exact check is 9·10¹⁰ comparisons, ~5–6 min
    here; bench/leakage_ivf.py measures both).

    Returns {max_similarity, row, train_row, method} and, for the index, `recall`: the share of a sample of `other`'s
    records whose nearest train record the index found with its exact similarity (a miss can only lower the value).
    `threads`: `ivf_search`'s."""
    if len(train) * len(other) <= exact_cells:
        best, r, c = max_similarity(train, other)
        return {"max_similarity": best, "row": r, "train_row": c, "method": "exact"}
    from curation.dedup.neighbours import ivf_index, ivf_search
    from curation.select_strategies import max_similarity as each_highest

    train, other = (np.ascontiguousarray(v, dtype=np.float32) for v in (train, other))
    index = ivf_index(train)
    sims, cols = ivf_search(other, index, 1, threads=threads)
    sims, cols = sims[:, 0], cols[:, 0]
    r = int(np.argmax(sims))
    sample = np.sort(np.random.default_rng(seed).choice(len(other), min(RECALL_SAMPLE, len(other)), replace=False))
    truth = each_highest(other[sample], train)
    recall = float(np.mean(sims[sample] >= truth - 1e-5))
    return {"max_similarity": float(sims[r]), "row": r, "train_row": int(cols[r]),
            "method": f"faiss IVF ({index.nlist} lists, nprobe {index.nprobe})", "recall": round(recall, 4)}


def max_similarity(train: np.ndarray, other: np.ndarray, block: int = 2048) -> tuple[float, int, int]:
    """Highest cosine similarity between any row of `other` and any row of `train`, with the two rows (the first of
    equals, in row order). Compared a block of both at a time: a block of `other` against all of a million train
    records held 7 GB of similarities (issue 18: a 1M export passed 20 GB)."""
    best, where = -1.0, (-1, -1)
    width = max(1, SIMILARITY_CELLS // max(block, 1))
    for lo in range(0, len(other), block):
        for start in range(0, len(train), width):
            sims = other[lo : lo + block] @ train[start : start + width].T
            flat = int(np.argmax(sims))
            r, c = divmod(flat, sims.shape[1])
            if sims[r, c] > best or (sims[r, c] == best and (lo + r, start + c) < where):
                best, where = float(sims[r, c]), (lo + r, start + c)
    return best, where[0], where[1]
