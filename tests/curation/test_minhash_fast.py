"""The vectorised MinHash (issue 18) against datasketch's own objects: same signatures, same pairs, same removals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from curation.dedup import minhash

T0 = Path(__file__).resolve().parents[3] / "shared" / "data" / "t0" / "t0_train_55k.jsonl"
EDGE_TEXTS = ["", "one", "two words", "a b c", "Ünïcode wörds, naïve café", "x" * 40, "the the the the", "  \n\t "]


def t0_texts(n: int) -> list[str]:
    if not T0.exists():
        pytest.skip("shared t0 data absent")
    with open(T0, encoding="utf-8") as fh:
        rows = [json.loads(line) for line, _ in zip(fh, range(n))]
    return [f"{r['prompt']}\n{r['completion']}" for r in rows]


def datasketch_signatures(texts: list[str]) -> np.ndarray:
    from datasketch import MinHash

    return np.vstack([m.hashvalues for m in MinHash.bulk([minhash.shingles(t) for t in texts], num_perm=128, seed=1)])


def pair_set(pairs) -> dict[tuple[int, int], float]:
    return {(int(i), int(j)): float(s) for i, j, s in zip(pairs.i, pairs.j, pairs.sim)}


def test_signatures_equal_datasketch_on_edge_texts():
    assert np.array_equal(minhash.signatures(EDGE_TEXTS), datasketch_signatures(EDGE_TEXTS).astype(np.uint64))


def test_signatures_equal_datasketch_on_real_records():
    texts = t0_texts(1500)[::3] + EDGE_TEXTS
    assert np.array_equal(minhash.signatures(texts), datasketch_signatures(texts).astype(np.uint64))


def test_pairs_equal_the_datasketch_reference_on_real_records():
    texts = t0_texts(2000)
    for floor in (0.45, 0.8):
        ours, ref = minhash.minhash_pairs(texts, floor, k=10**6), minhash.reference_pairs(texts, floor, k=10**6)
        assert len(ours) > 50
        assert pair_set(ours) == pair_set(ref)


def test_removal_sets_equal_the_reference_on_real_records(tmp_path, monkeypatch):
    """`dedup --method minhash` on real t0 records proposes the same rejections as the former implementation, which
    computed every record's signals and used datasketch's objects."""
    from curation.dedup import detect
    from curation.ingest import ingest
    from curation.workspace import Workspace

    t0_texts(1)
    with open(T0, encoding="utf-8") as fh:
        rows = [json.loads(line) for line, _ in zip(fh, range(2000))]
    rng = np.random.default_rng(0)
    for n, r in enumerate(rng.choice(len(rows), 120, replace=False).tolist()):  # planted: 60 exact, 60 one word changed
        copy = dict(rows[r])
        if n % 2:
            words = copy["prompt"].split()
            words[len(words) // 2] = "changed"
            copy["prompt"] = " ".join(words)
        rows.append(copy)
    src = tmp_path / "t0.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    ingest(ws, str(src))
    now = sorted(detect.find(ws, method="minhash", text="conversation").rejections())
    assert not (ws.root / "signals").exists() or not any((ws.root / "signals").glob("*.parquet"))  # only group members scored
    assert len(now) > 20
    for cache in ("dedup",):
        import shutil

        shutil.rmtree(ws.root / cache)
    monkeypatch.setattr(minhash, "minhash_pairs", minhash.reference_pairs)
    plain = detect.with_preference_columns
    monkeypatch.setattr(detect, "with_preference_columns", lambda ws, frame, rule, rows=None: plain(ws, frame, rule))
    before = sorted(detect.find(ws, method="minhash", text="conversation").rejections())
    assert now == before


def test_deterministic_and_order_free():
    texts = t0_texts(600) + EDGE_TEXTS
    a, b = minhash.minhash_pairs(texts, 0.5), minhash.minhash_pairs(texts, 0.5)
    assert pair_set(a) == pair_set(b)
    perm = np.random.default_rng(0).permutation(len(texts))
    sigs = minhash.signatures(texts)
    assert np.array_equal(minhash.signatures([texts[p] for p in perm]), sigs[perm])


def test_top_k_keeps_the_most_similar_then_the_lowest_column():
    texts = ["alpha beta gamma delta epsilon zeta eta theta"] * 6 + ["alpha beta gamma delta epsilon zeta eta iota"]
    pairs = minhash.minhash_pairs(texts, 0.5, k=2)
    kept = pair_set(pairs)
    assert {(0, 1), (0, 2)} <= set(kept)  # row 0's two best: exact copies, the lowest columns first
    assert not any(i == 0 and j > 2 for i, j in kept)


def test_bucket_pairs_lists_every_pair_once():
    order = np.array([4, 2, 7, 1, 0])
    keys = minhash.bucket_pairs(order, np.array([0, 3]), np.array([3, 2]), 10)
    assert sorted(keys.tolist()) == sorted([2 * 10 + 4, 4 * 10 + 7, 2 * 10 + 7, 0 * 10 + 1])


def test_permutations_and_bands_equal_datasketch_without_importing_it():
    """The permutations and LSH bands are drawn and optimised as datasketch does, without importing it (a second of
    every run, issue 18)."""
    from datasketch import MinHash
    from datasketch.lsh import _optimal_param

    for num_perm, seed in ((128, 1), (64, 7)):
        a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        ours = minhash.permutations(num_perm, seed)
        assert np.array_equal(ours[0], a.astype(np.uint32)) and np.array_equal(ours[1], b.astype(np.uint32))
    for threshold in np.round(np.arange(0.05, 1.0, 0.05), 2):
        for num_perm in (64, 128):
            assert minhash.lsh_bands(float(threshold), num_perm) == _optimal_param(float(threshold), num_perm, 0.5, 0.5)


def test_minhash_pairs_do_not_import_datasketch():
    import subprocess
    import sys

    code = ("import sys; from curation.dedup import minhash; "
            "minhash.minhash_pairs(['a b c d', 'a b c e', 'x y z'] * 3, 0.5); print('datasketch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"
