"""Lexical near-duplicates: MinHash over word shingles with LSH candidates, vectorised in numpy.

Surface copies (the same words, lightly edited) and paraphrases (the same
meaning, other words) are different problems: MinHash finds the first without a
model and is blind to the second. The similarity is the estimated Jaccard
similarity of the two texts' sets of word `SHINGLE`-grams.

The signatures are datasketch's, bit for bit (`MinHash(num_perm=128, seed=1)`,
its default affine32 scheme: SHA-1 of each shingle, its first 4 bytes, the
MurmurHash3 finaliser, then `a * h + b` modulo 2^32 per permutation), and the LSH
bands are datasketch's (`MinHashLSH(threshold)`'s bands and rows): the candidate
pairs are the same. What is faster (issue 18, bench/minhash_vs_bare.py):

- each distinct shingle of the corpus is hashed once (SHA-1 per shingle was ~40%
  of the time): words become integer codes, a bigram is a pair of codes, and only
  distinct pairs are turned back into text and hashed;
- all permutations of a block of documents are one numpy expression, reduced per
  document with `np.minimum.reduceat`;
- LSH banding sorts each band's values instead of filling Python dicts, and the
  estimated similarity of every candidate pair is computed in blocks.

`reference_pairs` keeps the former implementation on datasketch's own objects:
the tests and the bench check that both give the same pairs.
"""

from __future__ import annotations

import functools
import hashlib
import time

import numpy as np

from curation.dedup import wordcodes
from curation.dedup.neighbours import K, Pairs, unique_pairs

SHINGLE = 2
NUM_PERM = 128
SEED = 1
MERGE_EVERY = 1 << 22  # candidate pair keys held before pairs found in several bands are merged


words = wordcodes.words


def shingles(text: str, size: int = SHINGLE) -> set[bytes]:
    ws = words(text)
    if len(ws) <= size:
        return {" ".join(ws).encode()}
    return {" ".join(ws[i : i + size]).encode() for i in range(len(ws) - size + 1)}


def jaccard(a: str, b: str) -> float:
    """Exact Jaccard similarity of two texts' shingle sets (what MinHash estimates)."""
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


@functools.lru_cache(maxsize=4)
def permutations(num_perm: int = NUM_PERM, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's permutation parameters (a, b) for this seed, uint32: its affine32 scheme, drawn as
    `MinHash._init_permutations` draws them (importing datasketch for this took a second of every run; the tests
    compare with datasketch's own)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)  # odd: a bijection mod 2^32
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (what datasketch applies to each shingle hash before permuting)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def sha1_32(data: bytes) -> int:
    """datasketch's `sha1_hash32`: the first 4 bytes of SHA-1, little-endian."""
    return int.from_bytes(hashlib.sha1(data).digest()[:4], "little")


def shingle_codes(texts: list[str], size: int = SHINGLE) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """Every text's shingles as codes into one table of distinct shingles.

    Returns (codes, counts, table): `codes` holds each text's shingles one after another (repeats within a text
    included; they do not change a minimum), `counts` how many each text has (at least one: a text of `size` words or
    fewer is one shingle, its words joined, as `shingles` does), and `table[code]` the shingle's bytes."""
    import pandas as pd

    word_codes, lengths, vocab = wordcodes.word_codes(texts)
    v = max(len(vocab), 1) + 1  # base of the key: code + 1, so that 0 means "no word" in short texts' keys
    if v ** size >= 2**62:  # a key would not fit in int64: hash the shingles' text instead (never at sizes we use)
        split = [words(t) for t in texts]
        keys = [" ".join(ws[i : i + size]) for ws in split for i in range(max(len(ws) - size + 1, 1))]
        counts = np.maximum(lengths - size + 1, 1)
        codes, table = pd.factorize(np.asarray(keys, dtype=object))
        return codes.astype(np.int64), counts, [s.encode() for s in table]
    ends = np.cumsum(lengths)
    starts = ends - lengths
    long = lengths > size
    counts = np.where(long, lengths - size + 1, 1)
    # long texts: a window of `size` words at each position that starts a full window inside its text
    window_starts = np.repeat(starts[long], counts[long]) + (np.arange(counts[long].sum()) - np.repeat(
        np.cumsum(counts[long]) - counts[long], counts[long]))
    long_keys = np.zeros(len(window_starts), np.int64)
    for i in range(size):
        long_keys = long_keys * v + word_codes[window_starts + i] + 1
    # short texts (size words or fewer): their words, left-padded with "no word" (0)
    short = np.flatnonzero(~long)
    short_keys = np.zeros(len(short), np.int64)
    for i in range(size):
        at = starts[short] + i - (size - lengths[short])  # the i-th of `size` slots, right-aligned
        present = at >= starts[short]
        short_keys = short_keys * v + np.where(present, word_codes[np.clip(at, 0, max(len(word_codes) - 1, 0))] + 1, 0)
    keys = np.empty(int(counts.sum()), np.int64)
    first = np.cumsum(counts) - counts
    is_long_row = np.repeat(long, counts)
    keys[is_long_row] = long_keys
    keys[first[short]] = short_keys
    codes, distinct = pd.factorize(keys)
    return codes.astype(np.int64), counts, shingle_bytes(distinct, vocab, v, size)


def shingle_bytes(keys: np.ndarray, vocab: list[str], v: int, size: int) -> list[bytes]:
    """Each key's shingle as `shingles` writes it: its words (key digits in base v, 0 for "no word") joined by spaces."""
    digits = []
    for _ in range(size):
        keys, code = np.divmod(keys, v)
        digits.append(code.tolist())
    spelled = [b""] + [w.encode() for w in vocab]
    if size == 2:  # the shingles we use: one join per shingle, no inner loop
        return [spelled[a] + b" " + spelled[b] if a else spelled[b] for b, a in zip(*digits)]
    return [b" ".join([spelled[c] for c in reversed(row) if c]) for row in zip(*digits)]


def signatures(texts: list[str], num_perm: int = NUM_PERM, seed: int = SEED) -> np.ndarray:
    """One MinHash signature per text, (n, num_perm) uint64: datasketch's `MinHash(num_perm, seed)` hash values."""
    return signatures32(texts, num_perm, seed).astype(np.uint64)


def signatures32(texts: list[str], num_perm: int = NUM_PERM, seed: int = SEED) -> np.ndarray:
    """`signatures` as uint32 (datasketch's affine32 values fit in 32 bits)."""
    if not texts:
        return np.zeros((0, num_perm), np.uint32)
    codes, counts, table = shingle_codes(texts)
    hashed = fmix32(np.fromiter(map(sha1_32, table), dtype=np.uint32, count=len(table)))[codes]
    a, b = permutations(num_perm, seed)
    out = np.empty((len(texts), num_perm), np.uint32)
    _min_kernel()(hashed, np.r_[0, np.cumsum(counts)].astype(np.int64), a, b, out)
    return out


@functools.cache
def _min_kernel():
    """The per-document minimum of `a * h + b` (mod 2^32) over its shingle hashes h, for every permutation (a, b),
    compiled by numba (cached on disk after the first compilation)."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def kernel(hashed, offsets, a, b, out):  # pragma: no cover - compiled
        for d in range(len(offsets) - 1):
            row = out[d]
            for p in range(len(a)):
                row[p] = np.uint32(0xFFFFFFFF)
            for s in range(offsets[d], offsets[d + 1]):
                h = np.uint64(hashed[s])
                for p in range(len(a)):
                    v = np.uint32((h * np.uint64(a[p]) + np.uint64(b[p])) & np.uint64(0xFFFFFFFF))
                    if v < row[p]:
                        row[p] = v

    return kernel


def lsh_bands(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """datasketch's (bands, rows) for a threshold (`MinHashLSH`'s `_optimal_param`, equal weights on false positives
    and negatives): the (b, r) with b·r ≤ num_perm that minimises the area under the collision curve below the
    threshold plus the area above the curve from it, the first in datasketch's loop order on a tie. The integrands
    are polynomials of degree b·r ≤ num_perm, so Gauss-Legendre quadrature with more than num_perm / 2 points gives
    them exactly, without importing datasketch and scipy's integrator (a second of every run)."""
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 2)
    below = threshold / 2 * (nodes + 1)  # the nodes mapped onto [0, threshold] and [threshold, 1]
    above = threshold + (1 - threshold) / 2 * (nodes + 1)
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = threshold / 2 * weights @ (1 - (1 - below ** float(r)) ** float(b))
            fn = (1 - threshold) / 2 * weights @ (1 - (1 - (1 - above ** float(r)) ** float(b)))
            if 0.5 * fp + 0.5 * fn < best:
                best, opt = 0.5 * fp + 0.5 * fn, (b, r)
    return opt


def bucket_pairs(order: np.ndarray, starts: np.ndarray, sizes: np.ndarray, n: int) -> np.ndarray:
    """Every pair within each bucket (the rows `order[start : start + size]`), as keys min * n + max."""
    counts = sizes * (sizes - 1) // 2
    total = int(counts.sum())
    if not total:
        return np.zeros(0, np.int64)
    # position x of a bucket pairs with the positions after it: (size - 1 - x) pairs
    first = np.repeat(starts, sizes)
    x = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    after = np.repeat(sizes, sizes) - 1 - x
    pos = first + x
    left = np.repeat(pos, after)
    right = left + 1 + (np.arange(total) - np.repeat(np.cumsum(after) - after, after))
    a, b = order[left].astype(np.int64), order[right].astype(np.int64)
    return np.minimum(a, b) * n + np.maximum(a, b)


def band_pairs(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Every pair (i < j) of rows that agree on all values of at least one band, as keys i * n + j (sorted, unique)."""
    n = len(sigs)
    found: list[np.ndarray] = []
    pending = 0
    for band in range(bands):
        part = sigs[:, band * rows : (band + 1) * rows]
        order = np.lexsort(part.T[::-1])  # rows with equal values in the band end up next to each other
        ordered = part[order]
        starts = np.flatnonzero(np.r_[True, (ordered[1:] != ordered[:-1]).any(axis=1)])
        sizes = np.diff(np.r_[starts, n])
        crowded = sizes > 1
        found.append(bucket_pairs(order, starts[crowded], sizes[crowded], n))
        pending += len(found[-1])
        if pending > MERGE_EVERY:  # a pair found in many bands is kept once: merge as we go
            found = [distinct(np.concatenate(found))]
            pending = len(found[0])
    return distinct(np.concatenate(found)) if found else np.zeros(0, np.int64)


def distinct(keys: np.ndarray) -> np.ndarray:
    """The sorted distinct values (np.unique's hash table is pathologically slow on these structured keys)."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def estimated(sigs: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The estimated Jaccard similarity of each pair (i[k], j[k]): the share of equal signature values."""
    out = np.empty(len(i), np.float32)
    _equal_kernel()(sigs, i.astype(np.int64), j.astype(np.int64), out)
    return out


@functools.cache
def _equal_kernel():
    import numba

    @numba.njit(cache=True, nogil=True)
    def kernel(sigs, i, j, out):  # pragma: no cover - compiled
        width = sigs.shape[1]
        for k in range(len(i)):
            a, b = sigs[i[k]], sigs[j[k]]
            same = 0
            for p in range(width):
                same += a[p] == b[p]
            out[k] = np.float32(same / width)

    return kernel


def top_k(i: np.ndarray, j: np.ndarray, sim: np.ndarray, k: int) -> np.ndarray:
    """Which pairs to keep: each i's k most similar j (ties: the lower j), given pairs sorted by (i, j)."""
    counts = np.bincount(i)
    if counts.max(initial=0) <= k:
        return np.ones(len(i), bool)
    order = np.lexsort((j, -sim, i))
    rank = np.empty(len(i), np.int64)
    rank[order] = np.arange(len(i)) - np.repeat(np.cumsum(counts) - counts, counts)
    return rank < k


def minhash_pairs(texts: list[str], floor: float, k: int = K, progress=None) -> Pairs:
    """Pairs whose estimated Jaccard similarity is at or above `floor` (each text's k most similar later texts at most).

    The candidates are the pairs that share an LSH band (datasketch's bands and rows for the floor)."""
    start = time.perf_counter()
    n = len(texts)
    if n < 2:
        return Pairs.empty(index="minhash-lsh", seconds=0.0)
    if progress:
        progress(0, n, "hashing shingles")
    sigs = signatures32(texts)
    if progress:
        progress(n // 2, n, "comparing MinHash signatures")
    keys = band_pairs(sigs, *lsh_bands(max(floor, 0.05)))
    i, j = keys // n, keys % n
    sim = estimated(sigs, i, j)
    keep = sim >= floor
    i, j, sim = i[keep], j[keep], sim[keep]
    keep = top_k(i, j, sim, k)
    if progress:
        progress(n, n, "comparing MinHash signatures")
    info = {"index": "minhash-lsh", "k": k, "floor": floor, "seconds": round(time.perf_counter() - start, 3)}
    if not keep.any():
        return Pairs.empty(index="minhash-lsh", seconds=info["seconds"])
    pairs = unique_pairs(i[keep], j[keep], sim[keep], n)
    pairs.info = info
    return pairs


def reference_pairs(texts: list[str], floor: float, k: int = K, progress=None) -> Pairs:
    """The former implementation, on datasketch's own MinHash and MinHashLSH objects (for tests and the bench).

    Where a text has more than k candidates it keeps the first k of a stable sort by similarity in the order
    `MinHashLSH.query` returns them (a set's order): ties at the k-th place may fall otherwise than in `minhash_pairs`."""
    from datasketch import MinHash, MinHashLSH

    n = len(texts)
    hashes = MinHash.bulk([shingles(t) for t in texts], num_perm=NUM_PERM, seed=SEED) if texts else []
    if n < 2:
        return Pairs.empty(index="minhash-lsh", seconds=0.0)
    sigs = np.vstack([h.hashvalues for h in hashes]).astype(np.uint64)
    lsh = MinHashLSH(threshold=max(floor, 0.05), num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for row in range(n):
            session.insert(row, hashes[row], check_duplication=False)
    out_r, out_c, out_s = [], [], []
    for row in range(n):
        found = np.fromiter((c for c in lsh.query(hashes[row]) if c > row), dtype=np.int64)
        if len(found):
            est = (sigs[found] == sigs[row]).mean(axis=1).astype(np.float32)
            keep = est >= floor
            found, est = found[keep], est[keep]
            if len(found) > k:
                top = np.argsort(-est, kind="stable")[:k]
                found, est = found[top], est[top]
            out_r.append(np.full(len(found), row)), out_c.append(found), out_s.append(est)
    if not out_r or not sum(map(len, out_r)):
        return Pairs.empty(index="minhash-lsh", seconds=0.0)
    pairs = unique_pairs(np.concatenate(out_r), np.concatenate(out_c), np.concatenate(out_s), n)
    pairs.info = {"index": "minhash-lsh", "k": k, "floor": floor}
    return pairs
