"""The diversity map: embeddings -> UMAP 2-D (cosine) -> clusters, labels, diversity.

Everything is cached by its inputs in `maps/<key>.*`: the key covers the
embedding model and text choice, every record's text (in order), the
clustering method and the parameter it really uses (an automatic value and the
same value typed in give the same map) and a format version. `cached_atlas`
answers from the cache only, so pages and commands that merely show map
columns never start heavy work.

Records added after a map was built keep the map: `cached_atlas` places them on
the newest map built with the same settings (their nearest fitted records in
embedding space give their position and cluster) once their embeddings are
cached, and `place` embeds them first. They are marked `placed` ("placed, not
fitted") until the next build.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from curation.clusters import DEFAULT_METHOD, LOW_CONFIDENCE, NOISE, cluster, confidence, cover, effective, label_clusters, representatives
from curation.diversity import diversity, representation
from curation.edits import changed_since
from curation.embed import EmbedSettings, cache_dir, embed_keyed, embed_records, embed_texts, pending_keys, text_keys
from curation.progress import Progress
from curation.settings import StageSettings
from curation.texts import FrameTexts
from curation.workspace import Workspace, write_atomically

VERSION = 2
AUTOMATIC = 0  # k=0 / min_size=0 saved: back to the automatic value
PLACE_NEIGHBOURS = 5  # fitted records whose position and cluster a placed record takes (similarity-weighted)


@dataclass(frozen=True)
class MapSettings(StageSettings):
    """How the map clusters (kept in the workspace); what is embedded, and by which model, is embed's (`EmbedSettings`)."""

    stage = "map"
    method: str = DEFAULT_METHOD  # a name in clusters.METHODS
    k: int | None = None  # k-means clusters (None: automatic, from the number of records)
    min_size: int | None = None  # smallest HDBSCAN cluster (None: automatic, from the number of records)

    @classmethod
    def merge(cls, raw: dict, changes: dict) -> dict:
        """Changes over what is kept; k or min_size 0 goes back to automatic."""
        merged = {**raw, **changes}
        return {key: value for key, value in merged.items() if not (key in ("k", "min_size") and value == AUTOMATIC)}

    def check(self) -> None:
        from curation.clusters import METHODS
        from curation.errors import CurationError

        if self.method not in METHODS:
            raise CurationError(f"unknown clustering method {self.method!r}: choose one of {', '.join(METHODS)}")
        for name in ("k", "min_size"):
            value = getattr(self, name)
            if value is not None and value < 2:
                raise CurationError(f"{name} must be at least 2 (or {AUTOMATIC}: automatic), not {value}")


def map_settings(ws: Workspace) -> dict:
    """Everything a map depends on: the embedding model and text (embed's settings) and the clustering (the map's)."""
    return {**asdict(EmbedSettings.load(ws)), **asdict(MapSettings.load(ws))}


def save_settings(ws: Workspace, **changes) -> dict:
    """Keep embed's (model, text) and the map's (method, k, min_size) settings: all of them, or none when one is bad.
    None leaves a setting as it is; k or min_size 0 makes it automatic again."""
    embedding = {k: changes.pop(k) for k in ("model", "text") if k in changes}
    MapSettings.checked(ws, **changes)
    EmbedSettings.checked(ws, **embedding)
    if any(v is not None for v in changes.values()):
        MapSettings.save(ws, **changes)
    if any(v is not None for v in embedding.values()):
        EmbedSettings.save(ws, **embedding)
    return map_settings(ws)


POINT_COLUMNS = ("record_id", "x", "y", "cluster", "cluster_label", "cluster_confidence", "assigned", "placed")


@dataclass
class Atlas:
    """A map: `points` holds, per record, x, y, cluster, cluster_label, cluster_confidence (see clusters.cover),
    assigned (joined its cluster with low confidence) and placed (added after the build: placed, not fitted)."""

    points: pd.DataFrame  # POINT_COLUMNS, in record order
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

    @property
    def assigned(self) -> int:
        return int(self.points["assigned"].sum()) if "assigned" in self.points else 0

    @property
    def placed(self) -> int:
        return int(self.points["placed"].sum()) if "placed" in self.points else 0

    def centres(self, frame: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per cluster (of these records; default all): its label, size and where to write the label on the map
        (the median of its confidently clustered points)."""
        points = self.points if frame is None else frame
        points = points[points["cluster"].notna() & (points["cluster"] != NOISE)]
        if points.empty:
            return pd.DataFrame(columns=["cluster", "label", "size", "x", "y"])
        sure = points[~points["assigned"].astype(bool)] if "assigned" in points else points
        where = (sure if len(sure) else points).groupby("cluster")[["x", "y"]].median()
        out = pd.DataFrame({"size": points.groupby("cluster").size()}).join(where, how="left")
        out = out.fillna(points.groupby("cluster")[["x", "y"]].median())
        out.insert(0, "label", [self.labels.get(int(c), f"cluster {int(c)}") for c in out.index])
        out.index = out.index.astype(int)
        return out.rename_axis("cluster").reset_index().sort_values("size", ascending=False, ignore_index=True)

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
        if "assigned" in joined:
            out["low confidence"] = groups["assigned"].sum().astype(int)
        if "placed" in joined:
            out["placed"] = groups["placed"].sum().astype(int)
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


def map_key(ws: Workspace, texts, conf: dict) -> str:
    """The cache key of a map: the embedding, the method and the parameter it uses for these texts, the texts (their
    keys: `texts` is a list of texts, a `FrameTexts`, or the texts' keys from `embed.text_keys`, 32 bytes each)."""
    keys = texts if isinstance(texts, np.ndarray) else text_keys(texts)[0]
    h = hashlib.blake2b(digest_size=8)
    used = effective(conf["method"], len(keys), conf["k"], conf["min_size"])
    h.update(f"v{VERSION}|{cache_dir(ws, conf['model'], conf['text']).name}|{conf['method']}|{used}".encode())
    h.update(np.ascontiguousarray(keys).tobytes())  # each text's 32 hex characters, in order (as hashed one by one before)
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

    if n > FIT_AT_MOST:
        return _project_sample(vectors, seed)
    reducer = umap.UMAP(n_components=2, metric="cosine", n_neighbors=min(15, n - 1), min_dist=0.1, init="pca",
                        random_state=seed if n <= SEEDED_UP_TO else None)
    with warnings.catch_warnings():  # "n_jobs value 1 overridden to 1 by setting random_state": the seed is ours, on purpose
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        return reducer.fit_transform(vectors).astype(np.float32)


FIT_AT_MOST = 100_000  # issue 18: UMAP fits at most this many records (seeded sample); the rest are placed
PLACE_CHUNK = 50_000


def _project_sample(vectors: np.ndarray, seed: int) -> np.ndarray:
    """A map of more than FIT_AT_MOST records: UMAP fitted on a seeded sample of FIT_AT_MOST of them, every other
    record placed at the similarity-weighted mean of its PLACE_NEIGHBOURS nearest fitted records (an HNSW index on
    the sample, queried in chunks), as `place` does. UMAP's cost grows faster than linearly and its memory with the
    neighbour graph; placing costs one approximate search per record, so a 1M map costs about a 100k fit plus 900k
    look-ups."""
    import faiss

    n = len(vectors)
    fit = np.sort(np.random.default_rng(seed).choice(n, FIT_AT_MOST, replace=False))
    xy = np.empty((n, 2), dtype=np.float32)
    fitted_xy = project(vectors[fit], seed)
    xy[fit] = fitted_xy
    rest = np.setdiff1d(np.arange(n), fit, assume_unique=True)
    index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efSearch = 64
    index.add(np.ascontiguousarray(vectors[fit], dtype=np.float32))
    for lo in range(0, len(rest), PLACE_CHUNK):
        rows = rest[lo : lo + PLACE_CHUNK]
        sims, near = index.search(np.ascontiguousarray(vectors[rows], dtype=np.float32), PLACE_NEIGHBOURS)
        near = np.where(near < 0, near.max(axis=1, keepdims=True), near)  # fewer than k found: reuse one found
        weights = np.clip(sims, 1e-6, None)
        weights /= weights.sum(axis=1, keepdims=True)
        xy[rows] = (weights[:, :, None] * fitted_xy[near]).sum(axis=1)
    return xy


def _paths(ws: Workspace, key: str):
    folder = ws.root / "maps"
    return folder, folder / f"{key}.parquet", folder / f"{key}.json"


def build(ws: Workspace, frame: pd.DataFrame, progress: Progress | None = None) -> Atlas:
    """The map of these records for the workspace's settings (embedding only what is not cached)."""
    start = time.perf_counter()
    conf = map_settings(ws)
    texts = FrameTexts(frame, conf["text"])  # issue 18: made a slice at a time, never one list of every text
    keys, lengths = text_keys(texts)
    cached = load(ws, frame, keys, conf)
    if cached is not None and not cached.placed:  # a map with placed records is refitted
        return cached
    vectors, info = embed_keyed(ws, texts, keys, lengths, model=conf["model"], text=conf["text"], progress=progress)
    if progress:
        progress(0, 1, "projecting with UMAP")
    xy = project(vectors)
    if progress:
        progress(0, 1, "clustering")
    found = cluster(vectors, xy, conf["method"], conf["k"], conf["min_size"])
    labels, confidence, assigned = cover(vectors, xy, found)
    rows = representatives(vectors, labels, confident=~assigned)
    names = label_clusters(texts, labels, rows)
    ids = frame["record_id"].astype(str).to_numpy()
    reps = {c: [str(ids[i]) for i in r] for c, r in rows.items()}
    div = {"by_dataset": diversity(frame, vectors, labels, "dataset"), "by_source": diversity(frame, vectors, labels, "source")}
    points = pd.DataFrame({"record_id": ids, "x": xy[:, 0], "y": xy[:, 1], "cluster": labels,
                           "cluster_label": [names.get(int(c), "noise") for c in labels],
                           "cluster_confidence": confidence, "assigned": assigned, "placed": np.zeros(len(ids), dtype=bool)})
    settings = {**conf, "effective": effective(conf["method"], len(keys), conf["k"], conf["min_size"]),
                "left_by_method": int((found == NOISE).sum())}
    atlas = Atlas(points, names, reps, div, representation(labels), settings, time.perf_counter() - start, info)
    save(ws, map_key(ws, keys, conf), atlas)
    if progress:
        progress(1, 1, "map ready")
    return atlas


def save(ws: Workspace, key: str, atlas: Atlas) -> None:
    folder, table, meta = _paths(ws, key)
    folder.mkdir(parents=True, exist_ok=True)
    body = {"version": VERSION, "labels": atlas.labels, "representatives": atlas.representatives, "diversity": atlas.diversity,
            "representation": atlas.representation, "settings": atlas.settings, "seconds": atlas.seconds, "embedding": atlas.embedding}
    for path, write in ((table, lambda p: atlas.points.to_parquet(p, index=False)),
                        (meta, lambda p: p.write_text(json.dumps(body, default=str)))):
        write_atomically(path, write)


def _read(table, meta) -> Atlas:
    body = json.loads(meta.read_text())
    as_int = lambda d: {int(k): v for k, v in d.items()}  # noqa: E731 - JSON keys are strings
    return Atlas(pd.read_parquet(table), as_int(body["labels"]), as_int(body["representatives"]), body["diversity"],
                 as_int(body["representation"]), body["settings"], body["seconds"], body.get("embedding", {}))


def load(ws: Workspace, frame: pd.DataFrame, keys: np.ndarray | None = None, conf: dict | None = None) -> Atlas | None:
    """The map built for exactly these records and settings, if it is cached (`keys`: their texts' keys, when known)."""
    conf = conf or map_settings(ws)
    keys = text_keys(FrameTexts(frame, conf["text"]))[0] if keys is None else keys
    _, table, meta = _paths(ws, map_key(ws, keys, conf))
    if not (table.exists() and meta.exists()):
        return None
    return _read(table, meta)


SAME_MAP = ("model", "text", "method", "k", "min_size")


def _base(ws: Workspace, frame: pd.DataFrame, conf: dict) -> tuple[Atlas, np.ndarray] | None:
    """The newest map built with these settings that holds at least half of these records, and which records it
    holds (a mask in record order); None when there is none."""
    folder = ws.root / "maps"
    metas = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []
    ids = frame["record_id"].astype(str).to_numpy()
    for meta in metas:
        table = meta.with_suffix(".parquet")
        try:
            body = json.loads(meta.read_text())
            if body.get("version") != VERSION or not table.exists():
                continue
            if any(body["settings"].get(k) != conf[k] for k in SAME_MAP):
                continue
            atlas = _read(table, meta)
        except (OSError, ValueError, KeyError):  # removed or being replaced meanwhile
            continue
        known = np.isin(ids, atlas.points["record_id"].to_numpy())
        edited = changed_since(ws, meta.stat().st_mtime)  # issue 17: a record edited since is placed anew, by its new text
        if edited:
            known &= ~np.isin(ids, list(edited))
        if known.sum() >= (~known).sum() and known.any():
            return atlas, known
    return None


def placeable(ws: Workspace, frame: pd.DataFrame) -> int | None:
    """How many of these records an existing map (same settings) lacks and `place` would put on it; None when no map
    holds at least half of them (then only a build helps)."""
    found = _base(ws, frame, map_settings(ws))
    return None if found is None else int((~found[1]).sum())


def _placed(ws: Workspace, frame: pd.DataFrame, keyed: tuple[np.ndarray, np.ndarray], conf: dict, embed: bool = False,
            progress: Progress | None = None) -> Atlas | None:
    """These records on the newest map of the same settings: the records it holds as they were, the others placed by
    their PLACE_NEIGHBOURS nearest fitted records in embedding space (similarity-weighted position, the cluster most of
    the weight votes for), marked placed. Embeds the new records only with `embed`; None when that is needed.
    `keyed`: the records' text keys and lengths (`embed.text_keys`)."""
    import faiss

    keys, lengths = keyed
    found = _base(ws, frame, conf)
    if found is None:
        return None
    base, known = found
    new = np.flatnonzero(~known)
    if pending_keys(ws, keys[known], model=conf["model"], text=conf["text"]):
        return None  # the map's own vectors are gone (cache deleted): only a build helps
    if not embed and pending_keys(ws, keys[new], model=conf["model"], text=conf["text"]):
        return None
    vectors, _ = embed_keyed(ws, FrameTexts(frame, conf["text"]), keys, lengths, model=conf["model"], text=conf["text"],
                             progress=progress)
    ids = frame["record_id"].astype(str).to_numpy()
    points = base.points.set_index("record_id").loc[ids[known]].reset_index()
    if len(new):
        fitted = vectors[known]
        fitted_clusters = points["cluster"].to_numpy(np.int64)
        index = faiss.IndexFlatIP(fitted.shape[1])
        index.add(np.ascontiguousarray(fitted))
        sims, near = index.search(np.ascontiguousarray(vectors[new]), min(PLACE_NEIGHBOURS, len(fitted)))
        weights = np.clip(sims, 1e-6, None)
        weights /= weights.sum(axis=1, keepdims=True)
        xs, ys = points["x"].to_numpy(np.float64), points["y"].to_numpy(np.float64)
        votes = [np.bincount(c, weights=w) for c, w in zip(fitted_clusters[near], weights)]
        clusters = np.array([v.argmax() for v in votes], dtype=np.int64)
        sure = confidence(vectors[new], clusters, fitted_clusters, fitted)
        placed = pd.DataFrame({"record_id": ids[new], "x": (weights * xs[near]).sum(axis=1).astype(np.float32),
                               "y": (weights * ys[near]).sum(axis=1).astype(np.float32), "cluster": clusters,
                               "cluster_label": [base.labels.get(int(c), "noise") for c in clusters],
                               "cluster_confidence": sure, "assigned": sure < LOW_CONFIDENCE, "placed": True})
        points = pd.concat([points, placed], ignore_index=True).set_index("record_id").loc[ids].reset_index()
    points["placed"] = points["placed"].astype(bool)
    return Atlas(points, base.labels, base.representatives, base.diversity, base.representation,
                 {**base.settings, "placed": int(len(new))}, base.seconds, base.embedding)


def place(ws: Workspace, frame: pd.DataFrame, progress: Progress | None = None) -> Atlas:
    """Put records added since the last build on that map (embedding only them) and keep the result as these
    records' map: placed, not fitted, until the next `build`."""
    from curation.errors import CurationError

    conf = map_settings(ws)
    keyed = text_keys(FrameTexts(frame, conf["text"]))
    atlas = load(ws, frame, keyed[0], conf)
    if atlas is not None:
        return atlas
    atlas = _placed(ws, frame, keyed, conf, embed=True, progress=progress)
    if atlas is None:
        raise CurationError("no map with these settings holds at least half of these records: build the map instead")
    save(ws, map_key(ws, keyed[0], conf), atlas)
    return atlas


def cached_atlas(ws: Workspace, frame: pd.DataFrame) -> Atlas | None:
    """The map for these records and settings if it is cached, or an earlier map with the records added since placed
    on it (when their embeddings are cached); never embeds or builds."""
    conf = map_settings(ws)
    keyed = text_keys(FrameTexts(frame, conf["text"]))
    return load(ws, frame, keyed[0], conf) or _placed(ws, frame, keyed, conf)


def nearest(ws: Workspace, frame: pd.DataFrame, query: str, k: int = 10) -> pd.DataFrame:
    """The k records nearest a query (cosine, exact faiss search), nearest first, with `similarity`."""
    import faiss

    conf = map_settings(ws)
    vectors, _ = embed_records(ws, frame, model=conf["model"], text=conf["text"])
    q, _ = embed_texts(ws, [query], model=conf["model"], text=f"{conf['text']}-query")
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors))
    sims, rows = index.search(np.ascontiguousarray(q), min(k, len(frame)))
    out = frame.iloc[rows[0]].copy()
    out["similarity"] = sims[0]
    return out
