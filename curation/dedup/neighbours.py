"""Neighbour pairs above a similarity floor, in bounded memory (never an n×n matrix).

Each record keeps at most `K` neighbours at or above the floor, so the result is
at most n×K pairs. Groups are connected components, so a group larger than K
still comes out whole (its members reach each other through shared neighbours).

- `exact`: cosine over blocks of rows (a block × n slice at a time);
- `ivf`: faiss IndexIVFFlat, √n-scaled lists, `nprobe` lists searched per query;
- `hnsw`: faiss IndexHNSWFlat graph;
- `auto`: exact up to `EXACT_UP_TO` records, IVF above.

`measured_recall` compares an approximate result with exact search on a sample
of records; the pipeline reports it with every approximate run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from curation import names

K = 32
EXACT_UP_TO = 20_000
BLOCK_CELLS = 50_000_000  # similarity values held at once (200 MB of float32)


@dataclass(frozen=True)
class Index:
    """A neighbour search: `search(vectors, floor, k, progress)` gives (rows, cols, sims) of each row's top-k at or above the floor.

    `choose(n)`, instead of a search, names the index to use for n records (`auto`)."""

    name: str
    description: str
    search: Callable | None = None
    choose: Callable[[int], str] | None = None


INDEXES: dict[str, Index] = names.registry(names.INDEXES, (  # the searches are defined below: looked up when called
    Index("auto", f"exact search up to {EXACT_UP_TO:,} records, IVF above",
          choose=lambda n: "exact" if n <= EXACT_UP_TO else "ivf"),
    Index("exact", "exact cosine search in blocks (slowest, recall 1)",
          search=lambda vectors, floor, k, progress: exact_neighbours(vectors, floor, k)),
    Index("ivf", "faiss IVF (inverted lists, nprobe 16): fast, recall measured",
          search=lambda vectors, floor, k, progress: approximate_neighbours(vectors, floor, ivf_index(vectors), "ivf", k, progress)),
    Index("hnsw", "faiss HNSW graph (M 32): fast queries, slower to build, recall measured",
          search=lambda vectors, floor, k, progress: approximate_neighbours(vectors, floor, hnsw_index(vectors), "hnsw", k, progress)),
))


@dataclass
class Pairs:
    """Undirected pairs i < j (rows of the compared texts) with their similarity."""

    i: np.ndarray
    j: np.ndarray
    sim: np.ndarray
    info: dict = field(default_factory=dict)

    @classmethod
    def empty(cls, **info) -> Pairs:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), info)

    def __len__(self) -> int:
        return len(self.i)

    def above(self, threshold: float) -> Pairs:
        keep = self.sim >= threshold - 1e-6
        return Pairs(self.i[keep], self.j[keep], self.sim[keep], self.info)


def unique_pairs(rows: np.ndarray, cols: np.ndarray, sims: np.ndarray, n: int) -> Pairs:
    """Drop self-pairs, order each pair i < j, keep one copy of each (its first occurrence).

    One int64 key per pair is all it sorts (issue 18: at 1M records the int64 copies of every row, column, low and high
    end of ~40M candidate pairs took 4 GB at once)."""
    ok = (cols >= 0) & (rows != cols)
    rows, cols, sims = rows[ok], cols[ok], sims[ok]
    key = np.minimum(rows, cols).astype(np.int64)
    key *= n
    key += np.maximum(rows, cols)
    del rows, cols
    key, first = np.unique(key, return_index=True)
    sims = np.minimum(sims[first].astype(np.float32), 1.0)
    del first
    return Pairs(key // n, key % n, sims)


def _top_k_above(sims: np.ndarray, floor: float, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From a block of similarities: each row's (up to k) columns at or above the floor."""
    rows, cols = np.nonzero(sims >= floor)
    values = sims[rows, cols]
    counts = np.bincount(rows, minlength=sims.shape[0])
    if counts.max(initial=0) > k:  # keep the k most similar of crowded rows
        order = np.lexsort((-values, rows))
        rows, cols, values = rows[order], cols[order], values[order]
        rank = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        keep = rank < k
        rows, cols, values = rows[keep], cols[keep], values[keep]
    return rows, cols, values


def exact_neighbours(vectors: np.ndarray, floor: float, k: int = K, rows: np.ndarray | None = None):
    """(rows, cols, sims) of each queried row's top-k neighbours at or above the floor, exactly, block by block."""
    n = len(vectors)
    queries = np.arange(n) if rows is None else np.asarray(rows)
    block = max(1, min(4096, BLOCK_CELLS // max(n, 1)))
    out_r, out_c, out_s = [], [], []
    for lo in range(0, len(queries), block):
        chunk = queries[lo : lo + block]
        sims = vectors[chunk] @ vectors.T
        sims[np.arange(len(chunk)), chunk] = -1.0  # not its own neighbour
        r, c, s = _top_k_above(sims, floor, k)
        out_r.append(chunk[r]), out_c.append(c), out_s.append(s)
    if not out_r:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return np.concatenate(out_r), np.concatenate(out_c), np.concatenate(out_s)


def hnsw_index(vectors: np.ndarray):
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 64
    index.add(vectors)
    index.hnsw.efSearch = 96
    return index


def ivf_index(vectors: np.ndarray):
    import faiss

    n, d = vectors.shape
    nlist = int(np.clip(2 * np.sqrt(n), 16, 2048))
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = vectors if n <= 64 * nlist else vectors[np.random.default_rng(0).choice(n, 64 * nlist, replace=False)]
    index.train(sample)
    index.add(vectors)
    index.nprobe = 16
    return index


def approximate_neighbours(vectors: np.ndarray, floor: float, index, kind: str, k: int = K, progress=None):
    """(rows, cols, sims) of each row's top-k neighbours at or above the floor in a faiss `index` of the vectors.

    An IVF index is searched list by list (`ivf_search`); the result is read back in row order, as before."""
    out_r, out_c, out_s = [], [], []
    step = 8192
    found = ivf_search(vectors, index, k + 1, progress) if kind == "ivf" else None
    for lo in range(0, len(vectors), step):
        if found is None:
            sims, cols = index.search(vectors[lo : lo + step], k + 1)
            if progress:
                progress(min(lo + step, len(vectors)), len(vectors), f"searching neighbours ({kind})")
        else:
            sims, cols = found[0][lo : lo + step], found[1][lo : lo + step]
        rows = np.repeat(np.arange(lo, lo + len(sims), dtype=np.int32), k + 1).reshape(sims.shape)
        keep = (sims >= floor) & (cols >= 0)
        out_r.append(rows[keep]), out_c.append(cols[keep].astype(np.int32)), out_s.append(sims[keep])
    return np.concatenate(out_r), np.concatenate(out_c), np.concatenate(out_s)


def ivf_search(vectors: np.ndarray, index, k: int, progress=None, step: int = 8192,
               threads=None) -> tuple[np.ndarray, np.ndarray]:
    """(sims, cols) of `index.search(vectors, k)`, the same numbers, with the queries taken in the order of their nearest list.
    `threads()`, when given, is asked before each `step` queries how many OpenMP threads to search them on (this
    thread's setting: export's leakage check takes one core while the records render, both after).

    Issue 18: faiss searches queries in the order given, each scanning its `nprobe` lists; at 1M records the lists (1 GB)
    do not fit in the cache, so each query read them from memory again. Queries that share their nearest list share most
    of their lists: taken together, the lists they scan stay in the cache. Each query's result does not depend on the
    others, so the pairs are exactly those of the plain search (a test holds this)."""
    import faiss

    n = len(vectors)
    nprobe = index.nprobe
    # Mode 3: `search_preassigned` shares its queries among faiss's threads. In mode 0 only `index.search` does (it cuts
    # the queries into one slice per thread before it calls `search_preassigned`), so the 1M search ran on one core
    # (issue 18: 2x on two cores, the same results).
    index.parallel_mode = 3
    coarse_sims = np.empty((n, nprobe), dtype=np.float32)
    coarse = np.empty((n, nprobe), dtype=np.int64)
    for lo in range(0, n, step):  # the lists each query scans: what `index.search` would find first
        coarse_sims[lo : lo + step], coarse[lo : lo + step] = index.quantizer.search(vectors[lo : lo + step], nprobe)
    order = np.argsort(coarse[:, 0], kind="stable")
    sims = np.empty((n, k), dtype=np.float32)
    cols = np.empty((n, k), dtype=np.int32 if n < 2**31 else np.int64)  # -1 where a list ran short
    for lo in range(0, n, step):
        chosen = order[lo : lo + step]
        if threads is not None:
            faiss.omp_set_num_threads(threads())
        sims[chosen], cols[chosen] = index.search_preassigned(vectors[chosen], k, coarse[chosen], coarse_sims[chosen])
        if progress:
            progress(min(lo + step, n), n, "searching neighbours (ivf)")
    return sims, cols


def choose_index(n: int, index: str = "auto") -> str:
    chosen = names.lookup(INDEXES, index, "index")
    return chosen.choose(n) if chosen.choose else index


def neighbour_pairs(vectors: np.ndarray, floor: float, index: str = "auto", k: int = K, progress=None) -> Pairs:
    """Every pair of rows whose cosine similarity is at or above `floor` (each row's k nearest at most)."""
    start = time.perf_counter()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    kind = choose_index(n, index)
    if n < 2:
        return Pairs.empty(index=kind, recall=1.0, seconds=0.0)
    from curation.executor import InProcess, current, search_elsewhere

    found = None
    if not isinstance(current(), InProcess) and kind in ("exact", "ivf", "hnsw"):  # issue 18: query rows sharded, index broadcast
        build = {"exact": None, "ivf": ivf_index, "hnsw": hnsw_index}[kind]
        found = search_elsewhere(vectors, floor, kind, k, build(vectors) if build else None)
    rows, cols, sims = found if found is not None else INDEXES[kind].search(vectors, floor, k, progress)
    pairs = unique_pairs(rows, cols, sims, n)
    pairs.info = {"index": kind, "k": k, "floor": floor, "seconds": round(time.perf_counter() - start, 3)}
    return pairs


def measured_recall(vectors: np.ndarray, pairs: Pairs, threshold: float, sample: int = 500, k: int = K, seed: int = 0) -> float:
    """Share of the exact search's pairs at or above `threshold` that `pairs` also found, over a sample of query rows."""
    n = len(vectors)
    rows = np.sort(np.random.default_rng(seed).choice(n, min(sample, n), replace=False))
    r, c, _ = exact_neighbours(np.ascontiguousarray(vectors, dtype=np.float32), threshold, k, rows=rows)
    truth = set(zip(np.minimum(r, c).tolist(), np.maximum(r, c).tolist()))
    if not truth:
        return 1.0
    found = pairs.above(threshold)
    sampled = np.isin(found.i, rows) | np.isin(found.j, rows)  # every true pair has a sampled end: the others never count
    mine = set(zip(found.i[sampled].tolist(), found.j[sampled].tolist()))  # issue 18: a set of all 20M pairs took 2 GB
    return round(len(truth & mine) / len(truth), 4)
