"""The diversity map: embeddings -> UMAP 2-D (cosine) -> clusters, labels, diversity.

Everything is cached by its inputs in `maps/<key>.*`: the key covers the
embedding model and text choice, every record's text (in order), the
clustering settings and a format version. `cached_atlas` answers from the
cache only, so pages and commands that merely show map columns never start
heavy work.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from curation.clusters import NOISE, cluster, label_clusters, representatives
from curation.diversity import diversity, representation
from curation.embed import EmbedSettings, cache_dir, embed_texts, text_key
from curation.progress import Progress
from curation.settings import StageSettings
from curation.texts import record_texts
from curation.workspace import Workspace, write_atomically

VERSION = 1


@dataclass(frozen=True)
class MapSettings(StageSettings):
    """How the map clusters (kept in the workspace); what is embedded, and by which model, is embed's (`EmbedSettings`)."""

    stage = "map"
    method: str = "hdbscan"  # a name in clusters.METHODS
    k: int | None = None  # k-means clusters (None: from the number of records)
    min_size: int | None = None  # smallest HDBSCAN cluster (None: from the number of records)

    def check(self) -> None:
        from curation.clusters import METHODS
        from curation.errors import CurationError

        if self.method not in METHODS:
            raise CurationError(f"unknown clustering method {self.method!r}: choose one of {', '.join(METHODS)}")


def map_settings(ws: Workspace) -> dict:
    """Everything a map depends on: the embedding model and text (embed's settings) and the clustering (the map's)."""
    return {**asdict(EmbedSettings.load(ws)), **asdict(MapSettings.load(ws))}


def save_settings(ws: Workspace, **changes) -> dict:
    """Keep embed's (model, text) and the map's (method, k, min_size) settings: all of them, or none when one is bad."""
    embedding = {k: changes.pop(k) for k in ("model", "text") if k in changes}
    MapSettings.checked(ws, **changes)
    EmbedSettings.checked(ws, **embedding)
    if any(v is not None for v in changes.values()):
        MapSettings.save(ws, **changes)
    if any(v is not None for v in embedding.values()):
        EmbedSettings.save(ws, **embedding)
    return map_settings(ws)


@dataclass
class Atlas:
    points: pd.DataFrame  # record_id, x, y, cluster, cluster_label (in record order)
    labels: dict[int, str]
    representatives: dict[int, list[str]]
    diversity: dict[str, dict]
    representation: dict[int, str]
    settings: dict
    seconds: float = 0.0
    embedding: dict = field(default_factory=dict)

    @property
    def clusters(self) -> int:
        return len(self.labels)

    @property
    def noise(self) -> int:
        return int((self.points["cluster"] == NOISE).sum())

    def table(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per cluster: size, share, label, representation, mix of sources and datasets, decisions (and quality if present)."""
        joined = frame if "cluster" in frame else frame.merge(self.points, on="record_id", how="inner")
        joined = joined[joined["cluster"].notna()]
        if joined.empty:
            return pd.DataFrame()
        groups = joined.groupby("cluster", sort=True)
        out = pd.DataFrame({"size": groups.size()})
        out.insert(0, "label", [self.labels.get(int(c), "noise") for c in out.index])
        out["share"] = out["size"] / len(joined)
        out["represented"] = [self.representation.get(int(c), "") for c in out.index]
        if "quality" in joined:
            out["mean quality"] = groups["quality"].mean()
        if "output_words" in joined:
            out["mean output words"] = groups["output_words"].mean()
        for column, name in (("source", "sources"), ("dataset", "datasets")):
            counts = joined.groupby(["cluster", column], sort=False).size().sort_values(ascending=False)
            mix: dict = {}
            for (c, value), n in counts.items():
                mix.setdefault(c, []).append(f"{value} {n}")
            out[name] = [", ".join(mix.get(c, [])) for c in out.index]
        if "decision" in joined:
            decided = joined.groupby(["cluster", "decision"]).size().unstack(fill_value=0)
            for decision, name in (("keep", "kept"), ("reject", "rejected")):
                out[name] = decided[decision].reindex(out.index, fill_value=0) if decision in decided else 0
        out.index = out.index.astype(int)
        return out.rename_axis("cluster").reset_index()


def map_key(ws: Workspace, texts: list[str], conf: dict) -> str:
    h = hashlib.blake2b(digest_size=8)
    h.update(f"v{VERSION}|{cache_dir(ws, conf['model'], conf['text']).name}|{conf['method']}|{conf['k']}|{conf['min_size']}".encode())
    for t in texts:
        h.update(text_key(t).encode())
    return h.hexdigest()


SEEDED_UP_TO = 10_000


def project(vectors: np.ndarray, seed: int = 42) -> np.ndarray:
    """UMAP to 2-D with cosine distance (the first call in a process compiles numba code: about 30 s).

    PCA initialisation: spectral initialisation fails on data with many
    disconnected duplicate groups and wastes minutes before falling back. Maps of
    up to 10,000 records are seeded (reproducible); larger ones run UMAP in
    parallel, which a seed forbids — about 3× faster on 55k records.
    """
    n = len(vectors)
    if n < 5:
        return np.column_stack([np.arange(n, dtype=np.float32), np.zeros(n, dtype=np.float32)])
    import umap

    reducer = umap.UMAP(n_components=2, metric="cosine", n_neighbors=min(15, n - 1), min_dist=0.1, init="pca",
                        random_state=seed if n <= SEEDED_UP_TO else None)
    return reducer.fit_transform(vectors).astype(np.float32)


def _paths(ws: Workspace, key: str):
    folder = ws.root / "maps"
    return folder, folder / f"{key}.parquet", folder / f"{key}.json"


def build(ws: Workspace, frame: pd.DataFrame, progress: Progress | None = None) -> Atlas:
    """The map of these records for the workspace's settings (embedding only what is not cached)."""
    start = time.perf_counter()
    conf = map_settings(ws)
    texts = record_texts(frame, conf["text"])
    cached = load(ws, frame, texts, conf)
    if cached is not None:
        return cached
    vectors, info = embed_texts(ws, texts, model=conf["model"], text=conf["text"], progress=progress)
    if progress:
        progress(0, 1, "projecting with UMAP")
    xy = project(vectors)
    labels = cluster(vectors, xy, conf["method"], conf["k"], conf["min_size"])
    names = label_clusters(texts, labels)
    ids = frame["record_id"].astype(str).to_numpy()
    reps = {c: [str(ids[i]) for i in rows] for c, rows in representatives(vectors, labels).items()}
    div = {"by_dataset": diversity(frame, vectors, labels, "dataset"), "by_source": diversity(frame, vectors, labels, "source")}
    points = pd.DataFrame({"record_id": ids, "x": xy[:, 0], "y": xy[:, 1], "cluster": labels,
                           "cluster_label": [names.get(int(c), "noise") for c in labels]})
    atlas = Atlas(points, names, reps, div, representation(labels), conf, time.perf_counter() - start, info)
    save(ws, map_key(ws, texts, conf), atlas)
    if progress:
        progress(1, 1, "map ready")
    return atlas


def save(ws: Workspace, key: str, atlas: Atlas) -> None:
    folder, table, meta = _paths(ws, key)
    folder.mkdir(parents=True, exist_ok=True)
    body = {"labels": atlas.labels, "representatives": atlas.representatives, "diversity": atlas.diversity,
            "representation": atlas.representation, "settings": atlas.settings, "seconds": atlas.seconds, "embedding": atlas.embedding}
    for path, write in ((table, lambda p: atlas.points.to_parquet(p, index=False)),
                        (meta, lambda p: p.write_text(json.dumps(body, default=str)))):
        write_atomically(path, write)


def load(ws: Workspace, frame: pd.DataFrame, texts: list[str] | None = None, conf: dict | None = None) -> Atlas | None:
    conf = conf or map_settings(ws)
    texts = record_texts(frame, conf["text"]) if texts is None else texts
    _, table, meta = _paths(ws, map_key(ws, texts, conf))
    if not (table.exists() and meta.exists()):
        return None
    body = json.loads(meta.read_text())
    as_int = lambda d: {int(k): v for k, v in d.items()}  # noqa: E731 - JSON keys are strings
    return Atlas(pd.read_parquet(table), as_int(body["labels"]), as_int(body["representatives"]), body["diversity"],
                 as_int(body["representation"]), body["settings"], body["seconds"], body.get("embedding", {}))


def cached_atlas(ws: Workspace, frame: pd.DataFrame) -> Atlas | None:
    """The map for these records and settings if it is cached; never computes."""
    return load(ws, frame)


def nearest(ws: Workspace, frame: pd.DataFrame, query: str, k: int = 10) -> pd.DataFrame:
    """The k records nearest a query (cosine, exact faiss search), nearest first, with `similarity`."""
    import faiss

    conf = map_settings(ws)
    texts = record_texts(frame, conf["text"])
    vectors, _ = embed_texts(ws, texts, model=conf["model"], text=conf["text"])
    q, _ = embed_texts(ws, [query], model=conf["model"], text=f"{conf['text']}-query")
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors))
    sims, rows = index.search(np.ascontiguousarray(q), min(k, len(frame)))
    out = frame.iloc[rows[0]].copy()
    out["similarity"] = sims[0]
    return out
