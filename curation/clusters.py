"""Clusters of records: HDBSCAN on the 2-D UMAP map or k-means on the embeddings,
each labelled by its distinctive words (class-based TF-IDF) with a few
representative records."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from curation import names

NOISE = -1


def default_k(n: int) -> int:
    return max(2, min(60, round(math.sqrt(n / 2))))


def default_min_size(n: int) -> int:
    return max(5, round(math.sqrt(n) / 2))


def hdbscan_labels(vectors: np.ndarray, xy: np.ndarray, k: int | None, min_size: int | None, seed: int) -> np.ndarray:
    from sklearn.cluster import HDBSCAN

    n = len(xy)
    size = min(min_size or default_min_size(n), n)
    # min_samples below the cluster size: the default (equal to it) leaves most of a large map as noise.
    return HDBSCAN(min_cluster_size=size, min_samples=min(10, size), copy=True).fit_predict(xy).astype(np.int64)


def kmeans_labels(vectors: np.ndarray, xy: np.ndarray, k: int | None, min_size: int | None, seed: int) -> np.ndarray:
    import faiss

    n = len(vectors)
    k = min(k or default_k(n), n)
    km = faiss.Kmeans(vectors.shape[1], k, niter=25, seed=seed, spherical=True, verbose=False)
    km.train(np.ascontiguousarray(vectors, dtype=np.float32))
    _, assigned = km.index.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)
    return assigned[:, 0].astype(np.int64)


@dataclass(frozen=True)
class Clustering:
    """A clustering method: `labels(vectors, xy, k, min_size, seed)` gives a cluster id per record (-1: noise)."""

    name: str
    description: str
    labels: Callable[..., np.ndarray]


METHODS: dict[str, Clustering] = names.registry(names.CLUSTERINGS, (
    Clustering("hdbscan", "HDBSCAN on the 2-D map: finds the number of clusters and leaves outliers unclustered (noise)",
               hdbscan_labels),
    Clustering("kmeans", "spherical k-means (faiss) on the embeddings: k clusters (--k; default from the number of records)",
               kmeans_labels),
))


def cluster(vectors: np.ndarray, xy: np.ndarray, method: str = "hdbscan", k: int | None = None,
            min_size: int | None = None, seed: int = 0) -> np.ndarray:
    """A cluster id per record (-1: noise, HDBSCAN only)."""
    n = len(vectors)
    if n < 3:
        return np.zeros(n, dtype=np.int64)
    return names.lookup(METHODS, method, "clustering method").labels(vectors, xy, k, min_size, seed)


def label_clusters(texts: list[str], labels: np.ndarray, words: int = 3) -> dict[int, str]:
    """A readable label per cluster: its most distinctive words by class-based TF-IDF."""
    from sklearn.feature_extraction.text import CountVectorizer

    ids = sorted(int(c) for c in set(labels.tolist()) if c != NOISE)
    if not ids:
        return {}
    docs = [" ".join(t for t, lab in zip(texts, labels) if lab == c) for c in ids]
    try:
        vec = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z]{2,}\b", max_features=50_000)
        counts = vec.fit_transform(docs).astype(np.float64)
    except ValueError:  # no words at all
        return {c: f"cluster {c}" for c in ids}
    vocab = np.array(vec.get_feature_names_out())
    tf = counts.multiply(1 / np.maximum(counts.sum(axis=1), 1)).tocsr()
    avg_words = counts.sum() / len(ids)
    idf = np.log(1 + avg_words / np.maximum(np.asarray(counts.sum(axis=0)).ravel(), 1))
    scores = tf.multiply(idf).tocsr()
    out = {}
    for row, c in enumerate(ids):
        r = scores.getrow(row).toarray().ravel()
        top = [vocab[i] for i in np.argsort(-r)[:words] if r[i] > 0]
        out[c] = " · ".join(top) if top else f"cluster {c}"
    return out


def representatives(vectors: np.ndarray, labels: np.ndarray, n: int = 3) -> dict[int, list[int]]:
    """Row indices of the records nearest each cluster's centroid."""
    out = {}
    for c in sorted(int(x) for x in set(labels.tolist()) if x != NOISE):
        rows = np.flatnonzero(labels == c)
        centroid = vectors[rows].mean(axis=0)
        out[c] = rows[np.argsort(-(vectors[rows] @ centroid))[:n]].tolist()
    return out
