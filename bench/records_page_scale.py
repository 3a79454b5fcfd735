"""The Records page's query path at scale (issue 18), timed with the library functions it calls.

    nice -n 10 python -m bench.records_page_scale /tmp/scale-ws/1000000 [--runs 3]

Cold: read the record parts and join decisions (`curation.store.read_records` + `annotate(stages=("decisions",))`,
what `ui.data.records` caches), then join every cached column (`annotate` with the cached signals/map/dedup,
what `ui.data.with_cached_columns` does). Warm (every rerun of the page): the flag options, `Filter.apply`
with no filter, a decision filter, a flag filter and a text search, then `query.page` for the first page
and one page deep in the results. Peak RSS of the process is printed at the end.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

from curation.annotated import ANNOTATIONS, annotate, find_duplicates, find_map, find_signals
from curation.query import Filter, page
from curation.store import read_records
from curation.workspace import Workspace


def clock(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workspace")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    ws = Workspace(args.workspace)
    frame, t_read = clock(lambda: annotate(ws, read_records(ws), stages=("decisions",)))
    print(f"records: {len(frame):,}; read parts + decisions (cold, cached after): {t_read:.2f} s")

    def cached_columns():
        known = {"signals": find_signals(ws)}
        known["map"] = find_map(ws, frame)
        known["dedup"] = find_duplicates(ws, frame, known={"signals": known["signals"]})
        return annotate(ws, frame, stages=ANNOTATIONS, known=known)

    full, t_join = clock(cached_columns)
    print(f"join cached signals/map/dedup columns (cold, cached after): {t_join:.2f} s; columns {len(full.columns)}")
    code = None
    if "flags" in full:
        codes, t = clock(lambda: sorted({c for flags in full["flags"] for c in flags}))
        print(f"flag options: {t:.2f} s ({len(codes)} codes)")
        code = codes[0] if codes else None
    filters = {"no filter": Filter(), "decision=undecided": Filter(decisions=("undecided",)),
               "search 'photosynthesis'": Filter(search="photosynthesis")}
    if code:
        filters[f"flag {code}"] = Filter(flags=(code,))
    for name, flt in filters.items():
        times = []
        for _ in range(args.runs):
            def filtered_page(flt=flt):
                matching = flt.apply(full)
                first = page(matching, 50, 0)
                deep = page(matching, 50, max(len(matching) - 100, 0))
                return matching, first, deep
            (matching, _, _), t = clock(filtered_page)
            times.append(t)
        print(f"filter + page, {name}: median {statistics.median(times):.2f} s "
              f"({', '.join(f'{t:.2f}' for t in times)}); {len(matching):,} match")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
