"""The Records and Review pages in real Chromium on a big workspace (issue 18: they stay interactive at 1M records).

    nice -n 10 python -m bench.pages_1m_browser /tmp/ui1m/1m --shots /tmp/ui1m/shots [--keys 4]

Starts `streamlit run app.py` on the workspace (it decides there: use a copy), opens headless Chromium and times, from
the action to the end of the rerun it causes (Streamlit's running indicator gone): the Records page's first load (cold
caches) and a reload (a new session, warm caches), a decision filter, a text search, the next page, a keep; the Review
page opened on the first flag's queue and several keys (K keep, N next, S skip, X reject). A screenshot after each step
goes to --shots. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.browser import browser_page, dashboard

RUNNING = "[data-testid='stStatusWidget']"
LONG = 1800_000  # ms: a first load at 1M reads and joins every record


def settled(page, timeout: float = LONG, started: bool = False) -> None:
    """Wait for the rerun an action started to end (`started`: a change on the page showed it ran; else its running
    indicator is waited for a moment first)."""
    if not started:
        try:
            page.wait_for_selector(RUNNING, state="attached", timeout=1500)
        except Exception:  # noqa: BLE001 - a rerun shorter than the poll: nothing to wait for
            pass
    page.wait_for_function("() => !document.querySelector(\"[data-testid='stStatusWidget']\")"
                           " && !document.querySelector(\"[data-testid='stSkeleton']\")", timeout=timeout)
    page.wait_for_timeout(200)


class Steps:
    def __init__(self, page, shots: Path | None):
        self.page, self.shots, self.rows = page, shots, []

    def time(self, name: str, action, check=None, shown=None) -> float:
        """`shown`: reads what the action changes on the page; the step ends once it changed and the run ended."""
        before = shown() if shown is not None else None
        start = time.perf_counter()
        action()
        if shown is not None:
            while shown() == before and time.perf_counter() - start < LONG / 1000:
                self.page.wait_for_timeout(20)
        settled(self.page, started=shown is not None)
        if check is not None:
            check()
        took = time.perf_counter() - start
        self.rows.append((name, took))
        print(f"{name:<45} {took:7.2f} s", flush=True)
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            self.page.screenshot(path=str(self.shots / f"{len(self.rows):02d}-{slug}.png"), full_page=False)
        return took


def caption(page) -> str:
    return page.get_by_text(re.compile(r"of [0-9,]+ records match$")).first.inner_text()


def records_steps(s: Steps, url: str) -> None:
    page = s.page
    s.time("records: first load (cold caches)", lambda: page.goto(url, timeout=LONG),
           lambda: expect(page.get_by_text(re.compile(r"of [0-9,]+ records match$"))).to_be_visible(timeout=LONG))
    print("   ", caption(page))
    s.time("records: reload (new session, warm caches)", lambda: page.reload(timeout=LONG),
           lambda: expect(page.get_by_text(re.compile(r"of [0-9,]+ records match$"))).to_be_visible(timeout=LONG))

    def decision_filter():
        page.locator("[data-testid='stMultiSelect']").filter(has_text="Decision").locator("input").fill("undecided")
        page.keyboard.press("Enter")

    s.time("records: decision filter = undecided", decision_filter, shown=lambda: caption(page) + str(page.get_by_text(
        "undecided", exact=True).count()))
    print("   ", caption(page))
    page.reload(timeout=LONG)
    settled(page)

    def search():
        box = page.get_by_placeholder("words in instruction, input, output or conversation")
        box.fill("photosynthesis")
        box.press("Enter")

    s.time("records: search 'photosynthesis'", search, shown=lambda: caption(page))
    print("   ", caption(page))
    page.reload(timeout=LONG)
    settled(page)
    s.time("records: next page", lambda: page.locator("[data-testid='stNumberInput']").filter(has_text="Page")
           .get_by_test_id("stNumberInputStepUp").click())
    s.time("records: keep the record shown", lambda: page.get_by_role("button", name="Keep", exact=True).click(),
           lambda: expect(page.get_by_text("Decision: keep")).to_be_visible(timeout=LONG))
    print("   ", caption(page))


def review_steps(s: Steps, url: str, keys: int) -> None:
    page = s.page
    s.time("review: open the page", lambda: page.goto(f"{url}/review", timeout=LONG))
    s.time("review: open the first queue offered", lambda: page.get_by_role("button", name=re.compile(r"^Open \(")).click(),
           lambda: expect(page.get_by_text(re.compile(r"Record 1 of"))).to_be_visible(timeout=LONG))
    page.evaluate("document.activeElement && document.activeElement.blur()")  # no text box has the cursor: keys work
    def where():
        return page.get_by_text(re.compile(r"^(Record \d|End of the queue)")).first.inner_text()

    for i in range(keys):
        for key, name in (("k", "keep"), ("n", "next"), ("s", "skip"), ("x", "reject")):
            s.time(f"review: key {key.upper()} ({name}) {i + 1}", lambda key=key: page.keyboard.press(key), shown=where)
    print("   ", where())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workspace")
    ap.add_argument("--shots", type=Path)
    ap.add_argument("--keys", type=int, default=3)
    args = ap.parse_args()
    with dashboard(Path(args.workspace).resolve(), timeout=120) as url, browser_page() as page:
        page.set_default_timeout(LONG)
        s = Steps(page, args.shots)
        records_steps(s, url)
        review_steps(s, url, args.keys)
    print("\n| step | seconds |\n|---|---:|")
    for name, took in s.rows:
        print(f"| {name} | {took:.2f} |")


if __name__ == "__main__":
    main()
