"""How diverse a set of records is, from its clusters and its embeddings.

- clusters: distinct clusters the records fall in (noise excluded);
- entropy: Shannon entropy of the records' cluster shares, normalised by log(K),
  K = clusters in the whole map (1.0: spread evenly over every cluster);
- effective clusters: exp(entropy), the number of equally sized clusters with
  the same entropy;
- vendi: the Vendi score (Friedman & Dieng, 2023) on a fixed-seed sample of at
  most 1,000 records: exp of the entropy of the eigenvalues of K/n, K the cosine
  similarity matrix — the effective number of distinct records;
- mean cosine distance: average pairwise 1 − cosine similarity on the same sample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SAMPLE = 1000
SEED = 0


def cluster_stats(labels: np.ndarray, total_clusters: int) -> dict:
    kept = labels[labels >= 0]
    if not len(kept) or total_clusters < 1:
        return {"clusters": 0, "entropy": 0.0, "effective_clusters": 0.0}
    shares = np.bincount(kept) / len(kept)
    shares = shares[shares > 0]
    h = float(-(shares * np.log(shares)).sum())
    return {"clusters": int(len(shares)), "entropy": h / np.log(total_clusters) if total_clusters > 1 else 0.0,
            "effective_clusters": float(np.exp(h))}


def vendi(vectors: np.ndarray) -> tuple[float, float]:
    """(Vendi score, mean pairwise cosine distance) on a fixed-seed sample."""
    if len(vectors) < 2:
        return float(len(vectors)), 0.0
    rng = np.random.default_rng(SEED)
    sample = vectors[rng.choice(len(vectors), size=min(SAMPLE, len(vectors)), replace=False)]
    k = sample @ sample.T
    eig = np.clip(np.linalg.eigvalsh(k / len(sample)), 0, None)
    eig = eig[eig > 1e-12]
    score = float(np.exp(-(eig * np.log(eig)).sum()))
    n = len(sample)
    mean_distance = float(1 - (k.sum() - np.trace(k)) / (n * (n - 1)))
    return score, mean_distance


def diversity(frame: pd.DataFrame, vectors: np.ndarray, labels: np.ndarray, by: str) -> dict[str, dict]:
    """Diversity numbers per value of `by` (dataset or source), and for all records."""
    total = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    groups = {"all": np.arange(len(frame))}
    groups.update({str(k): np.flatnonzero(frame[by].to_numpy() == k) for k in sorted(frame[by].dropna().unique())})
    out = {}
    for name, rows in groups.items():
        v, d = vendi(vectors[rows])
        out[name] = {"records": int(len(rows)), **cluster_stats(labels[rows], total), "vendi": v, "mean_cosine_distance": d}
    return out


def representation(labels: np.ndarray) -> dict[int, str]:
    """Clusters holding over twice, or under a quarter of, an even share of the records."""
    kept = labels[labels >= 0]
    if not len(kept):
        return {}
    counts = np.bincount(kept)
    even = len(kept) / len(counts)
    return {int(c): ("over" if n > 2 * even else "under") for c, n in enumerate(counts) if n > 2 * even or 0 < n < even / 4}
