"""Lexical near-duplicates: MinHash over word shingles with LSH candidates (datasketch).

Surface copies (the same words, lightly edited) and paraphrases (the same
meaning, other words) are different problems: MinHash finds the first without a
model and is blind to the second. The similarity is the estimated Jaccard
similarity of the two texts' sets of word `SHINGLE`-grams.
"""

from __future__ import annotations

import re
import time

import numpy as np

from curation.dedup.neighbours import K, Pairs, unique_pairs

SHINGLE = 2
NUM_PERM = 128
_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = SHINGLE) -> set[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) <= size:
        return {" ".join(words).encode()}
    return {" ".join(words[i : i + size]).encode() for i in range(len(words) - size + 1)}


def minhashes(texts: list[str], num_perm: int = NUM_PERM) -> list:
    from datasketch import MinHash

    return MinHash.bulk([shingles(t) for t in texts], num_perm=num_perm, seed=1) if texts else []


def stacked(hashes: list, num_perm: int = NUM_PERM) -> np.ndarray:
    """The signatures of MinHash objects as one (n, num_perm) uint64 array."""
    return np.vstack([h.hashvalues for h in hashes]).astype(np.uint64) if hashes else np.zeros((0, num_perm), np.uint64)


def signatures(texts: list[str], num_perm: int = NUM_PERM) -> np.ndarray:
    """One MinHash signature per text: (n, num_perm) uint64."""
    return stacked(minhashes(texts, num_perm), num_perm)


def jaccard(a: str, b: str) -> float:
    """Exact Jaccard similarity of two texts' shingle sets (what MinHash estimates)."""
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


def minhash_pairs(texts: list[str], floor: float, k: int = K, progress=None) -> Pairs:
    """Pairs whose estimated Jaccard similarity is at or above `floor` (each text's k most similar at most)."""
    from datasketch import MinHashLSH

    start = time.perf_counter()
    n = len(texts)
    hashes = minhashes(texts)
    sigs = stacked(hashes)
    if n < 2:
        return Pairs.empty(index="minhash-lsh", seconds=0.0)
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
        if progress and (row % 5000 == 0 or row == n - 1):
            progress(row + 1, n, "comparing MinHash signatures")
    if not out_r:
        return Pairs.empty(index="minhash-lsh", seconds=round(time.perf_counter() - start, 3))
    pairs = unique_pairs(np.concatenate(out_r), np.concatenate(out_c), np.concatenate(out_s), n)
    pairs.info = {"index": "minhash-lsh", "k": k, "floor": floor, "seconds": round(time.perf_counter() - start, 3)}
    return pairs
