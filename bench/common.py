"""Helpers for the benchmarks: where the shared data is, timing, medians."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
T0 = SHARED / "t0" / "t0_train_55k.jsonl"


def need(path: Path) -> Path:
    if not path.exists():
        sys.exit(f"skipped: {path} is not present")
    return path


def timed(cmd: list[str], **kw) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def row(name: str, times: list[float]) -> str:
    return f"| {name} | {median(times):.2f} s | {', '.join(f'{t:.2f}' for t in times)} |"


def runs_from_args(default: int = 3) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=default)
    return parser.parse_args().runs


def report(title: str, rows: list[tuple[str, list[float]]], note: str) -> None:
    """Print a Markdown table for bench/RESULTS.md: one row per measurement, median first."""
    print(f"{title}, {time.strftime('%Y-%m-%d')}\n")
    print("| what | median | runs |\n|---|---|---|")
    for name, times in rows:
        print(row(name, times))
    print(f"\n{note}")
