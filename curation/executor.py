"""Executors: where the heavy stages run (issue 18) — in this process, a local process pool, or a Ray cluster.

Signals, embedding, near-duplicate candidate search and scoring each cut their
work into shards (chunks of a record part, batches of texts, blocks of query
rows) and call `current().map(fn, shards, shared=...)`: a pure function
`fn(shard, shared)` applied to every shard, results returned in shard order.
The driver (this process) then writes them to the workspace exactly as the
in-process run does — the same cached Parquet and `.npy` files — so the
workspace stays the single source of truth and workers never write to it.

- `inprocess` (default): a plain loop, nothing started;
- `processes`: a local `ProcessPoolExecutor` (spawned workers; `workers` of them, default one per core);
- `ray`: Ray Data over a Ray cluster (`address`: `auto`, `ray://head:10001`, or empty to start a local one).
  Shards travel through Ray's object store, `shared` is put there once; embedding tasks ask for a GPU when
  the cluster has one. Ray is imported only here, only when this executor runs (`pip install "ray[data]"`).

`shared` is the broadcast value (the tokenizer name, the embedding model, the vectors and index to search):
sent once per worker, not once per shard. The executor in force is a context value: the CLI sets it
(`use(...)`) from `--executor` or the workspace's `ExecutorSettings`; library code calls `current()`.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from curation.errors import CurationError
from curation.settings import StageSettings

KINDS = ("inprocess", "processes", "ray")
Done = Callable[[int, object], None]  # called with (shard index, result) as each shard finishes


@dataclass(frozen=True)
class ExecutorSettings(StageSettings):
    """Where heavy stages run (kept in the workspace)."""

    stage = "executor"
    kind: str = "inprocess"  # one of KINDS
    address: str = ""  # ray: the cluster's address ("auto", "ray://head:10001"); empty: start a local Ray
    workers: int = 0  # processes: pool size; ray: shards run at once; 0: one per core / as the cluster allows

    def check(self) -> None:
        if self.kind not in KINDS:
            raise CurationError(f"unknown executor {self.kind!r}: choose one of {', '.join(KINDS)}")
        if not isinstance(self.workers, int) or self.workers < 0:
            raise CurationError(f"executor workers must be a whole number >= 0, got {self.workers!r}")


class Executor:
    name = ""
    description = ""

    def map(self, fn: Callable, shards: Sequence, *, shared=None, gpu: bool = False, done: Done | None = None) -> list:
        """[fn(shard, shared) for shard in shards], in shard order; `gpu`: the work benefits from a GPU."""
        raise NotImplementedError


class InProcess(Executor):
    name = "inprocess"
    description = "in this process, shard after shard (the default; nothing to start)"

    def map(self, fn, shards, *, shared=None, gpu=False, done=None):
        out = []
        for i, shard in enumerate(shards):
            out.append(fn(shard, shared))
            if done:
                done(i, out[-1])
        return out


# --- processes -----------------------------------------------------------------------------------------------

_SHARED = None


def _init_worker(blob: bytes) -> None:
    global _SHARED
    _SHARED = pickle.loads(blob)


def _call(fn, shard):
    return fn(shard, _SHARED)


class Processes(Executor):
    name = "processes"
    description = "a local process pool (spawned workers, one per core unless `workers` says otherwise)"

    def __init__(self, workers: int = 0):
        self.workers = workers

    def map(self, fn, shards, *, shared=None, gpu=False, done=None):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if not shards:
            return []
        workers = min(self.workers or os.cpu_count() or 1, len(shards))
        # spawn, not fork: the parent may hold threads (torch, faiss, the tokenizer's pool) that fork would copy locked
        context = multiprocessing.get_context("spawn")
        out: list = [None] * len(shards)
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                 initargs=(pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL),)) as pool:
            futures = {pool.submit(_call, fn, shard): i for i, shard in enumerate(shards)}
            from concurrent.futures import as_completed

            for future in as_completed(futures):
                i = futures[future]
                out[i] = future.result()
                if done:
                    done(i, out[i])
        return out


# --- ray -----------------------------------------------------------------------------------------------------

def _ray_batch(batch, fn, refs, shared_ref):
    """One Ray Data batch: run `fn` on each shard it names (fetched from the object store); results pickled."""
    import numpy as np
    import ray

    shared = ray.get(shared_ref)
    results = [pickle.dumps(fn(ray.get(refs[int(i)]), shared), protocol=pickle.HIGHEST_PROTOCOL) for i in batch["i"]]
    return {"i": np.asarray(batch["i"]), "result": np.array(results, dtype=object)}


class Ray(Executor):
    name = "ray"
    description = ('Ray Data on a Ray cluster (by address, or a local one); GPUs for embedding when the cluster has them '
                   '(pip install "ray[data]")')

    def __init__(self, address: str = "", workers: int = 0):
        self.address, self.workers = address, workers

    def connect(self):
        try:
            import ray
        except ImportError:
            raise CurationError('the ray executor needs Ray Data: pip install "ray[data]"') from None
        if not ray.is_initialized():
            import curation

            reachable(self.address)

            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            # workers get this package from the driver, so a cluster needs only Python and the dependencies
            runtime_env = {"py_modules": [os.path.dirname(curation.__file__)]} if self.address else None
            try:
                ray.init(address=self.address or None, runtime_env=runtime_env, include_dashboard=False,
                         log_to_driver=False, configure_logging=False, ignore_reinit_error=True)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise CurationError(f"could not reach the Ray cluster at {self.address or 'a new local one'}: {exc}") from None
        return ray

    def map(self, fn, shards, *, shared=None, gpu=False, done=None):
        if not shards:
            return []
        ray = self.connect()
        import ray.data as ray_data

        context = ray_data.DataContext.get_current()
        context.enable_progress_bars = False
        refs = [ray.put(shard) for shard in shards]
        shared_ref = ray.put(shared)
        use_gpu = gpu and ray.cluster_resources().get("GPU", 0) >= 1
        options = {"num_gpus": 1} if use_gpu else {"num_cpus": 1}
        if self.workers:
            options["concurrency"] = self.workers
        ds = ray_data.from_items([{"i": i} for i in range(len(shards))], override_num_blocks=len(shards))
        ds = ds.map_batches(_ray_batch, batch_size=1, batch_format="numpy",
                            fn_kwargs={"fn": fn, "refs": refs, "shared_ref": shared_ref}, **options)
        out: list = [None] * len(shards)
        seen = 0
        for batch in ds.iter_batches(batch_size=1, batch_format="numpy"):
            for i, blob in zip(batch["i"], batch["result"]):
                out[int(i)] = pickle.loads(blob)
                seen += 1
                if done:
                    done(int(i), out[int(i)])
        if seen != len(shards):
            raise CurationError(f"Ray returned {seen} of {len(shards)} shards")
        return out


def reachable(address: str, timeout: float = 5.0) -> None:
    """A clear error at once when a host:port address answers nothing (Ray itself would retry for minutes)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():  # "auto", empty: Ray finds or starts the cluster itself
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise CurationError(f"no Ray cluster answers at {address}: {exc.strerror or exc} (start one with `ray start --head`, "
                            "or check --ray-address)",
                            dashboard=f"no Ray cluster answers at {address}: {exc.strerror or exc} (start one with "
                            "`ray start --head`, or check the cluster's address)") from None


EXECUTORS: dict[str, type[Executor]] = {cls.name: cls for cls in (InProcess, Processes, Ray)}


def make(kind: str = "inprocess", *, address: str = "", workers: int = 0) -> Executor:
    ExecutorSettings(kind, address or "", int(workers or 0)).check()
    if kind == "processes":
        return Processes(workers)
    if kind == "ray":
        return Ray(address, workers)
    return InProcess()


def from_settings(ws, *, kind: str | None = None, address: str | None = None, workers: int | None = None) -> Executor:
    """The executor the workspace keeps, with the values given kept as its new settings."""
    if kind is not None or address is not None or workers is not None:
        conf = ExecutorSettings.save(ws, kind=kind, address=address, workers=workers)
    else:
        conf = ExecutorSettings.load(ws)
    return make(conf.kind, address=conf.address, workers=conf.workers)


_CURRENT: contextvars.ContextVar[Executor | None] = contextvars.ContextVar("curation_executor", default=None)


def current() -> Executor:
    """The executor in force (in-process unless `use` set another)."""
    return _CURRENT.get() or InProcess()


@contextlib.contextmanager
def use(executor: Executor):
    """Run the heavy stages inside this block on `executor`."""
    token = _CURRENT.set(executor)
    try:
        yield executor
    finally:
        _CURRENT.reset(token)


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """(lo, hi) ranges of at most `size` covering range(n)."""
    return [(lo, min(lo + size, n)) for lo in range(0, n, max(1, size))]


# --- the stages' shard functions (module level: they travel to workers by name) -----------------------------

EMBED_SHARD_BATCHES = 16  # embedder batches per embedding task


def embed_model_spec(ws, model: str) -> tuple[str, str]:
    """What a worker needs to load the embedder without the workspace: ("static", its folder), ("onnx", a graph) or ("st", a model)."""
    from curation import embed

    if model == embed.FAST_MODEL:
        return "static", str(embed.distill_static(ws))
    if embed.vectors_name(ws, model) != model:  # the default model on the onnx backend: workers run the same int8 graph
        return "onnx", embed.ONNX_GRAPH
    return "st", model


def worker_embedder(spec: tuple[str, str]):
    from curation import embed

    kind, model = spec
    if kind == "static":
        static = embed._static_model(model)
        return embed.Embedder(embed.FAST_MODEL, lambda texts: static.encode(texts, show_progress_bar=False), static.dim,
                              batch_size=1024)
    if kind == "onnx":
        return embed.onnx_embedder(graph=model)
    path = embed.bundled_model_path() if model == embed.DEFAULT_MODEL else model
    return embed.sentence_embedder(model, path)


def encode_shard(texts: list[str], shared) -> object:
    """Vectors of a shard of texts, encoded in the embedder's batches exactly as the in-process loop cuts them."""
    import numpy as np

    spec, batch_size = shared
    embedder = worker_embedder(spec)
    blocks = [embedder.encode(texts[lo:hi]) for lo, hi in chunks(len(texts), batch_size)]
    return np.vstack(blocks) if blocks else np.zeros((0, embedder.dim), dtype=np.float32)


def encode_elsewhere(ws, model: str, texts: list[str], batch_size: int):
    """The hook `embed.embed_texts` calls: every text's vector computed by the executor in force, or None when
    that executor is in-process (the caller then encodes batch by batch itself)."""
    import numpy as np

    executor = current()
    if isinstance(executor, InProcess) or not texts:
        return None
    size = batch_size * EMBED_SHARD_BATCHES  # a multiple of the batch: the same batches as in-process
    blocks = executor.map(encode_shard, [texts[lo:hi] for lo, hi in chunks(len(texts), size)],
                          shared=(embed_model_spec(ws, model), batch_size), gpu=True)
    return np.vstack(blocks)


def search_shard(rows, shared):
    """Neighbours of a block of query rows against the broadcast vectors (exact) or index (faiss, serialised)."""
    import numpy as np

    vectors, floor, k, kind, blob, token = shared
    from curation.dedup import neighbours

    if kind == "exact":
        return neighbours.exact_neighbours(vectors, floor, k, rows=rows)
    index = _faiss_index(blob, token)
    if kind == "ivf":
        index.nprobe = 16
    else:
        index.hnsw.efSearch = 96
    sims, cols = index.search(vectors[rows], k + 1)
    rr = np.repeat(rows, k + 1).reshape(sims.shape)
    keep = (sims >= floor) & (cols >= 0)
    return rr[keep], cols[keep], sims[keep]


_INDEX_CACHE: dict = {}


def _faiss_index(blob, token: str):
    """The broadcast index, deserialised once per worker and search (`token` names the search)."""
    import faiss

    if token not in _INDEX_CACHE:
        _INDEX_CACHE.clear()
        _INDEX_CACHE[token] = faiss.deserialize_index(blob)
    return _INDEX_CACHE[token]


SEARCH_ROWS = 8192


def search_elsewhere(vectors, floor: float, kind: str, k: int, index=None):
    """The hook `neighbours.neighbour_pairs` calls: (rows, cols, sims) with the query rows sharded over the executor
    in force and the vectors (and faiss index) broadcast; None when that executor is in-process."""
    import numpy as np

    executor = current()
    if isinstance(executor, InProcess):
        return None
    from curation.dedup import neighbours

    n = len(vectors)
    if kind == "exact":  # whole blocks of the in-process search: the same matrix products, the same sums
        block = max(1, min(4096, neighbours.BLOCK_CELLS // max(n, 1)))
        step, blob = block * max(1, SEARCH_ROWS // block), None
    else:
        import faiss

        step, blob = SEARCH_ROWS, faiss.serialize_index(index)
    shards = [np.arange(lo, hi) for lo, hi in chunks(n, step)]
    import uuid

    found = executor.map(search_shard, shards, shared=(vectors, floor, k, kind, blob, uuid.uuid4().hex))
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return tuple(np.concatenate([part[j] for part in found]) for j in range(3))


def score_shard(batches, shared):
    """Scores of a shard of exchange batches: the scorer's model loaded once per worker, each batch as in-process."""
    name, root, opts = shared
    from curation.scorers import get_scorer

    scorer = get_scorer(name)
    key = (name, root, repr(sorted(opts.items())))
    if key not in _SCORER_STATE:
        _SCORER_STATE.clear()
        _SCORER_STATE[key] = scorer.load(_workspace(root), opts)
    return [scorer.compute(_SCORER_STATE[key], batch, opts) for batch in batches]


_SCORER_STATE: dict = {}


def _workspace(root):
    """The workspace for a scorer that reads it (the learned scorer); None where the worker has no copy of it."""
    from pathlib import Path

    from curation.workspace import Workspace, is_workspace

    return Workspace(root, create=False) if root and is_workspace(Path(root)) else None


SCORE_SHARD_BATCHES = 4


def score_elsewhere(scorer, ws, todo: list, size: int, opts: dict):
    """The hook `Scorer.score` calls: one result dict per exchange of `todo`, batches of `size` as in-process,
    computed by the executor in force; None when that executor is in-process."""
    executor = current()
    if isinstance(executor, InProcess) or not todo:
        return None
    batches = [todo[lo:hi] for lo, hi in chunks(len(todo), size)]
    shards = [batches[lo:hi] for lo, hi in chunks(len(batches), SCORE_SHARD_BATCHES)]
    done = executor.map(score_shard, shards, shared=(scorer.name, str(ws.root), opts), gpu=True)
    return [result for shard in done for batch in shard for result in batch]
