"""The Records, Review and Quality pages at scale (issue 18), timed with the library functions they call and as
whole page reruns.

    nice -n 10 python -m bench.records_page_scale /tmp/scale-ws/1000000 [--runs 3]
    nice -n 10 python -m bench.records_page_scale /tmp/scale-ws/1000000 --pages [--keys 5] [--profile FILE]

Library path (default). Cold: read the record parts and join decisions (`curation.store.read_records` +
`annotate(stages=("decisions",))`), then join every cached column (`annotate` with the cached signals/map/dedup).
Warm: the flag options, `Filter.apply` with no filter, a decision filter, a flag filter and a text search, then
`query.page` for the first page and one page deep in the results.

Pages (`--pages`): the real page scripts through `streamlit.testing.v1.AppTest` on a copy of nothing (it decides in
the workspace given: use a copy), each step one rerun as the browser would ask for it: the Records page's first load
(cold caches), a rerun, a keep, a decision filter, a text search, the next page; the Review page opened on a flag's
queue and several keys (keep, next, skip, reject); the Quality page after a decision. `--profile FILE` writes a
cProfile of the warm steps. Peak RSS of the process is printed at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

from curation.annotated import ANNOTATIONS, annotate, find_duplicates, find_map, find_signals
from curation.query import Filter, page
from curation.store import read_records
from curation.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]


def clock(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def library_path(ws: Workspace, runs: int) -> None:
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
        for _ in range(runs):
            def filtered_page(flt=flt):
                matching = flt.apply(full)
                first = page(matching, 50, 0)
                deep = page(matching, 50, max(len(matching) - 100, 0))
                return matching, first, deep
            (matching, _, _), t = clock(filtered_page)
            times.append(t)
        print(f"filter + page, {name}: median {statistics.median(times):.2f} s "
              f"({', '.join(f'{t:.2f}' for t in times)}); {len(matching):,} match")


class Pages:
    """The dashboard in an AppTest, each step timed as one rerun; fails loudly when a page shows an error."""

    def __init__(self, root: str):
        from streamlit.testing.v1 import AppTest

        os.environ["CURATION_WORKSPACE"] = root
        os.chdir(ROOT)
        self.app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=1800)
        self.rows: list[tuple[str, float, str]] = []

    def step(self, name: str, action) -> float:
        start = time.perf_counter()
        action(self.app)
        took = time.perf_counter() - start
        app = self.app
        if app.exception or app.error:
            problems = [e.value for e in app.exception] + [e.value for e in app.error]
            raise SystemExit(f"{name}: the page failed: {problems}")
        caption = next((c.value for c in app.caption if " records match" in c.value), "")
        self.rows.append((name, took, caption))
        print(f"{name:<42} {took:7.2f} s  {caption}", flush=True)
        return took

    def widget(self, kind: str, key: str):
        return getattr(self.app, kind)(key=key)


def profiled_pages():
    """A profiler of every page's code from now on (pages run in the script runner's thread: `ui.layout.run` is wrapped)."""
    import cProfile

    from ui import layout

    profiler, run = cProfile.Profile(), layout.run

    def profiled(main):
        profiler.enable()
        try:
            run(main)
        finally:
            profiler.disable()

    layout.run = profiled
    return profiler


def review_keys(p: Pages, rounds: int, queue: str = "flag queue") -> None:
    """Rounds of keep, next, skip, reject on the Review page (a key whose button is disabled, at the queue's end, is left out)."""
    for i in range(rounds):
        for action in ("keep", "next", "skip", "reject"):
            if p.app.button(key=f"review_{action}").disabled:
                continue
            p.step(f"review ({queue}): key {action} ({i + 1})", lambda a, action=action: a.button(key=f"review_{action}").click().run())


def page_reruns(root: str, keys: int, profile: str | None) -> None:
    from ui import state
    from ui.state import widget_key as W

    p = Pages(root)
    p.step("records: first load (cold caches)", lambda a: a.run())
    p.step("records: rerun, nothing changed", lambda a: a.run())
    profiler = profiled_pages() if profile else None
    for i in range(keys):
        p.step(f"records: keep the record shown ({i + 1})", lambda a: a.button(key="one_keep").click().run())
    p.step("records: decision filter = undecided", lambda a: a.multiselect(key=W(state.DECISIONS, "records")).set_value(
        ["undecided"]).run())
    p.step("records: decision filter cleared", lambda a: a.multiselect(key=W(state.DECISIONS, "records")).set_value([]).run())
    p.step("records: search 'photosynthesis'", lambda a: a.text_input(key=W(state.SEARCH, "records")).input("photosynthesis").run())
    p.step("records: search cleared", lambda a: a.text_input(key=W(state.SEARCH, "records")).input("").run())
    p.step("records: next page", lambda a: a.number_input(key=W(state.PAGE, "records")).increment().run())
    p.step("review: open the page", lambda a: a.switch_page("pages/review.py").run())
    flags = [o for o in p.app.selectbox(key="w.review.start").options if o.startswith("flag ")]
    if flags:
        p.step(f"review: choose queue '{flags[0]}'", lambda a: a.selectbox(key="w.review.start").set_value(flags[0]).run())
        p.step("review: open the queue", lambda a: a.button(key="review_start").click().run())
        p.app.switch_page("pages/review.py")  # AppTest stays where it was switched last; st.switch_page went to Review
        review_keys(p, keys)
    p.step("records: back to the page", lambda a: a.switch_page("pages/records.py").run())
    p.step("records: decision filter = undecided", lambda a: a.multiselect(key=W(state.DECISIONS, "records")).set_value(
        ["undecided"]).run())
    p.step("records: review these (all undecided)", lambda a: a.button(key="review_matching").click().run())
    p.app.switch_page("pages/review.py")
    review_keys(p, keys, "undecided queue")
    p.app.switch_page("pages/records.py").run().multiselect(key=W(state.DECISIONS, "records")).set_value([]).run()
    p.step("quality: open the page", lambda a: a.switch_page("pages/quality.py").run())
    p.step("quality: rerun, nothing changed", lambda a: a.run())
    p.step("records: back to the page", lambda a: a.switch_page("pages/records.py").run())
    p.step("records: keep the record shown", lambda a: a.button(key="one_keep").click().run())
    if profiler is not None:
        profiler.dump_stats(profile)
        print(f"profile of the warm steps: {profile}")
    print("\n| step | seconds |\n|---|---:|")
    for name, took, _ in p.rows:
        print(f"| {name} | {took:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workspace")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pages", action="store_true", help="time whole page reruns (AppTest); decides in the workspace")
    ap.add_argument("--keys", type=int, default=3, help="with --pages: decisions on Records and rounds of Review keys")
    ap.add_argument("--profile", help="with --pages: write a cProfile of the warm steps here")
    args = ap.parse_args()
    if args.pages:
        page_reruns(str(Path(args.workspace).resolve()), args.keys, args.profile)
    else:
        library_path(Workspace(args.workspace), args.runs)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
