"""Ingest of 1M rows from SQLite, against a bare pandas.read_sql of the same query (issue 16).

    nice -n 10 python bench/sql_ingest.py [--runs 3] [--rows 1000000] [--redact-rows 100000]

Builds, once, /tmp/curation-bench-sql-<rows>.db: a table `qa` of unique rows (id primary key, question, answer,
topic, created) from a seeded generator. Each run ingests it into a fresh workspace with the CLI
(`python -m curation ingest sqlite:///… --table qa`), then ingests it again (every key already there: adds nothing),
then runs the baseline: `pandas.read_sql("SELECT * FROM qa", sqlite3 connection)` in its own process. These ingests
run with `--no-redact`: personal-data redaction (on by default for SQL sources, curation.pii) costs far more than
the reading, so it is timed once on its own, on the first `--redact-rows` rows (`--query … WHERE id <= N`).
Every command is a child process: its wall time (interpreter start and imports included, for both) and its peak
memory (`ru_maxrss` from os.wait4) are measured on their own. Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

from common import ROOT, median

WORDS = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "vu", "ze") for b in
         ("bar", "cel", "dun", "fos", "gim", "hal", "jor", "kep", "lum", "mor", "nix", "pol", "quin", "rust", "sol",
          "tam", "ulm", "ver", "wex", "yor")]
TOPICS = ("billing", "shipping", "accounts", "returns", "technical", "sales")


def build(path: str, rows: int, seed: int = 16) -> None:
    """A table of `rows` unique rows (the id is in the question), written once."""
    rng = random.Random(seed)
    tmp = path + ".tmp"
    if os.path.exists(tmp):
        os.remove(tmp)
    conn = sqlite3.connect(tmp)
    conn.execute("CREATE TABLE qa (id INTEGER PRIMARY KEY, question TEXT NOT NULL, answer TEXT NOT NULL, topic TEXT, "
                 "created TEXT)")

    def batch(start: int, n: int):
        for i in range(start, start + n):
            q = " ".join(rng.choices(WORDS, k=rng.randint(6, 18)))
            a = " ".join(rng.choices(WORDS, k=rng.randint(10, 40)))
            yield (i, f"Ticket {i}: {q}?", a + ".", rng.choice(TOPICS), f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")

    step = 50_000
    for start in range(1, rows + 1, step):
        conn.executemany("INSERT INTO qa VALUES (?,?,?,?,?)", batch(start, min(step, rows + 1 - start)))
        conn.commit()
    conn.close()
    os.replace(tmp, path)


def measured(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{err}")
    return wall, usage.ru_maxrss / 1024  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--redact-rows", type=int, default=100_000)
    args = parser.parse_args()
    db = f"/tmp/curation-bench-sql-{args.rows}.db"
    if not os.path.exists(db):
        t = time.perf_counter()
        build(db, args.rows)
        print(f"built {db} ({os.path.getsize(db) / 2**20:.0f} MiB) in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    url = f"sqlite:///{db}"
    baseline_code = ("import sqlite3, pandas as pd; "
                     f"frame = pd.read_sql('SELECT * FROM qa', sqlite3.connect({db!r})); assert len(frame) == {args.rows}")
    results: dict[str, list[tuple[float, float]]] = {"ingest": [], "reingest": [], "baseline": []}
    for _ in range(args.runs):
        ws = tempfile.mkdtemp(prefix="bench-sql-ws-")
        cmd = [sys.executable, "-m", "curation", "ingest", url, "--table", "qa", "--workspace", ws, "--json", "--no-redact"]
        results["ingest"].append(measured(cmd))
        results["reingest"].append(measured(cmd))
        shutil.rmtree(ws)
        results["baseline"].append(measured([sys.executable, "-c", baseline_code]))
    redacted = None
    if args.redact_rows:
        ws = tempfile.mkdtemp(prefix="bench-sql-ws-")
        redacted = measured([sys.executable, "-m", "curation", "ingest", url, "--query",
                             f"SELECT * FROM qa WHERE id <= {args.redact_rows}", "--key", "id", "--workspace", ws, "--json"])
        shutil.rmtree(ws)
    print(f"{args.rows:,} rows from SQLite ({os.path.getsize(db) / 2**20:.0f} MiB file), {args.runs} run(s), "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| what | median wall | rows/s | peak memory (median) | runs (s) |\n|---|---|---|---|---|")
    names = {"ingest": "CLI ingest, fresh workspace", "reingest": "CLI re-ingest (every key present: adds nothing)",
             "baseline": "baseline: pandas.read_sql (sqlite3)"}
    for key, name in names.items():
        walls = [w for w, _ in results[key]]
        mem = median([m for _, m in results[key]])
        print(f"| {name} | {median(walls):.1f} s | {args.rows / median(walls):,.0f} | {mem:,.0f} MiB | "
              f"{', '.join(f'{w:.1f}' for w in walls)} |")
    ratio = median([w for w, _ in results["ingest"]]) / median([w for w, _ in results["baseline"]])
    if redacted:
        print(f"| CLI ingest with redaction (the default), first {args.redact_rows:,} rows, 1 run | {redacted[0]:.1f} s | "
              f"{args.redact_rows / redacted[0]:,.0f} | {redacted[1]:,.0f} MiB | {redacted[0]:.1f} |")
    print(f"\nratio ingest / baseline (wall): {ratio:.1f}x")


if __name__ == "__main__":
    main()
