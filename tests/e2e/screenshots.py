"""Refresh the README's screenshots with the browser-test machinery.

    python -m tests.e2e.screenshots

Starts the dashboard on a fresh workspace with the demo dataset, drives it in
headless Chromium and writes docs/screenshots/*.png.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from curation.demo import load_demo
from curation.workspace import Workspace
from tests.e2e.browser import ROOT, browser_page, dashboard, load_path, wait_idle

OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="shots-"))
    with dashboard(root) as url, browser_page(width=1400, height=1100) as page:
        page.goto(url)
        wait_idle(page)
        page.screenshot(path=OUT / "empty.png")
        load_demo(Workspace(root))
        page.goto(url)
        wait_idle(page)
        box = page.get_by_placeholder("words in instruction, input, output or conversation")
        box.fill("router")
        box.press("Enter")
        wait_idle(page)
        page.screenshot(path=OUT / "records.png")
        page.get_by_text("Conversation").scroll_into_view_if_needed()
        wait_idle(page)
        page.screenshot(path=OUT / "record-detail.png")
        page.goto(f"{url}/quality")
        wait_idle(page)
        page.get_by_text("carry at least one flag").wait_for(timeout=60_000)
        page.get_by_role("tab", name="Signals").click()
        wait_idle(page)
        page.locator("[data-testid='stSelectbox']").filter(has_text="Signal").locator("input").fill("refusal")
        page.keyboard.press("Enter")
        wait_idle(page)
        page.screenshot(path=OUT / "quality.png", full_page=True)
        from curation.atlas import build
        from curation.store import load_records

        build(Workspace(root), load_records(Workspace(root)))
        page.goto(f"{url}/map")
        wait_idle(page)
        page.get_by_text("Semantic search").wait_for(timeout=120_000)
        box = page.get_by_placeholder("find records about…")
        box.fill("my wifi keeps dropping")
        box.press("Enter")
        page.get_by_text("Nearest to").wait_for(timeout=60_000)
        wait_idle(page)
        page.screenshot(path=OUT / "map.png")
        from curation.dedup import find

        find(Workspace(root))
        page.goto(f"{url}/duplicates")
        page.get_by_text("Threshold sweep").wait_for(timeout=120_000)
        wait_idle(page)
        page.screenshot(path=OUT / "duplicates.png", full_page=True)
        page.goto(f"{url}/export")
        wait_idle(page)
        page.locator("[data-testid='stSelectbox']").filter(has_text="Template").locator("input").fill("chatml")
        page.keyboard.press("Enter")
        page.get_by_text("Preview").wait_for(timeout=120_000)
        wait_idle(page)
        page.screenshot(path=OUT / "export.png", full_page=True)
        bad = root / "my-data.jsonl"
        bad.write_text('{"instruction": "Name a colour.", "output": "Teal"}\n{"instruction": "cut\n{"question": "q"}\n', encoding="utf-8")
        load_path(page, url, bad)
        page.screenshot(path=OUT / "load.png")
    print(f"wrote {', '.join(p.name for p in sorted(OUT.glob('*.png')))} to {OUT}")


if __name__ == "__main__":
    main()
