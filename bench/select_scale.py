"""Select at scale (issue 18): where `select --n N` spends its time on a large workspace, and whether the quality
strategy's index of chosen records picks exactly what the brute force picks.

    python bench/select_scale.py --workspace DIR [--n 100000] [--brute] [--profile FILE]
    python bench/select_scale.py --workspace DIR --sizes 5000,10000,20000,50000,100000 [--share 0.1] [--runs 3]

Times each stage of `python -m curation select --n N --json` as `curation.cli.cmd_select` runs them: the pool (signals,
quality score, cached embeddings), the plan (quality strategy: candidates scanned, how many the exact test saw), the
trade-off measures (coverage on a 10,000 sample, quality, mix, margin) and the JSON. `--brute` plans again with the
index off (the exact test on every candidate scanned) and compares the two pick orders record by record. Peak RSS
is the process's. Run workspaces over 300k records through /tmp/run1m.sh on the shared machine.

`--sizes`: where the index pays. The pool's first N records for each size, a budget of `--share` of them, planned with
the index on and off, alternating, median of `--runs` (CPU seconds of the process: fairer than wall time on a shared
machine), with the pick orders compared.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import statistics
import sys
import time

from common import ROOT

sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from curation import select, select_strategies, select_view  # noqa: E402
from curation.workspace import Workspace  # noqa: E402


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def plan_with(pool: select.Pool, n: int, *, index: bool | None) -> tuple[select.Selection, dict]:
    """The quality plan with the index forced on/off (None: by pool size), and what its picker did."""
    made = []
    spec = select.STRATEGIES["quality"]

    def build(*args, **kwargs):
        made.append(select_strategies.Quality(*args, index=index, **kwargs))
        return made[-1]

    select.STRATEGIES["quality"] = select.Strategy(spec.name, spec.description, build)
    try:
        start = time.perf_counter()
        sel = select.plan(pool, n, "quality")
        seconds = time.perf_counter() - start
    finally:
        select.STRATEGIES["quality"] = spec
    q = made[0]
    return sel, {"seconds": round(seconds, 1), "exact_rows": int(q.exact_rows), "rejected_by": dict(q.rejected),
                 "relaxed": sel.info["relaxed"], "index_lists": len(q.index.lists) if q.index is not None else None,
                 "chosen": sel.chosen_n}


def crossover(pool: select.Pool, sizes: list[int], share: float, runs: int) -> list[dict]:
    out = []
    for n in sizes:
        part = select.Pool(pool.frame.iloc[:n].reset_index(drop=True), np.ascontiguousarray(pool.vectors[:n]), dict(pool.info))
        cpu: dict[bool, list[float]] = {True: [], False: []}
        orders = {}
        for _ in range(runs):
            for index in (False, True):
                start = time.process_time()
                sel, _stats = plan_with(part, max(1, int(n * share)), index=index)
                cpu[index].append(time.process_time() - start)
                orders[index] = sel.order
        out.append({"records": n, "budget": max(1, int(n * share)), "cpu_s_brute": round(statistics.median(cpu[False]), 2),
                    "cpu_s_index": round(statistics.median(cpu[True]), 2), "same_order": bool(np.array_equal(*orders.values()))})
        print(json.dumps(out[-1]), flush=True)
    return out


def first_difference(a: np.ndarray, b: np.ndarray) -> int | None:
    n = min(len(a), len(b))
    diff = np.flatnonzero(a[:n] != b[:n])
    return int(diff[0]) if len(diff) else (None if len(a) == len(b) else n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--brute", action="store_true", help="also plan with the index off and compare the pick orders")
    ap.add_argument("--profile", metavar="FILE", help="cProfile the whole run into FILE (pstats)")
    ap.add_argument("--save-order", metavar="FILE", help="save the indexed plan's order (.npy)")
    ap.add_argument("--sizes", help="comma-separated pool sizes: plan time with the index on and off (where it pays)")
    ap.add_argument("--share", type=float, default=0.1, help="with --sizes: the budget, a share of each pool")
    ap.add_argument("--runs", type=int, default=3, help="with --sizes: runs per size and mode (median)")
    args = ap.parse_args()
    prof = cProfile.Profile() if args.profile else None
    if prof:
        prof.enable()
    ws = Workspace(args.workspace, create=False)
    out = {"workspace": args.workspace, "n": args.n, "load_average": os.getloadavg()}
    start = time.perf_counter()
    pool = select.load_pool(ws)
    out["load_pool_s"] = round(time.perf_counter() - start, 1)
    out["records"] = len(pool.frame)
    out["peak_gb_after_pool"] = round(peak_gb(), 2)
    if args.sizes:
        out["crossover"] = crossover(pool, [int(x) for x in args.sizes.split(",")], args.share, args.runs)
        print(json.dumps(out, indent=1))
        return
    sel, out["plan"] = plan_with(pool, args.n, index=None)
    start = time.perf_counter()
    rows = select_view.eval_rows(pool)
    compared = select_view.compare(pool, [sel], rows=rows)
    report = {**sel.info, **compared.iloc[0].drop(["strategy", "chosen", "seconds"]).to_dict(),
              "quality": select_view.quality(sel).to_dict("records"),
              "mix": {by: select_view.mix(sel, by).to_dict("records") for by in pool.groups()},
              "margin": select_view.margin(sel).to_dict("records"), "pool": pool.info}
    out["view_s"] = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    out["json_chars"] = len(json.dumps(report, default=str))
    out["json_s"] = round(time.perf_counter() - start, 2)
    if args.save_order:
        np.save(args.save_order, sel.order)
    if args.brute:
        brute, out["brute"] = plan_with(pool, args.n, index=False)
        out["same_order"] = bool(np.array_equal(brute.order, sel.order))
        out["first_difference"] = first_difference(brute.order, sel.order)
    out["load_average_end"] = os.getloadavg()
    out["peak_gb"] = round(peak_gb(), 2)
    if prof:
        prof.disable()
        prof.dump_stats(args.profile)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
