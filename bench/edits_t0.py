"""Edits at scale: a bulk fix over the 55k-record t0 set, and what laying edits over the records costs readers.

    python bench/edits_t0.py [--runs 3]

Each run: a fresh workspace with t0 ingested (every completion ends with <|endoftext|>); `load_records` timed
without edits; `bulk_fix("strip_end_marker")` as a dry run and for real (one transaction, a version per record);
`load_records` again, cold (the edits folded from the database) and warm (the fold cached); then single edits
(the dashboard's case), each after the one before.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, T0, median, need, runs_from_args

sys.path.insert(0, str(ROOT))

from curation import edits  # noqa: E402
from curation.ingest import ingest  # noqa: E402
from curation.store import load_records, read_columns  # noqa: E402
from curation.workspace import Workspace  # noqa: E402


def clock(f) -> float:
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def one_run() -> dict:
    folder = Path(tempfile.mkdtemp(prefix="bench-edits-"))
    try:
        ws = Workspace(folder / "ws")
        ingest(ws, T0, name="t0")
        out = {"load, no edits": median([clock(lambda: load_records(ws)) for _ in range(3)])}
        out["bulk fix, dry run"] = clock(lambda: edits.bulk_fix(ws, "strip_end_marker", dry_run=True))
        result = {}
        out["bulk fix"] = clock(lambda: result.update(edits.bulk_fix(ws, "strip_end_marker")))
        out["records changed"] = result["changed"]
        cold = []
        for _ in range(3):
            edits._OVERLAY.clear()
            cold.append(clock(lambda: load_records(ws)))
        out["load, edits folded cold"] = median(cold)
        out["load, fold cached"] = median([clock(lambda: load_records(ws)) for _ in range(3)])
        ids = list(read_columns(ws, ["record_id"])["record_id"].iloc[:5])
        out["single edit"] = median([clock(lambda rid=rid: edits.edit(ws, rid, {"output": "edited"})) for rid in ids])
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    runs = runs_from_args()
    need(T0)
    results = [one_run() for _ in range(runs)]
    print(f"t0: {results[0]['records changed']:,} records changed by strip_end_marker; median of {runs} runs")
    base = median([r["load, no edits"] for r in results])
    for key in results[0]:
        if key == "records changed":
            continue
        values = [r[key] for r in results]
        ratio = f" ({median(values) / base:.2f}x load without edits)" if key.startswith("load") else ""
        print(f"| {key} | {median(values):.2f} s{ratio} | {', '.join(f'{v:.2f}' for v in values)} |")


if __name__ == "__main__":
    main()
