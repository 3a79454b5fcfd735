"""Issue 18: `embed --fast --keep` and `map` on one workspace, the code before the key-only lookup against this one.

Each variant runs the real CLI in its own process from its own source tree (`--old`: an unpacked earlier commit,
e.g. `git archive 45524f8 | tar -x -C /tmp/emb-old`; the new one is this checkout) on a fresh copy of the workspace
without embeddings or maps, so embedding is cold and the map is built. Variants alternate within one window (run 1:
old first, run 2: new first, ...); time is wall-clock, peak memory the process's maximum RSS (`os.wait4`). After each
pair the two caches are compared shard by shard (keys and vector bytes) and the two maps by their clusters and labels.

    nice -n 10 python -m bench.embed_scale --workspace /tmp/emb-100k --old /tmp/emb-old --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
STAGES = {"embed": ["embed", "--fast", "--keep"], "map": ["map"]}


def run_cli(tree: Path, args: list[str], workspace: Path) -> tuple[float, float, float, dict]:
    """(seconds, CPU seconds, peak RSS in GB, the command's JSON) of one CLI run from a source tree. CPU seconds
    (user + system) move less with the machine's load than wall-clock time: on an idle machine the wall time is about
    CPU time / the cores the command keeps busy."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "curation", *args, "--workspace", str(workspace), "--json"],
                                cwd=tree, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"{' '.join(args)} failed in {tree}: {err.read().strip()[-400:]}")
        return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1e6, json.loads(out.read())


def fresh_copy(workspace: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(workspace, target, ignore=shutil.ignore_patterns("embeddings", "maps"))
    return target


def shards(workspace: Path) -> list[tuple[str, list[str], bytes]]:
    import numpy as np

    out = []
    for folder in sorted((workspace / "embeddings").iterdir()):
        for keys in sorted(folder.glob("shard-*.keys.npy")):
            vectors = keys.with_name(keys.name.replace(".keys.npy", ".vectors.npy"))
            out.append((folder.name, np.load(keys).tolist(), vectors.read_bytes()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True, help="a workspace with records (and signals)")
    parser.add_argument("--old", type=Path, required=True, help="the source tree of the code before")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--stages", default="embed,map")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/embed-scale-bench"))
    args = parser.parse_args()
    stages = args.stages.split(",")
    trees = {"old": args.old, "new": ROOT}
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for run in range(args.runs):
        order = ["old", "new"] if run % 2 == 0 else ["new", "old"]
        outputs = {}
        for name in order:
            ws = fresh_copy(args.workspace, args.scratch / name)
            for stage in stages:
                load = os.getloadavg()[0]
                seconds, cpu, peak, out = run_cli(trees[name], STAGES[stage], ws)
                results.setdefault((stage, name), []).append((seconds, cpu, peak))
                outputs[(stage, name)] = out
                print(f"run {run + 1} {name:3} {stage:5}: {seconds:7.1f} s  cpu {cpu:7.1f} s  {peak:5.2f} GB  (load {load:.1f} -> "
                      f"{os.getloadavg()[0]:.1f})", flush=True)
        same_cache = shards(args.scratch / "old") == shards(args.scratch / "new")
        print(f"run {run + 1}: caches byte-identical: {same_cache}", flush=True)
        if "map" in stages:
            old, new = outputs[("map", "old")], outputs[("map", "new")]
            same = {k: old[k] == new[k] for k in ("clusters", "labels", "noise", "assigned")}
            print(f"run {run + 1}: maps agree on {same}", flush=True)
    print("\n| stage | before: time (CPU) · peak | after: time (CPU) · peak | time ratio | CPU ratio |\n|---|---|---|---|---|")
    for stage in stages:
        old, new = results[(stage, "old")], results[(stage, "new")]
        (t_old, c_old), (t_new, c_new) = ((median(r[0] for r in rs), median(r[1] for r in rs)) for rs in (old, new))
        print(f"| {stage} | {t_old:.1f} s ({c_old:.1f}) · {max(r[2] for r in old):.2f} GB | {t_new:.1f} s ({c_new:.1f}) · "
              f"{max(r[2] for r in new):.2f} GB | {t_new / t_old:.2f}x | {c_new / c_old:.2f}x |")


if __name__ == "__main__":
    main()
