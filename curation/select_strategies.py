"""The selection strategies: each picks records one at a time, best next first, among the records it is allowed.

A strategy is a small stateful object over the pool's vectors (L2-normalised, one row per record) and quality scores:

- `add(indices)`: these records are in (the kept records at the start, then each pick);
- `next(allowed) -> index | None`: the best record to add next among `allowed` (a boolean mask), None when none fits;
- `restart()`: the allowed set may have grown (the driver moves from one floor's group to the next, or to the rest);
- `relax() -> bool`: loosen the strategy's own constraint when nothing fits (True if it had one to loosen);
  `unrelax()` restores it (the next phase starts strict again).

The driver (`curation.select.plan`) applies budget, caps and floors; strategies know nothing about them. Picks are
in the order of choice, so the first b picks are what a budget of b would choose (kept records first): the
trade-off curve reads prefixes of one run.

- `quality` (Deita-style): in descending quality order, a record joins only if its cosine similarity to every chosen
  record is below the threshold. Candidates come in blocks of `BLOCK`; each is compared with the records chosen when
  its block was loaded (a matrix product for `EXACT_BATCH` candidates at a time, when the scan reaches them) and with
  those chosen since (one product each). On a large pool (`INDEX_MIN` records or more) an inverted file of the chosen
  records (`ChosenIndex`) filters each block first: a candidate whose best chosen record in a few probed lists is
  already at the threshold is rejected (that similarity is a real one, so the exact test would reject it too); only
  the rest meet the exact test. A candidate at the threshold of an earlier one of its batch waits (if that one is
  picked, the `since` check rejects it), and one found too close stays out for good at that threshold (the chosen
  set only grows), so a new phase's scan from the top skips it. The picks are those of comparing every candidate
  with every chosen record; the exact work falls from scanned × chosen to about (picks + index misses) × chosen.
- `coverage`: greedy facility location weighted by quality: each step adds the record that most raises the coverage
  (mean similarity of every record to its nearest chosen one) times its quality score. The coverage is measured on a
  seeded sample of the pool (`CLIENTS` records), and the greedy is stochastic (each step weighs a random sample of
  the candidates, n/k·ln(1/ε) of them) over record × client similarities computed once, so a step reads a few
  hundred rows.
- `random`: a seeded permutation: the control.

`KCenter` (greedy k-center weighted by quality, O(n·d) a step) is the other coverage-first method; it is kept for
`bench/select_pool.py`, which measured it below random on coverage (it picks the outliers first), so it is not a
strategy.
"""

from __future__ import annotations

import contextlib

import numpy as np

BLOCK = 1024  # quality: candidates compared with the chosen set per matrix product
CLIENTS = 2048  # coverage: records the facility-location objective is measured on (at least; 4 per pick)
SIMS_BYTES = 256 * 2**20  # coverage: the most memory the record × client similarities may take
EPSILON = 0.01  # coverage: stochastic greedy's tolerance
MIN_SAMPLE = 256  # coverage: candidates weighed per step, at least
INDEX_MIN = 100_000  # quality: pools at least this large filter candidates through an index of the chosen records (measured:
# below, the scan without it is as fast: bench/select_scale.py --sizes)
PROBES = 4  # quality's index: the lists each candidate looks in (its nearest centroids)
PER_LIST = 512  # quality's index: about this many chosen records a list holds at the budget (4 probes of 512: the fewest
# exact comparisons on a 300k slice of the 1M pool, against 2 of 128: 51k vs 72k)
MAX_LISTS = 1024
SLACK = 1e-4  # quality's index: it rejects only at threshold + SLACK, so rounding never rejects what the exact test keeps
EXACT_BATCH = 64  # quality: candidates compared exactly with every chosen record per matrix product
TRAIN_ROUNDS = 4  # quality's index: spherical k-means rounds for its centroids (any centroids keep the picks exact)


class Strategy:
    """What the driver calls: `add(indices)` (chosen), `next(allowed)` (the next pick or None), and the phase hooks,
    no-ops by default: `restart()` (a new phase starts from the top), `relax()` (loosen a constraint when nothing
    is allowed; False when there is none) and `unrelax()` (back to the strict constraint)."""

    def restart(self) -> None:
        pass

    def relax(self) -> bool:
        return False

    def unrelax(self) -> None:
        pass


class Random(Strategy):
    def __init__(self, vectors: np.ndarray, quality: np.ndarray, *, seed: int = 0, **_):
        self.order = np.random.default_rng(seed).permutation(len(quality))
        self.pos = 0

    def add(self, indices) -> None:
        pass

    def restart(self) -> None:
        self.pos = 0

    def next(self, allowed: np.ndarray) -> int | None:
        return _first(self, self.order, allowed)


def _first(self, order: np.ndarray, ok: np.ndarray) -> int | None:
    """The first record from `self.pos` on in `order` that `ok` allows; the pointer skips what is not allowed (the
    driver only ever narrows the allowed set within one phase)."""
    while self.pos < len(order):
        chunk = order[self.pos : self.pos + BLOCK]
        hits = np.flatnonzero(ok[chunk])
        if len(hits):
            self.pos += int(hits[0])
            return int(chunk[hits[0]])
        self.pos += len(chunk)
    return None


class Quality(Strategy):
    """Descending quality; a record joins only if its similarity to every chosen record is below `threshold`."""

    def __init__(self, vectors: np.ndarray, quality: np.ndarray, *, threshold: float, seed: int = 0, budget: int = 1,
                 index: bool | None = None, **_):
        self.x, self.threshold = vectors, float(threshold)
        self.strict = self.threshold
        self.order = np.argsort(-quality, kind="stable")
        self.chosen: list[int] = []
        self.chosen_x = _Rows(vectors.shape[1], vectors.dtype)  # the chosen records' vectors, contiguous, in order
        if index is None:
            index = len(quality) >= INDEX_MIN
        self.index = ChosenIndex.train(vectors, lists=_lists(budget, len(quality)), seed=seed) if index else None
        self.exact_rows = 0  # candidates compared with every chosen record (what the index saves shows here)
        self.rejected = {"index": 0, "exact": 0, "since": 0}  # candidates found too close, by which test
        # Too close to a chosen record at the strict threshold: for good, as the chosen set only grows (a new phase's
        # scan from the top skips them instead of comparing them again).
        self.too_close = np.zeros(len(quality), dtype=bool)
        self.restart()

    def add(self, indices) -> None:
        idx = [int(i) for i in np.atleast_1d(indices)]
        self.chosen.extend(idx)
        self.chosen_x.extend(self.x[idx])

    def restart(self) -> None:
        self.pos = 0
        self.block: np.ndarray = np.zeros(0, dtype=np.int64)  # allowed candidates not yet found too close
        self.block_max = np.zeros(0, dtype=np.float32)  # their highest similarity to the chosen set (NaN: not compared yet)
        self.block_pos = 0
        self.known = 0  # how many of self.chosen the block is compared with

    def relax(self) -> bool:
        if np.isinf(self.threshold):
            return False
        self.threshold = np.inf
        self.restart()
        return True

    def unrelax(self) -> None:
        self.threshold = self.strict

    def _load(self, allowed: np.ndarray) -> bool:
        """The next block of allowed candidates in quality order that the index does not find too close to the chosen
        set (the exact comparison with it comes later, `EXACT_BATCH` candidates at a time, as `next` reaches them)."""
        while self.pos < len(self.order):
            chunk = self.order[self.pos : self.pos + BLOCK]
            self.pos += len(chunk)
            strict = np.isfinite(self.threshold)
            chunk = chunk[allowed[chunk] & ~self.too_close[chunk]] if strict else chunk[allowed[chunk]]
            if not len(chunk):
                continue
            self.known = len(self.chosen)
            if self.known and strict:
                chunk = self._not_near_in_index(chunk)
                sims = np.full(len(chunk), np.nan, dtype=np.float32)
            else:
                sims = np.full(len(chunk), -1.0, dtype=np.float32)
            if len(chunk):
                self.block, self.block_max, self.block_pos = chunk, sims, 0
                return True
        return False

    def _not_near_in_index(self, chunk: np.ndarray) -> np.ndarray:
        """The candidates of `chunk` the index (when there is one) does not find at the threshold of a chosen record."""
        if self.index is None:
            return chunk
        with _one_blas_thread():
            self.index.sync(self.chosen_x.view())
        near = self.index.best(self.x[chunk]) >= self.threshold + SLACK
        self.too_close[chunk[near]] = True
        self.rejected["index"] += int(near.sum())
        return chunk[~near]

    def _compare(self, at: int, allowed: np.ndarray) -> None:
        """The exact highest similarity to the chosen records the block is compared with (the first `known`), for the
        candidates from block position `at` on, `EXACT_BATCH` of those still allowed: one matrix product. Lazily, so
        that a near copy that a pick of this block rejects first (the `since` check) is never compared with them all."""
        pos = np.arange(at + 1, min(at + 4 * EXACT_BATCH, len(self.block)))
        who = self.block[pos]
        pos = np.concatenate([[at], pos[allowed[who] & ~self.too_close[who] & np.isnan(self.block_max[pos])]])
        with _one_blas_thread():  # a small product: on a busy machine a second thread mostly waits (measured 4x slower)
            pos = pos[~self._shadowed(self.block[pos])][:EXACT_BATCH]  # `at` first: never shadowed, always compared
            rows = self.block[pos]
            sims = max_similarity(self.x[rows], self.chosen_x.view()[: self.known])
        self.exact_rows += len(rows)
        self.block_max[pos] = sims
        close = sims >= self.threshold
        self.too_close[rows[close]] = True
        self.rejected["exact"] += int(close.sum())

    def _shadowed(self, rows: np.ndarray) -> np.ndarray:
        """Which of these candidates (in scan order) are at the threshold of an earlier one: their comparison waits,
        as that one, if picked, rejects them by the `since` check (near copies sit side by side in quality order)."""
        close = (self.x[rows] @ self.x[rows].T) >= self.threshold
        return np.triu(close, k=1).any(axis=0)

    def next(self, allowed: np.ndarray) -> int | None:
        while True:
            while self.block_pos < len(self.block):
                at = self.block_pos
                i = int(self.block[at])
                self.block_pos += 1
                if not allowed[i]:
                    continue
                since = self.chosen[self.known :]  # chosen after the block was compared: check those only
                if since and np.isfinite(self.threshold) and float((self.x[since] @ self.x[i]).max()) >= self.threshold:
                    self.too_close[i] = True
                    self.rejected["since"] += 1
                    continue
                if np.isnan(self.block_max[at]):
                    self._compare(at, allowed)
                if self.block_max[at] >= self.threshold:
                    continue
                return i
            if not self._load(allowed):
                return None


class _Rows:
    """A growing matrix of rows (capacity doubled as needed), read as one contiguous view without copying."""

    def __init__(self, dim: int, dtype=np.float32):
        self.data = np.empty((16, dim), dtype=dtype)
        self.n = 0

    def extend(self, rows: np.ndarray) -> None:
        need = self.n + len(rows)
        if need > len(self.data):
            grown = np.empty((max(need, 2 * len(self.data)), self.data.shape[1]), dtype=self.data.dtype)
            grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n : need] = rows
        self.n = need

    def view(self) -> np.ndarray:
        return self.data[: self.n]


def _lists(budget: int, n: int) -> int:
    """The index's list count: about PER_LIST chosen records a list at the budget, within [16, MAX_LISTS]."""
    return int(np.clip(min(budget, n) // PER_LIST, 16, MAX_LISTS))


class ChosenIndex:
    """An inverted file over the chosen records: each one sits in the list of its nearest centroid, and a candidate
    looks in the lists of its `PROBES` nearest centroids for its most similar chosen record.

    What it finds is a lower bound of the candidate's highest similarity to the chosen set (a real similarity to a
    real chosen record), so it can only reject what the exact test rejects; what it misses costs time, never a
    different pick. Centroids come from a few rounds of spherical k-means on a seeded sample of the pool."""

    def __init__(self, centroids: np.ndarray, probes: int | None = None):
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        self.probes = min(probes or PROBES, len(centroids))
        self.lists = [_Rows(centroids.shape[1]) for _ in range(len(centroids))]
        self.size = 0

    @classmethod
    def train(cls, vectors: np.ndarray, *, lists: int, seed: int = 0, rounds: int = TRAIN_ROUNDS) -> ChosenIndex:
        rng = np.random.default_rng(seed)
        lists = min(lists, len(vectors))
        sample = vectors[np.sort(rng.choice(len(vectors), size=min(len(vectors), 16 * lists), replace=False))]
        centroids = sample[rng.choice(len(sample), size=lists, replace=False)].astype(np.float32)
        for _ in range(rounds):
            assign = _nearest_centroid(sample, centroids)
            sums = np.zeros_like(centroids)
            np.add.at(sums, assign, sample)
            norms = np.linalg.norm(sums, axis=1)
            filled = norms > 0
            centroids[filled] = sums[filled] / norms[filled, None]  # an empty list keeps its centroid
        return cls(centroids)

    def sync(self, chosen: np.ndarray) -> None:
        """Add the chosen records not indexed yet (`chosen` holds every chosen vector, in the order of choice)."""
        new = chosen[self.size :]
        if not len(new):
            return
        assign = _nearest_centroid(new, self.centroids)
        order = np.argsort(assign, kind="stable")
        bounds = np.flatnonzero(np.diff(assign[order])) + 1
        for part in np.split(order, bounds):
            self.lists[int(assign[part[0]])].extend(new[part])
        self.size = len(chosen)

    def best(self, q: np.ndarray) -> np.ndarray:
        """Each query's highest similarity to an indexed record among its probed lists (-1 where they are empty)."""
        out = np.full(len(q), -1.0, dtype=np.float32)
        if not len(q) or not self.size:
            return out
        with _one_blas_thread():  # many small products: threads only wait for each other
            probed = _top(q @ self.centroids.T, self.probes)
            rows = np.repeat(np.arange(len(q)), probed.shape[1])
            lists = probed.ravel()
            order = np.argsort(lists, kind="stable")
            rows, lists = rows[order], lists[order]
            bounds = np.flatnonzero(np.diff(lists)) + 1
            for part in np.split(np.arange(len(lists)), bounds):
                members = self.lists[int(lists[part[0]])].view()
                if len(members):
                    who = rows[part]  # distinct queries: each probes a list once
                    out[who] = np.maximum(out[who], (q[who] @ members.T).max(axis=1))
        return out


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Each row's k highest columns (any order), by k argmax passes: faster than argpartition for a small k."""
    if k >= scores.shape[1]:
        return np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    scores = scores.copy()
    out = np.empty((len(scores), k), dtype=np.int64)
    rows = np.arange(len(scores))
    for j in range(k):
        out[:, j] = scores.argmax(axis=1)
        scores[rows, out[:, j]] = -np.inf
    return out


def _one_blas_thread():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # a scikit-learn dependency; without it, BLAS keeps its threads
        return contextlib.nullcontext()
    global _CONTROLLER
    _CONTROLLER = _CONTROLLER or ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


_CONTROLLER = None


def _nearest_centroid(x: np.ndarray, centroids: np.ndarray, block: int = 8192) -> np.ndarray:
    return np.concatenate([(x[lo : lo + block] @ centroids.T).argmax(axis=1) for lo in range(0, len(x), block)]) \
        if len(x) else np.zeros(0, dtype=np.int64)


class FacilityLocation(Strategy):
    """Stochastic greedy facility location on a sample of clients, each candidate's gain weighted by its quality.

    Every record's similarity to every client is computed once (one matrix product in blocks, kept as float16:
    n × clients × 2 bytes); each step then weighs a random sample of n/k·ln(1/ε) candidates (stochastic greedy,
    Mirzasoleiman et al. 2015: within 1 - 1/e - ε of the greedy's value in expectation) by reading their rows."""

    def __init__(self, vectors: np.ndarray, quality: np.ndarray, *, seed: int = 0, budget: int = 1, epsilon: float = EPSILON,
                 **_):
        n = len(quality)
        self.rng = np.random.default_rng(seed)
        m = int(min(n, max(CLIENTS, 4 * budget), max(CLIENTS, SIMS_BYTES // (2 * max(n, 1)))))
        clients = np.ascontiguousarray(vectors[np.sort(self.rng.choice(n, size=m, replace=False))].T)
        self.sims = np.empty((n, m), dtype=np.float16)
        for lo in range(0, n, 4096):
            self.sims[lo : lo + 4096] = vectors[lo : lo + 4096] @ clients
        self.cur = np.zeros(m, dtype=np.float32)  # each client's similarity to its nearest chosen record (≥ 0)
        self.weight = np.clip(quality.astype(np.float32), 1e-3, None)
        self.sample = max(MIN_SAMPLE, int(np.ceil(n / max(budget, 1) * np.log(1 / epsilon))))

    def gains(self, idx: np.ndarray) -> np.ndarray:
        return np.maximum(self.sims[idx].astype(np.float32) - self.cur, 0).sum(axis=1) * self.weight[idx]

    def add(self, indices) -> None:
        idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        for lo in range(0, len(idx), BLOCK):
            self.cur = np.maximum(self.cur, self.sims[idx[lo : lo + BLOCK]].max(axis=0).astype(np.float32))

    def next(self, allowed: np.ndarray) -> int | None:
        idx = np.flatnonzero(allowed)
        if not len(idx):
            return None
        if len(idx) > self.sample:
            idx = self.rng.choice(idx, size=self.sample, replace=False)
        return int(idx[np.argmax(self.gains(idx))])


class KCenter(Strategy):
    """Greedy k-center weighted by quality: each step adds the record farthest from the chosen set (1 - its highest
    similarity to a chosen record) times its quality score; distances are updated incrementally, O(n·d) a step."""

    def __init__(self, vectors: np.ndarray, quality: np.ndarray, **_):
        self.x = vectors
        self.best = np.full(len(quality), -1.0, dtype=np.float32)  # highest similarity to a chosen record
        self.weight = np.clip(quality.astype(np.float32), 1e-3, None)
        self.first = int(np.argmax(quality)) if len(quality) else None

    def add(self, indices) -> None:
        idx = np.atleast_1d(np.asarray(indices, dtype=np.int64))
        for lo in range(0, len(idx), BLOCK):
            part = idx[lo : lo + BLOCK]
            sims = self.x @ self.x[part[0]] if len(part) == 1 else (self.x @ self.x[part].T).max(axis=1)
            np.maximum(self.best, sims, out=self.best)

    def next(self, allowed: np.ndarray) -> int | None:
        if not allowed.any():
            return None
        score = np.where(allowed, (1.0 - self.best) * self.weight, -np.inf)
        return int(np.argmax(score))


STRATEGY_CLASSES = {"quality": Quality, "coverage": FacilityLocation, "random": Random}
COVERAGE = {"kcenter": KCenter, "facility": FacilityLocation}  # measured against each other in bench/select_pool.py


def max_similarity(a: np.ndarray, b: np.ndarray, block: int = 4096) -> np.ndarray:
    """For each row of `a`, its highest cosine similarity to a row of `b` (rows L2-normalised); -1 when `b` is empty."""
    out = np.full(len(a), -1.0, dtype=np.float32)
    for lo in range(0, len(b), block):
        out = np.maximum(out, (a @ b[lo : lo + block].T).max(axis=1))
    return out


def nearest(a: np.ndarray, b: np.ndarray, block: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """For each row of `a`: the row of `b` most similar to it, and that similarity."""
    best = np.full(len(a), -1.0, dtype=np.float32)
    arg = np.zeros(len(a), dtype=np.int64)
    for lo in range(0, len(b), block):
        sims = a @ b[lo : lo + block].T
        j = sims.argmax(axis=1)
        s = sims[np.arange(len(a)), j]
        better = s > best
        best[better], arg[better] = s[better], j[better] + lo
    return arg, best
