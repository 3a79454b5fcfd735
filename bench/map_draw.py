"""Time to first draw of a map in Chromium: the fast canvas view (binary points) against Plotly's JSON (issue 18).

    nice -n 10 python bench/map_draw.py [--runs 3]

Writes synthetic maps (Gaussian clusters, labelled, with ~60-character texts) of 20k, 55k and 1M points to Parquet,
starts `streamlit run bench/map_draw_app.py` on each, opens it once to warm the server's cache, then times
`page.goto` until the points are drawn: for the canvas, until its script marks the first frame drawn (all points
written to the pixel buffer and put on the canvas); for Plotly, until its WebGL scatter layer exists (what
bench/map_t0.py waits for). Median of --runs fresh page loads each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT, report, runs_from_args

sys.path.insert(0, str(ROOT))

from tests.e2e.browser import browser_page, free_port  # noqa: E402
from tests.e2e.synthetic_map import synthetic  # noqa: E402


def serve(data: Path, view: str):
    port = free_port()
    env = {**os.environ, "MAP_DRAW_DATA": str(data), "MAP_DRAW_VIEW": view}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "bench/map_draw_app.py", "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false",
                             "--server.fileWatcherType", "none", "--server.maxMessageSize", "1000"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not start")


def drawn_frame(page):
    for frame in page.frames:
        if "map_canvas" in frame.url:
            return frame
    return None


def time_draw(page, url: str, view: str) -> float:
    start = time.perf_counter()
    page.goto(url)
    if view == "plotly":
        page.wait_for_selector("[data-testid='stPlotlyChart'] .scatterlayer, [data-testid='stPlotlyChart'] canvas", timeout=300_000)
    else:
        deadline = time.time() + 300
        while time.time() < deadline:
            frame = drawn_frame(page)
            if frame is not None and frame.query_selector("canvas#points[data-drawn]") is not None:
                break
            page.wait_for_timeout(20)
        else:
            raise RuntimeError("the canvas was never drawn")
    return time.perf_counter() - start


def main() -> None:
    runs = runs_from_args(3)
    out = Path(tempfile.mkdtemp(prefix="bench-mapdraw-"))
    rows = []
    for n, views in ((20_000, ("plotly", "fast")), (55_000, ("plotly", "fast")), (1_000_000, ("fast",))):
        data = out / f"map{n}.parquet"
        synthetic(n).to_parquet(data)
        for view in views:
            proc, url = serve(data, view)
            try:
                with browser_page() as page:
                    time_draw(page, url, view)  # warm: the server reads and caches the points
                    times = [time_draw(page, url, view) for _ in range(runs)]
            finally:
                proc.terminate()
                proc.wait(10)
            name = {"plotly": "Plotly (today's Map view, per-point JSON)", "fast": "fast canvas (binary arrays)"}[view]
            rows.append((f"{n:,} points, {name}", times))
            print(rows[-1], flush=True)
    report(f"Map drawing: time to first draw in headless Chromium, {runs} page loads each", rows,
           "Targets: 1M points ≤ 5 s, 55k ≤ 2 s.")
    shutil.rmtree(out)  # the synthetic maps it wrote


if __name__ == "__main__":
    main()
