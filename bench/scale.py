"""1M records end to end (issue 18): time and peak memory of each stage at 10k, 100k, 1M.

    python -m bench.make_million                    # once: /tmp/million/records_*.jsonl
    nice -n 10 python -m bench.scale --sizes 10000 100000 [--stages ingest signals ...]

Each stage is the CLI a user runs (``python -m curation STAGE ... --json``) in its own
process; its peak resident memory is that process's ``ru_maxrss`` read with
``os.wait4`` (so the peak belongs to that stage alone). Workspaces live under
``ROOT/N`` (``--root``, default /tmp/scale-ws) and are reused stage to stage (ingest starts a fresh one).
One JSON line per stage is appended to ``--log`` (default ROOT/log.jsonl).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT

ROOT_DIR = Path("/tmp/scale-ws")  # workspaces and exports (`--root`)

STAGES = {
    "ingest": lambda n: ["ingest", f"/tmp/million/records_{n}.jsonl", "--name", "m", "--format", "prompt-completion"],
    "signals": lambda n: ["signals"],
    "embed": lambda n: ["embed", "--fast", "--keep"],
    "map": lambda n: ["map"],
    "dedup": lambda n: ["dedup"],
    "select": lambda n: ["select", "--n", str(max(n // 10, 1))],
    "export": lambda n: ["export", "--template", "alpaca", "--out", str(ROOT_DIR / f"export-{n}"), "--format", "jsonl"],
}


def run_stage(stage: str, n: int, ws: Path, timeout: float | None) -> dict:
    cmd = [sys.executable, "-m", "curation", *STAGES[stage](n), "--workspace", str(ws), "--json"]
    if stage == "export":
        shutil.rmtree(ROOT_DIR / f"export-{n}", ignore_errors=True)
    out_path = ws.parent / f"{stage}-{n}.out"
    err_path = ws.parent / f"{stage}-{n}.err"
    load = os.getloadavg()[0]  # a busy machine stretches the wall time, not the CPU time
    start = time.perf_counter()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=err, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    rc = os.waitstatus_to_exitcode(status)
    row = {"stage": stage, "n": n, "seconds": round(seconds, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
           "load_before": round(load, 2), "peak_mb": round(usage.ru_maxrss / 1024),
           "rc": rc, "cmd": " ".join(cmd[2:])}
    if rc:
        row["error"] = Path(err_path).read_text()[-400:]
    else:
        try:
            summary = json.loads(Path(out_path).read_text())
            row["summary"] = {k: v for k, v in summary.items() if isinstance(v, (int, float, str))}
        except ValueError:
            pass
    return row


def main() -> None:
    global ROOT_DIR
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--stages", nargs="+", default=list(STAGES), choices=list(STAGES))
    ap.add_argument("--root", default=str(ROOT_DIR), help="folder of the workspaces and exports")
    ap.add_argument("--log", default=None, help="JSON lines of the stages (default ROOT/log.jsonl)")
    args = ap.parse_args()
    ROOT_DIR = Path(args.root)
    args.log = args.log or str(ROOT_DIR / "log.jsonl")
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    for n in args.sizes:
        ws = ROOT_DIR / str(n)
        if "ingest" in args.stages:
            shutil.rmtree(ws, ignore_errors=True)
        ws.mkdir(parents=True, exist_ok=True)
        for stage in args.stages:
            row = run_stage(stage, n, ws, None)
            print(json.dumps(row), flush=True)
            with open(args.log, "a") as f:
                f.write(json.dumps(row) + "\n")
            if row["rc"]:
                break


if __name__ == "__main__":
    main()
