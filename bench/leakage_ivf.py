"""Export's leakage check, exact against the faiss IVF index it uses past `EXACT_CELLS` comparisons (issue 18).

Takes the first N records of a workspace (their cached prompt vectors), splits them 90/10 at random (seeded), and
finds the highest test/train similarity both ways: the exact blocked products (`max_similarity`) and the IVF search
(`highest_similarity` with `exact_cells=0`). Reports each one's seconds (median of --runs), whether the two found the
same value and pair, and the IVF's recall on its sample (the share of sampled test records whose nearest train record
it found exactly) against the true share over every test record.

    python -m bench.leakage_ivf /tmp/lead-scale/1000000 --sizes 100000 300000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workspace")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from curation.embed import EmbedSettings, embed_records
    from curation.export.manifest import highest_similarity, max_similarity
    from curation.select_strategies import max_similarity as each_highest
    from curation.store import read_columns
    from curation.texts import TEXT_FIELDS
    from curation.workspace import Workspace

    ws = Workspace(args.workspace)
    frame = read_columns(ws, ["record_id", *TEXT_FIELDS]).head(max(args.sizes))
    model = EmbedSettings.load(ws).model
    vectors, _ = embed_records(ws, frame, model=model, text="prompt")
    for n in args.sizes:
        is_test = np.random.default_rng(0).random(n) < 0.1
        train, test = np.ascontiguousarray(vectors[:n][~is_test]), np.ascontiguousarray(vectors[:n][is_test])
        exact_s, ivf_s, exact, found = [], [], None, None
        for _ in range(args.runs):
            start = time.perf_counter()
            exact = max_similarity(train, test)
            exact_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            found = highest_similarity(train, test, exact_cells=0)
            ivf_s.append(time.perf_counter() - start)
        from curation.dedup.neighbours import ivf_index, ivf_search

        sims = ivf_search(test, ivf_index(train), 1)[0][:, 0]
        truth = each_highest(test, train)
        print(json.dumps({
            "n": n, "model": model, "train": len(train), "test": len(test),
            "exact_s": round(statistics.median(exact_s), 2), "ivf_s": round(statistics.median(ivf_s), 2),
            "exact": {"max_similarity": round(exact[0], 6), "row": exact[1], "train_row": exact[2]},
            "ivf": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in found.items()},
            "same_value": abs(exact[0] - found["max_similarity"]) < 1e-5,
            "same_pair": (exact[1], exact[2]) == (found["row"], found["train_row"]),
            "recall_all_test_records": round(float(np.mean(sims >= truth - 1e-5)), 4),
        }), flush=True)


if __name__ == "__main__":
    main()
