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

They measure different things, so they can disagree: entropy and effective
clusters count how records spread over the map's topics (clusters, fitted on
all records together); Vendi counts how distinct the records are from one
another, topic or not, and grows with the number of records it is measured on.
A set of varied records on few topics (Alpaca's one-off tasks, say) has a high
Vendi score but a low entropy. `agreement` says in words where the per-group
numbers agree and where, and why, they do not.
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


def vendi(vectors: np.ndarray, rows: np.ndarray | None = None) -> tuple[float, float]:
    """(Vendi score, mean pairwise cosine distance) on a fixed-seed sample of the vectors (of `rows` of them: the
    sample is drawn from the row numbers, so a million records' vectors are not copied to sample a thousand)."""
    rows = np.arange(len(vectors)) if rows is None else np.asarray(rows)
    if len(rows) < 2:
        return float(len(rows)), 0.0
    rng = np.random.default_rng(SEED)
    sample = vectors[rows[rng.choice(len(rows), size=min(SAMPLE, len(rows)), replace=False)]]
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
        v, d = vendi(vectors, rows)
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


def apart(a: float, b: float) -> bool:
    """Do two values differ by more than 10% of the larger?"""
    return abs(a - b) > 0.1 * max(abs(a), abs(b))


def agreement(stats: dict[str, dict]) -> list[str]:
    """Plain sentences on whether the groups (every key but "all") rank the same by effective clusters and by Vendi
    (values within 10% count as equal), and for each pair that does not, why."""
    groups = {k: v for k, v in stats.items() if k != "all" and v.get("records", 0) >= 2}
    if len(groups) < 2:
        return []
    out = []
    names = sorted(groups)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            x, y = groups[a], groups[b]
            if not (apart(x["effective_clusters"], y["effective_clusters"]) and apart(x["vendi"], y["vendi"])):
                continue  # within 10% on either measure: no real disagreement
            if (x["effective_clusters"] - y["effective_clusters"]) * (x["vendi"] - y["vendi"]) > 0:
                continue
            topics, varied = (a, b) if x["effective_clusters"] > y["effective_clusters"] else (b, a)
            t, v = groups[topics], groups[varied]
            line = (f"{varied} has the higher Vendi score ({v['vendi']:.1f} against {t['vendi']:.1f}) but fewer effective "
                    f"clusters ({v['effective_clusters']:.1f} against {t['effective_clusters']:.1f}) than {topics}: its records "
                    f"differ more from one another, but on fewer of the map's topics.")
            sizes = sorted((min(SAMPLE, t["records"]), min(SAMPLE, v["records"])))
            if sizes[1] > 1.5 * sizes[0]:
                line += (f" Vendi was measured on {min(SAMPLE, v['records']):,} and {min(SAMPLE, t['records']):,} records, "
                         "and it grows with the count.")
            out.append(line)
    if not out:
        ranked = sorted(groups, key=lambda g: -groups[g]["vendi"])
        out.append(f"The measures agree: {', '.join(ranked)} rank the same by Vendi score and by effective clusters "
                   "(values within 10% count as equal).")
    return out
