"""Run each heavy stage on a fresh copy of one workspace under a given executor, and compare with in-process (issue 18).

Used by tests/curation/test_executor.py (the process pool, in pytest) and by `python -m tests.curation.executor_parity`
(the Ray run, started by the test in a network namespace that holds only loopback; prints JSON).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from curation import executor as ex
from curation.workspace import Workspace

STAGES = ("signals", "embed", "neighbours", "score")
INLINE = [
    {"instruction": "Name the capital of France.", "input": "", "output": "Paris is the capital of France."},
    {"instruction": "Name the capital of France!", "input": "", "output": "Paris is the capital of France."},
    {"instruction": "Add 2 and 3.", "input": "", "output": "2 + 3 = 5."},
    {"instruction": "Translate to German.", "input": "Good morning", "output": "Guten Morgen."},
    {"instruction": "Write a haiku about rain.", "input": "<noinput>", "output": "Soft rain on the roof,\nthe garden drinks."},
    {"instruction": "Summarise the text.", "input": "The cat sat on the mat all day.", "output": "A cat spent the day on a mat."},
    {"instruction": "Give a synonym of happy.", "input": "", "output": ""},
    {"instruction": "<script>alert(1)</script> what is it", "input": "", "output": "the answer is good " * 40},
]


def make_workspace(root: Path, data: Path | None, limit: int = 300) -> Workspace:
    """A workspace with the inline records and, when the shared data is there, the first `limit` Alpaca records."""
    from curation.ingest import ingest

    ws = Workspace(root)
    inline = root.parent / f"{root.name}-inline.jsonl"
    inline.write_text("".join(json.dumps(r) + "\n" for r in INLINE), encoding="utf-8")
    ingest(ws, inline, name="inline")
    alpaca = data / "alpaca" / "alpaca_data_cleaned_1000.json" if data else None
    if alpaca and alpaca.exists():
        sample = root.parent / f"{root.name}-alpaca.json"
        sample.write_text(json.dumps(json.loads(alpaca.read_text(encoding="utf-8"))[:limit]), encoding="utf-8")
        ingest(ws, sample, name="alpaca")
    return ws


def small_shards() -> None:
    """Several shards even on a few hundred records (the driver cuts them; workers follow the driver)."""
    from curation.dedup import neighbours
    from curation.signals import compute

    old = [(compute, "CHUNK", compute.CHUNK), (ex, "EMBED_SHARD_BATCHES", ex.EMBED_SHARD_BATCHES),
           (ex, "SEARCH_ROWS", ex.SEARCH_ROWS), (ex, "SCORE_SHARD_BATCHES", ex.SCORE_SHARD_BATCHES),
           (neighbours, "BLOCK_CELLS", neighbours.BLOCK_CELLS)]
    compute.CHUNK = 64
    ex.EMBED_SHARD_BATCHES = 1
    ex.SEARCH_ROWS = 64
    ex.SCORE_SHARD_BATCHES = 2
    neighbours.BLOCK_CELLS = 64 * 1024
    return old


def restore(old) -> None:
    for module, name, value in old:
        setattr(module, name, value)


def run_stage(stage: str, template: Path, target: Path, executor: ex.Executor, reward_model: Path | None = None):
    """The stage's output on a fresh copy of the template workspace (nothing cached from another run)."""
    if stage == "embed" and isinstance(executor, ex.InProcess):  # prepare() embedded a copy in-process already
        vectors = np.load(target.parent / "vectors.npy")
        return {"vectors": vectors, "cached": vectors}
    shutil.copytree(template, target)
    ws = Workspace(target, create=False)
    with ex.use(executor):
        if stage == "signals":
            from curation.signals.compute import signal_table

            table, _ = signal_table(ws)
            cached = sorted((target / "signals").glob("*.parquet"))
            return {"table": table, "cached": {p.name: pd.read_parquet(p) for p in cached}}
        texts = record_texts(ws)
        if stage == "embed":
            from curation.embed import embed_texts

            vectors, _ = embed_texts(ws, texts)
            again, info = embed_texts(ws, texts)  # read back from the cache the run wrote
            assert info["embedded"] == 0
            return {"vectors": vectors, "cached": again}
        if stage == "neighbours":
            from curation.dedup.neighbours import neighbour_pairs

            vectors = np.load(target.parent / "vectors.npy")
            out = {}
            for index in ("exact", "ivf", "hnsw"):
                pairs = neighbour_pairs(vectors, 0.5, index)
                out[index] = (pairs.i, pairs.j, pairs.sim)
            return out
        if stage == "score":
            from curation.scorers import get_scorer
            from curation.store import load_records

            out = get_scorer("reward").score(ws, load_records(ws), model=str(reward_model), batch_size=8, max_length=64)
            return {"scores": out}
    raise ValueError(stage)


def record_texts(ws: Workspace) -> list[str]:
    from curation.store import load_records

    frame = load_records(ws)
    return [f"{i}\n{x}" for i, x in zip(frame["instruction"].fillna(""), frame["input"].fillna(""))]


def differences(stage: str, a, b) -> list[str]:
    """What differs between two runs of a stage (empty: identical, embeddings to 1e-6)."""
    problems = []
    if stage == "signals":
        try:
            pd.testing.assert_frame_equal(a["table"], b["table"], check_exact=True)
        except AssertionError as exc:
            problems.append(f"signal table: {str(exc)[:300]}")
        if sorted(a["cached"]) != sorted(b["cached"]):
            problems.append(f"cached files {sorted(a['cached'])} != {sorted(b['cached'])}")
        for name in a["cached"]:
            if name in b["cached"] and not a["cached"][name].equals(b["cached"][name]):
                problems.append(f"cached {name} differs")
    elif stage == "embed":
        for key in ("vectors", "cached"):
            if a[key].shape != b[key].shape or not np.allclose(a[key], b[key], atol=1e-6, rtol=0):
                problems.append(f"{key}: max difference {np.abs(a[key] - b[key]).max() if a[key].shape == b[key].shape else 'shape'}")
    elif stage == "neighbours":
        for index in a:
            (i1, j1, s1), (i2, j2, s2) = a[index], b[index]
            if not (np.array_equal(i1, i2) and np.array_equal(j1, j2) and np.array_equal(s1, s2)):
                problems.append(f"{index}: {len(i1)} pairs vs {len(i2)}")
    elif stage == "score":
        try:
            pd.testing.assert_frame_equal(a["scores"], b["scores"], check_exact=True)
        except AssertionError as exc:
            problems.append(f"scores: {str(exc)[:300]}")
    return problems


def prepare(base: Path, data: Path | None, limit: int) -> tuple[Path, Path]:
    """The template workspace, its in-process vectors (neighbour search input) and a tiny reward model."""
    from tests.curation.scorers.test_reward import tiny_reward_model

    template = base / "template"
    make_workspace(template, data, limit)
    from curation.embed import embed_texts

    scratch = base / "vectors-ws"
    shutil.copytree(template, scratch)
    vectors, _ = embed_texts(Workspace(scratch, create=False), record_texts(Workspace(scratch, create=False)))
    np.save(base / "vectors.npy", vectors)
    shutil.rmtree(scratch)
    tiny_reward_model(base / "rm")
    return template, base / "rm"


def main(argv: list[str]) -> int:
    """python -m tests.curation.executor_parity BASE DATA_OR_- LIMIT: every stage on Ray vs in-process, as JSON."""
    import os

    import ray

    base, data, limit = Path(argv[0]), (None if argv[1] == "-" else Path(argv[1])), int(argv[2])
    small_shards()
    template, rm = prepare(base, data, limit)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    resources = ray.cluster_resources()
    report = {"records": len(record_texts(Workspace(template, create=False))), "cpus": resources.get("CPU"),
              "usage_stats": os.environ.get("RAY_USAGE_STATS_ENABLED"), "stages": {}}
    for stage in STAGES:
        here = run_stage(stage, template, base / f"{stage}-inprocess", ex.InProcess(), rm)
        there = run_stage(stage, template, base / f"{stage}-ray", ex.Ray(), rm)
        report["stages"][stage] = differences(stage, here, there)
    report["worker_pids"] = sorted({p for p in pids_of_workers()})
    ray.shutdown()
    print(json.dumps(report))
    return 0


def pids_of_workers() -> list[int]:
    """Process ids of the Ray workers that ran tasks (at least two: the work did leave the driver)."""
    import os

    import ray

    @ray.remote(num_cpus=1)
    def pid():
        import time

        time.sleep(0.5)
        return os.getpid()

    return ray.get([pid.remote() for _ in range(4)])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
