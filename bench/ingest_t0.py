"""Ingest of the 55k-record t0 file through the CLI, against a bare pandas.read_json.

    python bench/ingest_t0.py [--runs 3]

Each run ingests into a fresh workspace (`python -m curation ingest …`, wall
time of the whole command, interpreter start included). The baseline is
`pandas.read_json(path, lines=True)` timed inside one process (imports not
counted), measured in the same run. Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile

from common import ROOT, T0, median, need, report, runs_from_args, timed


def main() -> None:
    runs = runs_from_args()
    need(T0)
    ingest, reingest, baseline = [], [], []
    for _ in range(runs):
        ws = tempfile.mkdtemp(prefix="bench-ws-")
        cmd = [sys.executable, "-m", "curation", "ingest", str(T0), "--workspace", ws, "--json"]
        ingest.append(timed(cmd))
        reingest.append(timed(cmd))
        shutil.rmtree(ws)
        code = f"import pandas as pd, time; t = time.perf_counter(); pd.read_json({str(T0)!r}, lines=True); print(time.perf_counter() - t)"
        baseline.append(float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout))
    report(f"t0_train_55k.jsonl, {runs} runs", [
        ("CLI ingest, fresh workspace", ingest), ("CLI re-ingest (adds nothing)", reingest),
        ("baseline: pandas.read_json(lines=True)", baseline),
    ], f"ratio ingest / baseline: {median(ingest) / median(baseline):.2f}x (target: under 15 s and within 3x)")


if __name__ == "__main__":
    main()
