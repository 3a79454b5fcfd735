"""Issue 18: a map of more records than UMAP fits is fitted on a seeded sample, the rest placed by neighbours."""

from __future__ import annotations

import numpy as np
import umap

from curation import atlas


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 16))
    v = centres[rng.integers(0, 4, n)] + 0.05 * rng.normal(size=(n, 16))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_large_map_fits_a_sample_and_places_the_rest(monkeypatch):
    monkeypatch.setattr(atlas, "FIT_AT_MOST", 80)
    fitted_sizes = []
    real = umap.UMAP.fit_transform

    def spy(self, x, *a, **kw):
        fitted_sizes.append(len(x))
        return real(self, x, *a, **kw)

    monkeypatch.setattr(umap.UMAP, "fit_transform", spy)
    base = _vectors(80)
    vectors = np.vstack([base, base[:70]])  # 70 records identical to fitted ones
    xy = atlas.project(vectors)
    assert fitted_sizes == [80]  # UMAP saw the sample only
    assert xy.shape == (150, 2) and np.isfinite(xy).all()
    fit = np.sort(np.random.default_rng(42).choice(150, 80, replace=False))
    # a record placed beside its identical twin lands where the twin is (when the twin was fitted)
    twins = {i: i + 80 for i in range(70)} | {i + 80: i for i in range(70)}
    fitted = set(fit.tolist())
    placed_with_fitted_twin = [i for i in range(150) if i not in fitted and twins.get(i) in fitted]
    assert placed_with_fitted_twin
    spread = np.ptp(xy, axis=0).max()
    for i in placed_with_fitted_twin:
        assert np.linalg.norm(xy[i] - xy[twins[i]]) < 0.05 * spread


def test_small_map_is_fitted_whole(monkeypatch):
    fitted_sizes = []
    real = umap.UMAP.fit_transform

    def spy(self, x, *a, **kw):
        fitted_sizes.append(len(x))
        return real(self, x, *a, **kw)

    monkeypatch.setattr(umap.UMAP, "fit_transform", spy)
    atlas.project(_vectors(60))
    assert fitted_sizes == [60]


def test_kmeans_past_its_sample_refines_on_the_sample_and_assigns_every_record(monkeypatch):
    """Issue 18: on more than clusters.FIT_AT_MOST records Lloyd runs on a seeded sample only (one pass assigns the
    rest); the blobs are still found, and every record gets a cluster."""
    from sklearn.cluster import KMeans

    from curation import clusters

    monkeypatch.setattr(clusters, "START_SAMPLE", 100)
    monkeypatch.setattr(clusters, "FIT_AT_MOST", 300)
    fitted = []
    real = KMeans.fit

    def spy(self, x, *a, **kw):
        fitted.append(len(x))
        return real(self, x, *a, **kw)

    monkeypatch.setattr(KMeans, "fit", spy)
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 16))
    truth = rng.integers(0, 4, 800)
    v = centres[truth] + 0.05 * rng.normal(size=(800, 16))
    v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    labels = clusters.kmeans_labels(v, None, 4, None, 0)
    assert fitted == [100, 300]  # the starts on 100, Lloyd on 300, never on all 800
    assert labels.shape == (800,)
    from sklearn.metrics import homogeneity_score

    assert homogeneity_score(truth, labels) > 0.99
    monkeypatch.setattr(clusters, "FIT_AT_MOST", 1000)
    fitted.clear()
    clusters.kmeans_labels(v, None, 4, None, 0)
    assert fitted == [100, 800]  # up to FIT_AT_MOST records: Lloyd on all, as before


def test_cluster_labels_from_frame_texts_equal_those_from_a_list(tmp_path, monkeypatch):
    """Labels made one cluster (and one slice) at a time from the columns are the labels of the list of texts."""
    import json

    from curation import texts
    from curation.clusters import label_clusters
    from curation.ingest import ingest
    from curation.store import read_columns
    from curation.texts import TEXT_FIELDS, FrameTexts, record_texts
    from curation.workspace import Workspace

    words = [["bread", "flour", "oven"], ["planet", "orbit", "star"], ["guitar", "chord", "song"]]
    rows = [{"prompt": f"{' '.join(words[i % 3])} question {i} " + " ".join(words[i % 3][: i % 3 + 1]), "completion": "x"}
            for i in range(90)]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ws = Workspace(tmp_path / "ws")
    ingest(ws, path, name="r", fmt="prompt-completion")
    frame = read_columns(ws, TEXT_FIELDS)
    labels = np.array([i % 3 for i in range(90)])
    monkeypatch.setattr(texts, "SLICE", 7)  # clusters of 30 made in slices of 7
    listed = record_texts(frame, "prompt")
    for reps in (None, {0: [0, 3], 1: [1, 4], 2: [2, 5]}):
        assert label_clusters(FrameTexts(frame, "prompt"), labels, reps) == label_clusters(listed, labels, reps)
    assert "bread" in label_clusters(FrameTexts(frame, "prompt"), labels)[0]
