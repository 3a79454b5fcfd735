"""Select the best N: coverage and mean quality of each strategy against random, and the time to select 1,000 from 55k.

    python bench/select_pool.py [--runs 3] [--workspace DIR]

The mixed pool: alpaca (both files), GPTeacher (toolformer, roleplay), GSM8K, chat (dummy conversations, v1 SFT demo,
glaive tool calls, identity) and t0's 55k, ingested into one workspace, signals computed, embedded in fast mode
(`static`). A workspace given with --workspace is reused (ingest, signals and embeddings are cached there); without
it a temporary one is built (about 10 minutes: distilling the static model, embedding, signals).

For N = 1,000 from the mixed pool, one run: each strategy's coverage (mean similarity of every record to its nearest
chosen one, on a seeded sample of 10,000), share of datasets' records, mean quality score; the quality strategy at
several thresholds; k-center greedy beside facility location (the two coverage-first candidates). Then the time to
select 1,000 from t0's 55,185 records alone with the cached embeddings (pool loaded once; plan timed), median of --runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, SHARED, need

sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from curation import select, select_strategies, select_view  # noqa: E402
from curation.embed import EmbedSettings  # noqa: E402
from curation.ingest import ingest  # noqa: E402
from curation.workspace import Workspace  # noqa: E402

FILES = ["alpaca/alpaca_data_cleaned_1000.json", "alpaca/alpaca_en_demo.json", "gpteacher/toolformer-dedupe-only-dataset.json",
         "gpteacher/roleplay-simple-deduped-roleplay-dataset.json", "gsm8k/gsm_8k_train.json", "chat/dummy_conversation.json",
         "chat/v1_sft_demo.jsonl", "chat/glaive_toolcall_en_demo.json", "chat/identity.json", "t0/t0_train_55k.jsonl"]
N = 1000


def subset(pool: select.Pool, mask: np.ndarray) -> select.Pool:
    return select.Pool(pool.frame[mask].reset_index(drop=True), np.ascontiguousarray(pool.vectors[mask]), dict(pool.info))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workspace", help="a workspace to build or reuse")
    args = parser.parse_args()
    for f in FILES:
        need(SHARED / f)
    temp = None if args.workspace else Path(tempfile.mkdtemp(prefix="bench-select-"))
    ws = Workspace(args.workspace or temp / "ws", create=True)
    if not ws.query("SELECT count(*) FROM datasets")[0][0]:
        for f in FILES:
            ingest(ws, SHARED / f)
    EmbedSettings.save(ws, model="static")
    start = time.perf_counter()
    pool = select.load_pool(ws)
    print(json.dumps({"pool": len(pool.frame), "load_pool_s": round(time.perf_counter() - start, 1),
                      "embedded_now": pool.info["embedded"], "datasets": int(pool.frame["dataset"].nunique())}), flush=True)

    rows = select_view.eval_rows(pool)
    plans = [select.plan(pool, N, s) for s in select.STRATEGIES]
    table = select_view.compare(pool, plans, rows=rows)
    for sel, row in zip(plans, table.to_dict("records")):
        mix = select_view.mix(sel, "dataset").set_index("dataset")["chosen share"].round(3).to_dict()
        print(json.dumps({**{k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()},
                          "relaxed": sel.info["relaxed"], "mix": mix}), flush=True)
    for t in (0.7, 0.8):
        sel = select.plan(pool, N, "quality", threshold=t)
        row = select_view.compare(pool, [sel], rows=rows).iloc[0]
        print(json.dumps({"strategy": f"quality@{t}", "coverage": round(row["coverage"], 4),
                          "mean quality": round(row["mean quality"], 4), "relaxed": sel.info["relaxed"]}), flush=True)
    for name, cls in select_strategies.COVERAGE.items():
        strategy = select.Strategy("coverage", name, cls)
        saved = select.STRATEGIES["coverage"]
        select.STRATEGIES["coverage"] = strategy
        try:
            t0 = time.perf_counter()
            sel = select.plan(pool, N, "coverage")
            seconds = time.perf_counter() - t0
        finally:
            select.STRATEGIES["coverage"] = saved
        row = select_view.compare(pool, [sel], rows=rows).iloc[0]
        print(json.dumps({"coverage method": name, "coverage": round(row["coverage"], 4),
                          "mean quality": round(row["mean quality"], 4), "seconds": round(seconds, 1)}), flush=True)

    t0pool = subset(pool, (pool.frame["dataset"] == "t0_train_55k").to_numpy())
    for strategy in select.STRATEGIES:
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            select.plan(t0pool, N, strategy)
            times.append(time.perf_counter() - t)
        print(json.dumps({"select 1,000 from": len(t0pool.frame), "strategy": strategy,
                          "median_s": round(statistics.median(times), 2), "runs_s": [round(x, 2) for x in times]}), flush=True)
    if temp:
        shutil.rmtree(temp)


if __name__ == "__main__":
    main()
