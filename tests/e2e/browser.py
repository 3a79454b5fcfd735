"""Shared machinery for real-browser tests and README screenshots.

Starts `streamlit run app.py` on a free localhost port against a given
workspace, and opens Debian's Chromium through Playwright.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dashboard(workspace: Path, timeout: float = 60):
    """A running dashboard; yields its URL. It binds where .streamlit/config.toml says (loopback), as a user's would."""
    port = free_port()
    env = {**os.environ, "CURATION_WORKSPACE": str(workspace)}
    env.pop("STREAMLIT_SERVER_ADDRESS", None)  # the shipped config decides the address
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    raise RuntimeError(f"dashboard did not start:\n{out}") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_timeout(500)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-testid=\"stSkeleton\"]')",
        timeout=timeout,
    )
    page.wait_for_timeout(500)


def load_path(page, url: str, path) -> None:
    """On the Load data page, load a file by its path on the server."""
    page.goto(f"{url}/load")
    wait_idle(page)
    page.get_by_role("tab", name="Path on the server").click()
    box = page.get_by_placeholder("/data/train.jsonl")
    box.fill(str(path))
    box.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Load", exact=True).click()
    wait_idle(page)


def eventually(page, check, timeout: float = 60_000) -> None:
    """Wait until `check()` (a look at the workspace) is true: a click's script run can start after `wait_idle` has
    already seen the page idle on a loaded machine, so what the click writes is awaited, not assumed. Fails with the
    last value when the time runs out."""
    waited, value = 0.0, None
    while waited < timeout:
        value = check()
        if bool(value):  # numpy's True too
            return
        page.wait_for_timeout(250)
        waited += 250
    raise AssertionError(f"still not true after {timeout / 1000:.0f} s: {check.__doc__ or check} (last: {value!r})")
