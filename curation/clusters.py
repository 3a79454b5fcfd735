"""Clusters of records that cover the data: k-means on the embeddings (the default)
or HDBSCAN on the 2-D map, then every record left out (HDBSCAN's noise) is
assigned to its nearest cluster and marked as such. Each cluster is labelled by
its distinctive words (class-based TF-IDF) drawn from its representative records,
so a label never names what its examples do not say.

Why k-means by default: on a mix of four real families (GSM8K, GPTeacher
role-play, t0 ag_news prompts, Alpaca; bench/map_families.py) HDBSCAN on the map
swung between 2 and 30 clusters with the sample and left up to 45% unclustered;
k-means with the automatic k kept homogeneity at 0.80-0.81 on every sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from curation import names
from curation.errors import Phrased

NOISE = -1
NEIGHBOURS = 10  # map neighbours that vote on a noise record's cluster
LOW_CONFIDENCE = 0.05  # below this (own centre barely nearer than the next), a record is marked `assigned`


def default_k(n: int) -> int:
    return max(2, min(60, round(math.sqrt(n / 2))))


def default_min_size(n: int) -> int:
    return max(5, round(math.sqrt(n) / 2))


def effective(method: str, n: int, k: int | None, min_size: int | None) -> dict:
    """The parameter a method really uses for n records ({'k': …} or {'min_size': …}): the setting, or its automatic value."""
    if method == "kmeans":
        return {"k": min(k or default_k(n), max(n, 1))}
    return {"min_size": min(min_size or default_min_size(n), max(n, 1))}


def hdbscan_labels(vectors: np.ndarray, xy: np.ndarray, k: int | None, min_size: int | None, seed: int) -> np.ndarray:
    from sklearn.cluster import HDBSCAN

    size = effective("hdbscan", len(xy), k, min_size)["min_size"]
    # min_samples below the cluster size: the default (equal to it) leaves most of a large map as noise.
    return HDBSCAN(min_cluster_size=size, min_samples=min(10, size), copy=True).fit_predict(xy).astype(np.int64)


START_SAMPLE = 5_000  # k-means++ starts from at most this many records (a fixed-seed sample), then Lloyd runs on all
FIT_AT_MOST = 100_000  # issue 18: Lloyd refines on at most this many records (a fixed-seed sample); the rest are assigned


def kmeans_labels(vectors: np.ndarray, xy: np.ndarray, k: int | None, min_size: int | None, seed: int) -> np.ndarray:
    """scikit-learn's k-means on the unit vectors (Euclidean distance between unit vectors orders pairs as cosine does;
    faiss's spherical k-means, used before, scored below it on the same vectors). Best of 4 k-means++ starts; on more
    than START_SAMPLE records the starts are fitted on a sample and refined on all records (55k t0 records: 9.5 s
    instead of 43 s for one start on all, inertia 0.04% higher). Past FIT_AT_MOST records (issue 18) Lloyd refines on
    a fixed-seed sample of that many, as UMAP fits one, and every record then joins its nearest centre: one pass over a
    million records instead of one per Lloyd iteration; maps of up to FIT_AT_MOST records are unchanged."""
    from sklearn.cluster import KMeans

    x = np.asarray(vectors, dtype=np.float32)
    k = effective("kmeans", len(x), k, min_size)["k"]
    rows = np.arange(len(x))
    if len(x) > START_SAMPLE:
        rows = np.sort(np.random.default_rng(seed).choice(len(x), START_SAMPLE, replace=False))
    start = KMeans(k, n_init=4, random_state=seed).fit(x[rows])
    if len(rows) == len(x):
        return start.labels_.astype(np.int64)
    refine = KMeans(k, init=start.cluster_centers_, n_init=1, random_state=seed)
    if len(x) <= FIT_AT_MOST:
        return refine.fit_predict(x).astype(np.int64)
    fit = np.sort(np.random.default_rng(seed + 1).choice(len(x), FIT_AT_MOST, replace=False))
    return refine.fit(x[fit]).predict(x).astype(np.int64)


@dataclass(frozen=True)
class Clustering:
    """A clustering method: `labels(vectors, xy, k, min_size, seed)` gives a cluster id per record (-1: noise)."""

    name: str
    description: str
    labels: Callable[..., np.ndarray]


METHODS: dict[str, Clustering] = names.registry(names.CLUSTERINGS, (
    Clustering("hdbscan", Phrased(
        "HDBSCAN on the 2-D map: finds the number of clusters; records it leaves out are assigned to their nearest cluster "
        "and marked (--min-size; default from the number of records)",
        "HDBSCAN on the 2-D map: finds the number of clusters; records it leaves out are assigned to their nearest cluster "
        "and marked (Smallest cluster; default from the number of records)"), hdbscan_labels),
    Clustering("kmeans", Phrased("k-means on the embeddings (the default): k clusters (--k; default from the number of records)",
                                 "k-means on the embeddings (the default): k clusters (k; default from the number of records)"),
               kmeans_labels),
))
DEFAULT_METHOD = "kmeans"


def cluster(vectors: np.ndarray, xy: np.ndarray, method: str = DEFAULT_METHOD, k: int | None = None,
            min_size: int | None = None, seed: int = 0) -> np.ndarray:
    """The method's own cluster id per record (-1: noise, HDBSCAN only); `cover` then assigns the noise."""
    n = len(vectors)
    if n < 3:
        return np.zeros(n, dtype=np.int64)
    return names.lookup(METHODS, method, "clustering method").labels(vectors, xy, k, min_size, seed)


def cover(vectors: np.ndarray, xy: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, confidence, assigned) with every record in a cluster.

    - each noise record joins the cluster most common among its NEIGHBOURS nearest clustered records on the map;
    - confidence: how much nearer a record is to its own cluster's centre than to the next one, in embedding space
      ((cosine distance to the next centre − to its own) / the larger; 1: at its own centre, 0: halfway between
      two, below 0: nearer another centre; 1 when there is one cluster);
    - assigned: records that were noise, or whose confidence is below LOW_CONFIDENCE.
    """
    from sklearn.neighbors import NearestNeighbors

    labels = np.asarray(labels, dtype=np.int64).copy()
    n = len(labels)
    noise = labels == NOISE
    if noise.all():  # nothing was clustered (or no records): one cluster, held with no confidence
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.float32), np.ones(n, dtype=bool)
    if noise.any():
        clustered = np.flatnonzero(~noise)
        nn = NearestNeighbors(n_neighbors=min(NEIGHBOURS, len(clustered))).fit(xy[clustered])
        _, near = nn.kneighbors(xy[noise])
        labels[noise] = [np.bincount(row).argmax() for row in labels[clustered][near]]
    ids, labels = np.unique(labels, return_inverse=True)  # ids 0..K-1, in the method's order
    labels = labels.astype(np.int64)
    sure = confidence(vectors, labels, labels)
    return labels, sure, noise | (sure < LOW_CONFIDENCE)


def confidence(vectors: np.ndarray, labels: np.ndarray, fitted: np.ndarray, fitted_vectors: np.ndarray | None = None) -> np.ndarray:
    """How much nearer each record is to its own cluster's centre than to the next one (cosine distance: (next − own)
    / the larger). The centres are those of the fitted records (`fitted_vectors` with their `fitted` labels; default
    the records themselves); 1 where there is a single cluster."""
    fitted_vectors = vectors if fitted_vectors is None else fitted_vectors
    ids = np.unique(fitted)
    if len(ids) < 2:
        return np.ones(len(labels), dtype=np.float32)
    centres = np.stack([fitted_vectors[fitted == c].mean(axis=0) for c in ids])
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    distance = 1 - vectors @ centres.T
    rows = np.arange(len(labels))
    column = np.searchsorted(ids, labels)
    own = distance[rows, column].copy()
    distance[rows, column] = np.inf
    other = distance.min(axis=1)
    return ((other - own) / np.maximum(np.maximum(other, own), 1e-12)).astype(np.float32)


TOKENS = r"(?u)\b[a-zA-Z][a-zA-Z]{2,}\b"


def cluster_rows(labels: np.ndarray, ids: list[int]) -> list[np.ndarray]:
    """Each cluster's rows, ascending (one sort of the labels, not one pass over every record per cluster)."""
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], ids, side="left")
    ends = np.searchsorted(labels[order], ids, side="right")
    return [order[lo:hi] for lo, hi in zip(starts, ends)]


def cluster_text(texts, rows: np.ndarray) -> str:
    """A cluster's texts joined by spaces, made `texts.SLICE` records at a time (no list of a large cluster's texts)."""
    from curation import texts as text_module

    size = text_module.SLICE
    return " ".join(" ".join(texts.at(rows[lo : lo + size])) for lo in range(0, len(rows), size))


def label_clusters(texts, labels: np.ndarray, reps: dict[int, list[int]] | None = None,
                   words: int = 3) -> dict[int, str]:
    """A readable label per cluster: its most distinctive words (class-based TF-IDF), each one a word that occurs in
    the cluster's representative records (`reps`: row indices per cluster; default: every member may vouch).

    `texts`: a list, or a `curation.texts.FrameTexts` (issue 18: a million records' texts are made one cluster at a
    time, each cluster's text joined and counted before the next is made)."""
    from sklearn.feature_extraction.text import CountVectorizer

    from curation.texts import as_texts

    texts = as_texts(texts)
    ids = sorted(int(c) for c in set(labels.tolist()) if c != NOISE)
    if not ids:
        return {}
    members = cluster_rows(labels, ids)
    docs = (cluster_text(texts, rows) for rows in members)  # read once by CountVectorizer, one cluster at a time
    try:
        vec = CountVectorizer(stop_words="english", token_pattern=TOKENS, max_features=50_000)
        counts = vec.fit_transform(docs).astype(np.float64)
    except ValueError:  # no words at all
        return {c: f"cluster {c}" for c in ids}
    vocab = np.array(vec.get_feature_names_out())
    column = {w: i for i, w in enumerate(vocab)}
    analyse = vec.build_analyzer()
    tf = counts.multiply(1 / np.maximum(counts.sum(axis=1), 1)).tocsr()
    avg_words = counts.sum() / len(ids)
    idf = np.log(1 + avg_words / np.maximum(np.asarray(counts.sum(axis=0)).ravel(), 1))
    scores = tf.multiply(idf).tocsr()
    out = {}
    for row, c in enumerate(ids):
        r = scores.getrow(row).toarray().ravel()
        # How many representatives hold each word: a label word must occur in one at least, more is better.
        held = np.zeros(len(vocab))
        for text in texts.at((reps or {}).get(c, members[row])):
            for w in set(analyse(text)):
                if w in column:
                    held[column[w]] += 1
        r = r * held
        top = [vocab[i] for i in np.argsort(-r)[:words] if r[i] > 0]
        out[c] = " · ".join(top) if top else f"cluster {c}"
    return out


def representatives(vectors: np.ndarray, labels: np.ndarray, n: int = 5, confident: np.ndarray | None = None) -> dict[int, list[int]]:
    """Row indices of the records nearest each cluster's centroid (from its confidently clustered records, if any)."""
    out = {}
    for c in sorted(int(x) for x in set(labels.tolist()) if x != NOISE):
        rows = np.flatnonzero(labels == c)
        if confident is not None and confident[rows].any():
            rows = rows[confident[rows]]
        centroid = vectors[rows].mean(axis=0)
        out[c] = rows[np.argsort(-(vectors[rows] @ centroid))[:n]].tolist()
    return out
