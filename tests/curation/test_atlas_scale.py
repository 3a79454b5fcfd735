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
