"""Neighbour search speed, memory and recall: the 55k t0 set and 200k synthetic vectors.

Each measurement runs in a child process (its peak memory is that process's max
RSS). t0 uses the fast-mode (static, 256-d) vectors, embedded once into a
workspace cache before timing; the timed part is the neighbour search plus the
recall measurement against exact search on 500 sampled records. The baseline in
the same run is exact search (blocked matrix products).

    python -m bench.dedup_speed [--runs 3] [--only t0|synthetic]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench.common import ROOT, T0, median, need

WS = tempfile.gettempdir() + "/bench-dedup-t0"


def t0_vectors() -> np.ndarray:
    from curation.atlas import save_settings
    from curation.dedup.texts import comparable_texts
    from curation.embed import embed_texts
    from curation.ingest import ingest
    from curation.store import load_records
    from curation.workspace import Workspace

    ws = Workspace(WS)
    ingest(ws, str(need(T0)))
    save_settings(ws, model="static")
    _, texts, _ = comparable_texts(load_records(ws))
    return embed_texts(ws, texts, model="static", text="prompt")[0]


def synthetic(n: int = 200_000, d: int = 384, seed: int = 0) -> np.ndarray:
    """Clustered unit vectors (2,000 topics) with 10% noisy near-copies, like a big synthetic instruction set."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((2000, d)).astype(np.float32)
    base = centres[rng.integers(0, 2000, n)] + 0.9 * rng.standard_normal((n, d)).astype(np.float32)
    copies = rng.choice(n, n // 10, replace=False)
    half = len(copies) // 2
    base[copies[:half]] = base[copies[half:]] + 0.25 * rng.standard_normal((half, d)).astype(np.float32)
    return base / np.linalg.norm(base, axis=1, keepdims=True)


def child(kind: str, data: str) -> None:
    from curation.dedup.neighbours import measured_recall, neighbour_pairs

    vectors = t0_vectors() if data == "t0" else synthetic()
    start = time.perf_counter()
    pairs = neighbour_pairs(vectors, 0.75, kind)
    search = time.perf_counter() - start
    recall = measured_recall(vectors, pairs, 0.8) if kind != "exact" else 1.0
    print(json.dumps({"seconds": search, "with_recall": time.perf_counter() - start, "recall": recall, "pairs": len(pairs),
                      "index": pairs.info["index"], "n": len(vectors), "dim": int(vectors.shape[1]),
                      "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))


def measure(kind: str, data: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.dedup_speed", "--child", kind, data], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    if "--child" in sys.argv:
        at = sys.argv.index("--child")
        child(sys.argv[at + 1], sys.argv[at + 2])
        return
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    t0_vectors() if only != "synthetic" else None  # embed once, outside the timings
    plan = [("t0", "ivf"), ("t0", "hnsw"), ("t0", "exact"), ("synthetic", "ivf"), ("synthetic", "hnsw")]
    print(f"Neighbour search (pairs at cosine >= 0.75, at most 32 per record), {time.strftime('%Y-%m-%d')}, median of {runs}\n")
    print("| data | index | search | search + recall check | recall at 0.8 | peak memory | pairs | runs (search s) |")
    print("|---|---|---|---|---|---|---|---|")
    for data, kind in plan:
        if only and data != only:
            continue
        results = [measure(kind, data) for _ in range(runs if not (data == "synthetic" and kind == "hnsw") else 1)]
        r = results[0]
        each = ", ".join(f"{x['seconds']:.1f}" for x in results)
        print(f"| {data} ({r['n']:,} × {r['dim']}) | {kind} | {median([x['seconds'] for x in results]):.1f} s | "
              f"{median([x['with_recall'] for x in results]):.1f} s | {r['recall']:.3f} | {max(x['peak_gb'] for x in results):.2f} GB | "
              f"{r['pairs']:,} | {each} |", flush=True)


if __name__ == "__main__":
    main()
