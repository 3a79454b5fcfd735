"""The Map page's fast view in real headless Chromium (issue 18): a 100k-point map draws on a canvas from binary
arrays served by the dashboard itself (no other host is asked for anything), hover shows a record's text as text,
and a box selection on the canvas is rejected through the page's usual actions."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from curation.decisions import live_states
from curation.workspace import Workspace
from tests.e2e.browser import wait_idle
from tests.e2e.synthetic_map import synthetic_workspace

pytestmark = pytest.mark.e2e
N = 100_000


def canvas_frame(page):
    page.wait_for_selector("iframe[title*='map_canvas']", timeout=120_000)
    for _ in range(600):
        for frame in page.frames:
            if "map_canvas" in frame.url and frame.query_selector("canvas#points[data-drawn]"):
                return frame
        page.wait_for_timeout(100)
    raise AssertionError("the map canvas never drew")


def test_a_100k_point_map_draws_hovers_and_a_box_selection_is_rejected(served):
    url, page, ws = served
    synthetic_workspace(ws, N)
    foreign = []
    # What the map's own frame asks for: only the dashboard (Streamlit's page itself may fetch its icon font elsewhere).
    page.on("request", lambda r: foreign.append(r.url) if "map_canvas" in r.frame.url and not r.url.startswith(url) else None)
    page.goto(f"{url}/map")
    frame = canvas_frame(page)
    expect(page.get_by_text(f"Fast view: {N:,} points")).to_be_visible(timeout=30_000)
    assert frame.evaluate("() => document.querySelector('canvas#points').dataset.drawn") == str(N)
    coloured = frame.evaluate("""() => {
        const c = document.querySelector('canvas#points'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250) n++; return n; }""")
    assert coloured > 5_000  # points drawn, not a blank canvas

    # Hover: the nearest record's text, as text (its <b> stays two characters long, never an element).
    frame.wait_for_function("() => document.body.dataset.textsMs", timeout=60_000)
    canvas = frame.locator("canvas#over").bounding_box()  # in the page's coordinates (Playwright adds the iframe's place)
    left, top = canvas["x"], canvas["y"]
    x, y = frame.evaluate("() => window.mapCanvas.screenOf(0)")
    page.mouse.move(left + x, top + y)
    tip = frame.locator("#tip")
    expect(tip).to_be_visible(timeout=10_000)
    assert re.search(r"<b>.* #\d+", tip.inner_text()) and tip.locator("b").count() == 0

    # Pan by dragging: the moves show the last drawing moved (no full redraw of 100k points per move), then the
    # points are drawn again where they now are.
    draws = int(frame.evaluate("() => document.body.dataset.draws"))
    before = frame.evaluate("() => window.mapCanvas.screenOf(0)")
    page.mouse.move(left + canvas["width"] / 2, top + canvas["height"] / 2)
    page.mouse.down()
    page.mouse.move(left + canvas["width"] / 2 + 80, top + canvas["height"] / 2 + 40, steps=8)
    page.mouse.up()
    frame.wait_for_function(f"() => Number(document.body.dataset.draws) > {draws}", timeout=10_000)
    assert int(frame.evaluate("() => document.body.dataset.previews || 0")) >= 4
    after = frame.evaluate("() => window.mapCanvas.screenOf(0)")
    assert abs(after[0] - before[0] - 80) < 2 and abs(after[1] - before[1] - 40) < 2

    # Box selection over the middle of the map, then the page's own Reject action.
    frame.get_by_role("button", name="Box").click()
    w, h = canvas["width"], canvas["height"]
    page.mouse.move(left + w * 0.3, top + h * 0.3)
    page.mouse.down()
    page.mouse.move(left + w * 0.7, top + h * 0.7, steps=6)
    page.mouse.up()
    wait_idle(page)
    heading = page.get_by_text("selected on the map")
    expect(heading).to_be_visible(timeout=60_000)
    n = int(heading.inner_text().split()[0].replace(",", ""))
    assert 0 < n < N
    page.get_by_role("button", name=f"Reject {n:,}").click()
    expect(page.get_by_text(f"reject {n:,} record(s)").first).to_be_visible(timeout=120_000)  # the Undo line names it
    wait_idle(page)
    assert (live_states(Workspace(ws))["decision"] == "reject").sum() == n
    assert foreign == []  # drawn offline: the map's frame fetched nothing from a CDN or any other host
