"""Opening the Records page on a workspace holding the 55k t0 records.

    python bench/records_page_t0.py [--runs 3]

Ingests t0 once, starts `streamlit run app.py`, then for each run opens the
page in headless Chromium and times until the table and the match count are
on screen. The first open of a fresh server reads the Parquet parts (cold);
later opens hit the cache (warm).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, T0, median, need, report, runs_from_args

sys.path.insert(0, str(ROOT))

from curation.ingest import ingest  # noqa: E402
from curation.workspace import Workspace  # noqa: E402
from tests.e2e.browser import browser_page, dashboard, wait_idle  # noqa: E402


def open_page(page, url: str) -> float:
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("text=records match", timeout=60_000)
    page.wait_for_selector("[data-testid='stDataFrame']", timeout=60_000)
    elapsed = time.perf_counter() - start
    wait_idle(page)
    return elapsed


def main() -> None:
    runs = runs_from_args()
    need(T0)
    root = Path(tempfile.mkdtemp(prefix="bench-page-"))
    ingest(Workspace(root), T0)
    cold, warm = [], []
    for _ in range(runs):
        with dashboard(root) as url, browser_page() as page:
            cold.append(open_page(page, url))
            warm.append(open_page(page, url))
    report(f"Records page on t0 (55,185 records), {runs} runs",
           [("first open after server start (cold)", cold), ("open again (cached)", warm)],
           f"target: under 3 s to first table; cold median {median(cold):.2f} s")


if __name__ == "__main__":
    main()
