"""Do the map's clusters follow the data's real families?

    python bench/map_families.py [--seeds 0 1 2]

Four families from the shared data, 200 records each (a fixed-seed sample):
GSM8K math problems, GPTeacher role-play, t0's ag_news prompts (every t0 record
whose `template` names ag_news) and Alpaca. Each is ingested as its own dataset
into a fresh workspace and mapped with the default settings (MiniLM on the
prompt, the default clustering). The family is the label:
`sklearn.metrics.homogeneity_score` (unclustered records count as one cluster of
their own), the share left unclustered, the share assigned with low confidence,
and, for comparison on the same map and vectors: the defaults before issue 13
(HDBSCAN on the map, min_samples 10, noise left unclustered), the faiss
spherical k-means used before, and scikit-learn's k-means (n_init=10).
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, SHARED, T0, need

sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

FAMILIES = {
    "gsm8k": SHARED / "gsm8k" / "gsm_8k_train.json",
    "roleplay": SHARED / "gpteacher" / "roleplay-simple-deduped-roleplay-dataset.json",
    "ag_news": T0,
    "alpaca": SHARED / "alpaca" / "alpaca_data_cleaned_1000.json",
}
PER_FAMILY = 200
SEED = 0


def family_files(folder: Path, per: int = PER_FAMILY, seed: int = SEED) -> dict[str, Path]:
    """One file per family holding a fixed-seed sample of `per` of its records, in the source's own format."""
    rng = random.Random(seed)
    out = {}
    for name, path in FAMILIES.items():
        need(path)
        if name == "ag_news":
            rows = [json.loads(line) for line in path.open() if "ag_news" in json.loads(line)["template"]]
            target = folder / f"{name}.jsonl"
            target.write_text("".join(json.dumps(r) + "\n" for r in rng.sample(rows, per)))
        else:
            rows = json.loads(path.read_text())
            target = folder / f"{name}.json"
            target.write_text(json.dumps(rng.sample(rows, per)))
        out[name] = target
    return out


def family_workspace(folder: Path, seed: int = SEED):
    """A workspace holding the four families, one dataset each."""
    from curation.ingest import ingest
    from curation.workspace import Workspace

    ws = Workspace(folder / "ws")
    for name, path in family_files(folder, seed=seed).items():
        ingest(ws, path, name=name)
    return ws


def scores(truth: np.ndarray, labels: np.ndarray) -> dict:
    from sklearn.metrics import adjusted_rand_score, completeness_score, homogeneity_score

    return {"homogeneity": homogeneity_score(truth, labels), "completeness": completeness_score(truth, labels),
            "ari": adjusted_rand_score(truth, labels)}


def old_hdbscan(xy: np.ndarray) -> np.ndarray:
    """The default clustering before issue 13 (curation/clusters.py at 65c4ced)."""
    from sklearn.cluster import HDBSCAN

    size = max(5, round(np.sqrt(len(xy)) / 2))
    return HDBSCAN(min_cluster_size=size, min_samples=min(10, size), copy=True).fit_predict(xy)


def old_kmeans(vectors: np.ndarray, k: int) -> np.ndarray:
    """The k-means before issue 13: faiss, spherical, 25 iterations."""
    import faiss

    km = faiss.Kmeans(vectors.shape[1], k, niter=25, seed=0, spherical=True, verbose=False)
    km.train(np.ascontiguousarray(vectors, dtype=np.float32))
    return km.index.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)[1][:, 0]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[SEED], help="samples to draw (one map each)")
    for seed in parser.parse_args().seeds:
        print(f"sample seed {seed}")
        one(seed)


def one(seed: int) -> None:
    from sklearn.cluster import KMeans

    from curation.atlas import build
    from curation.clusters import NOISE, cluster
    from curation.embed import embed_texts
    from curation.store import load_records
    from curation.texts import record_texts

    with tempfile.TemporaryDirectory(prefix="bench-families-") as tmp:
        ws = family_workspace(Path(tmp), seed)
        frame = load_records(ws)
        embed_texts(ws, record_texts(frame))  # embedding is not what is timed here
        start = time.perf_counter()
        atlas = build(ws, frame)
        seconds = time.perf_counter() - start
        points = frame[["record_id", "dataset"]].merge(atlas.points, on="record_id")
        truth = points["dataset"].to_numpy()
        labels = points["cluster"].to_numpy()
        low = points["assigned"].to_numpy(bool) if "assigned" in points else np.zeros(len(points), bool)
        result = {"records": len(points), "clusters": atlas.clusters, "unclustered": float((labels == NOISE).mean()),
                  "left out by the method, then assigned": atlas.settings.get("left_by_method", 0) / len(points),
                  "assigned (low confidence)": float(low.mean()), **scores(truth, labels), "map seconds": round(seconds, 1)}
        vectors, _ = embed_texts(ws, record_texts(frame))
        xy = points[["x", "y"]].to_numpy()
        before = old_hdbscan(xy)
        result["before: HDBSCAN on the map, noise left"] = {"clusters": int(before.max() + 1),
                                                           "unclustered": float((before == NOISE).mean()), **scores(truth, before)}
        k = max(atlas.clusters, 2)
        result[f"kmeans (ours, k={k})"] = scores(truth, cluster(vectors, xy, "kmeans", k=k))
        result[f"kmeans (faiss spherical, before; k={k})"] = scores(truth, old_kmeans(vectors, k))
        result[f"kmeans (sklearn n_init=10, k={k})"] = scores(truth, KMeans(k, n_init=10, random_state=0).fit_predict(vectors))
        print(json.dumps(result, indent=1, default=lambda v: round(float(v), 3)))
        from curation.diversity import agreement

        for name, d in atlas.diversity["by_dataset"].items():
            print(f"{name:9s} records {d['records']:4d}  entropy {d['entropy']:.2f}  effective clusters {d['effective_clusters']:5.1f}"
                  f"  vendi {d['vendi']:6.1f}")
        print("\n".join(agreement(atlas.diversity["by_dataset"])))
        for c, label in sorted(atlas.labels.items()):
            mix = points.loc[points["cluster"] == c, "dataset"].value_counts().to_dict()
            print(f"{c:3d} {label:45s} {mix}")


if __name__ == "__main__":
    main()
