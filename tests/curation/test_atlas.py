"""Clusters, labels, diversity, and the whole map on the real model and demo data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from curation.atlas import build, cached_atlas, load, nearest, save_settings
from curation.clusters import cluster, label_clusters, representatives
from curation.demo import load_demo
from curation.diversity import cluster_stats, diversity, representation, vendi
from curation.store import load_records


def blobs(n_per=30, k=3, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, dim)) * 5
    x = np.vstack([c + rng.normal(scale=0.3, size=(n_per, dim)) for c in centers]).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(k), n_per)


def test_kmeans_and_hdbscan_find_separated_groups():
    from sklearn.metrics import adjusted_rand_score

    x, truth = blobs()
    assert adjusted_rand_score(truth, cluster(x, x[:, :2], "kmeans", k=3)) == 1.0
    assert adjusted_rand_score(truth, cluster(x, x[:, :2] * 10, "hdbscan", min_size=5)) > 0.9


def test_labels_are_the_distinctive_words():
    texts = ["bake bread oven flour", "bread dough oven", "planet orbit star", "star telescope planet"]
    labels = label_clusters(texts, np.array([0, 0, 1, 1]), words=2)
    assert set(labels[0].split(" · ")) <= {"bread", "oven", "bake", "flour", "dough"} and "planet" in labels[1] + "star"
    assert "planet" in labels[1] or "star" in labels[1]


def test_representatives_are_nearest_the_centroid():
    x = np.array([[1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # embeddings are unit vectors
    assert representatives(x, np.array([0, 0, 0]), n=1)[0] == [1]


def test_diversity_numbers():
    even = cluster_stats(np.array([0, 1, 2, 3] * 5), total_clusters=4)
    one = cluster_stats(np.array([0] * 20), total_clusters=4)
    assert even["entropy"] == pytest.approx(1.0) and even["effective_clusters"] == pytest.approx(4.0)
    assert one["entropy"] == 0 and one["effective_clusters"] == pytest.approx(1.0)
    same = np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (10, 1))
    assert vendi(same)[0] == pytest.approx(1.0, abs=1e-3)
    assert vendi(np.eye(10, dtype=np.float32))[0] == pytest.approx(10.0, rel=1e-3)
    assert representation(np.array([0] * 50 + [1] * 5 + [2] * 5 + [3] * 5)) == {0: "over"}
    f = pd.DataFrame({"source": ["human"] * 4 + ["synthetic"] * 4})
    d = diversity(f, np.eye(8, dtype=np.float32), np.array([0, 1, 2, 3, 0, 0, 0, 0]), "source")
    assert d["human"]["clusters"] == 4 and d["synthetic"]["clusters"] == 1 and d["all"]["records"] == 8


@pytest.fixture(scope="module")
def demo_map(tmp_path_factory):
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from curation.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("map") / "ws")
    load_demo(ws)
    frame = load_records(ws)
    return ws, frame, build(ws, frame)


def test_demo_clusters_recover_its_topics_with_the_real_model(demo_map):
    from sklearn.metrics import adjusted_rand_score

    ws, frame, atlas = demo_map
    topics = np.array([json.loads(m)["topic"] for m in frame["meta"]])
    labels = frame.merge(atlas.points, on="record_id")["cluster"].to_numpy()
    planted = topics != "misc"
    score = adjusted_rand_score(topics[planted], labels[planted])
    print(f"\nadjusted Rand index vs planted topics: {score:.3f} ({atlas.clusters} clusters)")
    assert score >= 0.6
    assert all(" · " in label for label in atlas.labels.values())
    assert set(atlas.diversity["by_source"]) == {"all", "human", "synthetic", "external"}


def test_map_is_cached_by_its_inputs(demo_map):
    ws, frame, atlas = demo_map
    again = cached_atlas(ws, frame)
    assert again is not None and again.points.equals(atlas.points)
    assert load(ws, frame.iloc[:-1]) is None  # other records: another map…
    fewer = cached_atlas(ws, frame.iloc[:-1])  # …but records removed keep their places on this one
    assert fewer.points.equals(atlas.points.iloc[:-1]) and fewer.placed == 0


def test_semantic_search_finds_the_router_chats(demo_map):
    ws, frame, _ = demo_map
    hits = nearest(ws, frame, "my wifi keeps disconnecting", 5)
    assert list(hits["similarity"]) == sorted(hits["similarity"], reverse=True)
    assert (hits["source"] == "external").sum() >= 3  # the router support conversations


def test_kmeans_setting_changes_the_map(demo_map):
    ws, frame, _ = demo_map
    save_settings(ws, method="kmeans", k=10)
    atlas = build(ws, frame)
    assert atlas.clusters == 10 and atlas.noise == 0
    save_settings(ws, k=0)  # back to automatic


def test_diversity_samples_row_numbers_without_copying_every_vector(monkeypatch):
    """The same Vendi score from row numbers as from the copied rows (issue 18: "all" copied 1 GB of vectors at 1M)."""
    from curation import diversity as div

    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(3000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = np.flatnonzero(rng.random(3000) < 0.6)
    assert div.vendi(vectors, rows) == div.vendi(vectors[rows])
    taken = []
    real = div.vendi
    monkeypatch.setattr(div, "vendi", lambda v, r=None: taken.append(v) or real(v, r))
    frame = pd.DataFrame({"dataset": rng.choice(["a", "b"], 3000)})
    div.diversity(frame, vectors, rng.integers(0, 5, 3000), "dataset")
    assert all(v is vectors for v in taken)  # every group is sampled from the one array, never a copy of its rows
