"""All quality signals on the 55k-record t0 set, and the incremental second run.

    python bench/signals_t0.py [--runs 3]

Each run: a fresh workspace with t0 ingested, then `signal_table` (every signal,
lengths in Llama-3 tokens, text hashes) timed cold; then 100 new records are
ingested and the signals timed again — only those 100 must be computed.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, T0, median, need, report, runs_from_args

sys.path.insert(0, str(ROOT))

from curation.ingest import ingest  # noqa: E402
from curation.signals.compute import signal_table  # noqa: E402
from curation.workspace import Workspace  # noqa: E402


def main() -> None:
    runs = runs_from_args()
    need(T0)
    full, incremental, computed = [], [], []
    for _ in range(runs):
        root = Path(tempfile.mkdtemp(prefix="bench-signals-"))
        ws = Workspace(root)
        ingest(ws, T0)
        start = time.perf_counter()
        signal_table(ws)
        full.append(time.perf_counter() - start)
        extra = root / "extra.jsonl"
        extra.write_text("".join(json.dumps({"instruction": f"New question {i}?", "output": f"Answer {i}."}) + "\n" for i in range(100)))
        ingest(ws, extra)
        start = time.perf_counter()
        _, info = signal_table(ws)
        incremental.append(time.perf_counter() - start)
        computed.append(info["computed"])
        shutil.rmtree(root)
    report(f"Signals on t0 (55,185 records), {runs} runs",
           [("all signals + token lengths, cold", full), ("after adding 100 records", incremental)],
           f"records computed on the second run: {computed} (must be 100); target: under 20 s cold, median {median(full):.2f} s")


if __name__ == "__main__":
    main()
