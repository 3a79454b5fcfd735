"""Executor overhead (issue 18): signals and embedding of t0 records in-process vs a process pool vs Ray.

Run inside a network namespace that holds only loopback (Ray listens on the machine's address otherwise):

    unshare -n sh -c 'ip link set lo up && RAY_USAGE_STATS_ENABLED=0 nice -n 10 python bench/executor_overhead.py --runs 3'

Each run works on a fresh copy of one workspace (nothing cached), so every run computes everything; the pool's
and Ray's worker start-up and model loading are inside the time, Ray's own start (`ray.init`) is reported apart.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
T0 = ROOT.parent / "shared" / "data" / "t0" / "t0_train_55k.jsonl"


def loopback_only() -> bool:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.splitlines()
    return len(out) == 1 and ": lo:" in out[0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--minilm", type=int, default=300, help="texts embedded with MiniLM (slow on 2 cores)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--static-from", type=Path, help="a workspace's models/static-minilm folder to copy (distilling takes minutes)")
    args = parser.parse_args()

    from curation import executor as ex
    from curation.embed import distill_static, embed_texts
    from curation.ingest import ingest
    from curation.signals.compute import signal_table
    from curation.store import load_records
    from curation.workspace import Workspace

    base = Path(tempfile.mkdtemp(prefix="executor-bench-"))
    sample = base / "t0.jsonl"
    with open(T0, encoding="utf-8") as src, open(sample, "w", encoding="utf-8") as out:
        for _, line in zip(range(args.records), src):
            out.write(line)
    template = base / "template"
    ws = Workspace(template)
    ingest(ws, sample, name="t0")
    if args.static_from:
        shutil.copytree(args.static_from, template / "models" / "static-minilm")
    distill_static(ws)  # once (unless copied): every copy has the fast model
    frame = load_records(ws)
    texts = [f"{i}\n{x}" for i, x in zip(frame["instruction"].fillna(""), frame["input"].fillna(""))]

    def fresh(tag: str) -> Workspace:
        target = base / tag
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(template, target, ignore=shutil.ignore_patterns("signals", "embeddings"))
        return Workspace(target, create=False)

    stages = {
        "signals": lambda w: signal_table(w),
        "embed static": lambda w: embed_texts(w, texts, model="static"),
        "embed minilm": lambda w: embed_texts(w, texts[: args.minilm], model="minilm"),
    }
    executors = {"inprocess": ex.InProcess(), "processes": ex.Processes(2)}
    ray_start = None
    if loopback_only():
        import ray

        began = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - began
        executors["ray"] = ex.Ray()
    else:
        print("not in a loopback-only network namespace: Ray left out (see the docstring)", file=sys.stderr)
    results: dict = {}
    for stage, call in stages.items():
        for name, executor in executors.items():
            times = []
            for r in range(args.runs):
                w = fresh(f"{stage}-{name}-{r}".replace(" ", "-"))
                with ex.use(executor):
                    began = time.perf_counter()
                    call(w)
                    times.append(time.perf_counter() - began)
            results.setdefault(stage, {})[name] = times
            print(stage, name, [round(t, 2) for t in times], file=sys.stderr, flush=True)
    shutil.rmtree(base, ignore_errors=True)
    print(json.dumps({"records": len(texts), "minilm_texts": min(args.minilm, len(texts)), "runs": args.runs,
                      "ray_init_s": ray_start, "results": results}))
    print(table(results, len(texts), min(args.minilm, len(texts)), ray_start), file=sys.stderr)
    return 0


def table(results: dict, records: int, minilm: int, ray_start) -> str:
    lines = ["| stage | executor | median | runs | × in-process |", "|---|---|---|---|---|"]
    for stage, by in results.items():
        base = statistics.median(by["inprocess"])
        label = f"{stage} ({minilm if stage == 'embed minilm' else records:,})"
        for name, times in by.items():
            med = statistics.median(times)
            lines.append(f"| {label} | {name} | {med:.2f} s | {', '.join(f'{t:.2f}' for t in times)} | {med / base:.2f}× |")
    if ray_start is not None:
        lines.append(f"\nRay start (`ray.init(num_cpus=2)`, not in the rows): {ray_start:.1f} s")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
